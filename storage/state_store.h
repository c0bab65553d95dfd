// StateStore: durable records of one node — its identity (node id, cluster id, generation, format
// version) and the persisted cluster state (every known node's entry, tombstones included) as
// opaque bytes. A leaf module: it knows record kinds and bytes, never the gossip protocol.
// Implementations: RocksStore (on disk), MemoryStore (tests), FaultyStore (injects failures).
// Not thread-safe; the node runtime calls it from its one node thread.
//   auto opened = open_rocks_store(dir);          // storage/rocks_store.h
//   if (!opened.store) { /* refused: opened.error.reason, opened.error.message (one line) */ }
//   WriteBatch b; b.put_meta(meta::kGeneration, "42"); opened.store->write(b, /*sync=*/true);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ringkeeper::storage {

// The on-disk format this build writes, and the oldest it migrates forward on open: a build
// opens data dirs of its own format and of the one before it (rolling upgrades; a data dir two
// formats back goes through an intermediate release). A data dir of a higher format is refused
// and left untouched; nothing is ever migrated backward. Format 1 is the only one so far; the
// first change adds a FormatStep from 1 and raises kFormatVersion.
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kMinFormatVersion = 1;

// Well-known meta records.
namespace meta {
inline constexpr std::string_view kFormat = "format";
inline constexpr std::string_view kNodeId = "node_id";
inline constexpr std::string_view kClusterId = "cluster_id";
inline constexpr std::string_view kClusterName = "cluster_name";
inline constexpr std::string_view kGeneration = "generation";
inline constexpr std::string_view kReplication = "replication";
inline constexpr std::string_view kHlc = "hlc";  // the hybrid logical clock, decimal (restored at start)
}  // namespace meta

enum class RecordKind : uint8_t {
  kMeta = 'm',   // identity and settings, by name
  kEntry = 'e',  // one node's entry in the cluster state, keyed by node id bytes
};

// An atomic group of writes: all land or none do.
class WriteBatch {
 public:
  struct Op {
    RecordKind kind;
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
  };
  void put(RecordKind kind, std::string_view key, std::string value) {
    ops_.push_back({kind, std::string(key), std::move(value)});
  }
  void erase(RecordKind kind, std::string_view key) { ops_.push_back({kind, std::string(key), std::nullopt}); }
  void put_meta(std::string_view key, std::string value) { put(RecordKind::kMeta, key, std::move(value)); }
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }

 private:
  std::vector<Op> ops_;
};

// A write or read the store could not do. The node treats it as fatal for durability.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual std::optional<std::string> get(RecordKind kind, std::string_view key) = 0;
  // Every record of a kind, in key order.
  virtual void scan(RecordKind kind, const std::function<void(std::string_view key, std::string_view value)>& f) = 0;
  // Applies the batch atomically; with `sync`, it is on stable storage when this returns.
  // Throws StoreError.
  virtual void write(const WriteBatch& batch, bool sync) = 0;

  std::optional<std::string> get_meta(std::string_view key) { return get(RecordKind::kMeta, key); }
};

// Why a data dir was refused (ringd exits 3 with `message` on one line).
struct OpenError {
  enum class Reason { kNone, kFutureFormat, kOldFormat, kUnknownFormat, kLocked, kCorrupt, kIo };
  Reason reason = Reason::kNone;
  std::string message;
  std::vector<std::string> migrated;  // with kNone: the migration steps applied, one line each
};
std::string_view to_string(OpenError::Reason r);

// One migration step: adds to `batch` what turns a data dir of format `from` into `from + 1`. The
// batch also carries the new format record and is written with sync, atomically: a crash leaves
// the data dir in one format or the next, and the next open carries on from there.
struct FormatStep {
  uint32_t from = 0;
  std::string what;  // one line for the log
  std::function<void(StateStore&, WriteBatch&)> apply;
};
struct Formats {
  uint32_t current = kFormatVersion;
  uint32_t oldest = kMinFormatVersion;
  std::vector<FormatStep> steps;  // one from each format in [oldest, current)
};
// This build's formats and migration steps.
const Formats& this_builds_formats();

// Checks the format record, migrating an older supported format forward step by step (or, in a
// new store, writes the current one). Shared by every implementation; never throws: whatever the
// store or a migration step throws (a StoreError or not) is kIo, and a failed write leaves the
// data dir in the format it had.
// With `migrate` false it only says whether the data dir could be opened, writing nothing.
OpenError check_format(StateStore& store, const Formats& formats = this_builds_formats(), bool migrate = true);

}  // namespace ringkeeper::storage
