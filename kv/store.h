// KvStore: kvd's data on RocksDB (DIR/kv), laid out by token so that a token range is a
// contiguous scan — what streaming a range to a new owner and dropping a released one need.
//
// Layout: a data record's RocksDB key is 'd' + the key's token (8 bytes, big-endian) + the key
// bytes, its value encode_record(); 'm' keys hold the format version. Tokens come from the
// ring's partitioner (RingSnapshot::partitioner()), so the store orders keys as the ring does.
// Tombstones are dropped by a compaction filter once older than `tombstone_grace_ms` and, with
// `tombstones_wait_for_repair`, only once an anti-entropy cycle that started after them completed
// (set_repaired_before_ms; docs/kvd.md, "Deletes").
//
// Thread-safe: any thread may call any method. merge() is atomic per key (striped locks around
// read-compare-write), so concurrent writers and a stream merging into the same key keep the
// last-write-wins winner.
//   auto store = KvStore::open({.path = dir / "kv", .partitioner = &ring->partitioner()});
//   (*store)->merge("user:42", Record{.stamp = clock.now(), .value = "v"});
//   auto rec = (*store)->get("user:42");       // Result<optional<Record>>
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kv/record.h"
#include "ringkeeper/ring/partitioner.h"
#include "ringkeeper/ring/types.h"
#include "ringkeeper/status.h"

namespace rocksdb {
class DB;
}

namespace ringkeeper::kv {

class KvStore {
 public:
  struct Options {
    std::string path;                                   // the RocksDB directory (created)
    const Partitioner* partitioner = &default_partitioner();
    int64_t tombstone_grace_ms = 3600 * 1000;           // tombstones live at least this long
    std::function<int64_t()> wall_ms;                   // empty: the system clock
    // Keep every tombstone newer than the last set_repaired_before_ms() too (kvd with
    // anti-entropy on): a replica that missed the delete gets it from a repair first.
    bool tombstones_wait_for_repair = false;
  };
  // One record met by scan().
  struct Entry {
    std::string key;
    Token token;
    Record record;
    std::string position;  // where a later scan resumes (pass as `after`)
  };
  // kDataDirRefused when the directory holds no kv store of a format this build reads, or is
  // locked by another process; kIoError for other RocksDB failures.
  static Result<std::unique_ptr<KvStore>> open(Options options);
  ~KvStore();

  Token token_of(std::string_view key) const { return options_.partitioner->token_of(key); }
  // The record held for `key`, tombstones included; nullopt when none.
  Result<std::optional<Record>> get(std::string_view key) const;
  // Keeps `r` if it supersedes what is held (or nothing is): true when it was stored.
  Result<bool> merge(std::string_view key, const Record& r);
  // Calls `f` for each record whose token lies in `range`, in storage order, starting after
  // `after` (an Entry::position; empty: from the start), until `f` returns false.
  Status scan(TokenRange range, std::string_view after, const std::function<bool(Entry&&)>& f) const;
  // Deletes every record whose token lies in `range` (tombstones included).
  Status drop_range(TokenRange range);
  // Deletes the record held for `key` if it is still `expected` and `still_wanted()` holds, both
  // decided under the key's lock (so no merge() of the key slips in between): true when deleted.
  // The outside collector's delete, after `expected` reached every natural replica.
  Result<bool> erase_if(std::string_view key, const Record& expected, const std::function<bool()>& still_wanted);
  // Compacts everything now (tests: applies tombstone collection at once).
  Status compact();
  // Anti-entropy finished a cycle that started at `wall_ms`: every range this node replicates
  // was compared with (and repaired against) every replica. Tombstones stamped before it may go.
  void set_repaired_before_ms(int64_t wall_ms) { repaired_before_ms_.store(wall_ms); }
  int64_t repaired_before_ms() const { return repaired_before_ms_.load(); }
  // Records currently stored (RocksDB's estimate).
  uint64_t estimated_keys() const;

  static std::string data_key(Token t, std::string_view key);

 private:
  explicit KvStore(Options options);
  std::mutex& lock_for(std::string_view key);

  Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<struct TombstoneFilter> filter_;
  std::array<std::mutex, 64> stripes_;
  std::atomic<int64_t> repaired_before_ms_{0};
};

}  // namespace ringkeeper::kv
