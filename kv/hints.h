// HintStore: writes a coordinator could not deliver to an unreachable natural replica, kept on
// disk (RocksDB, DIR/kv/hints) until that replica is back and takes them (hinted handoff).
// Bounded: past `max_hints` a new hint is refused (counted; the replica then relies on read
// repair). Hints never count toward a write's W: they only hasten recovery (docs/kvd.md).
//
// Layout: key = the target's node id (16 bytes) + a sequence number (8 bytes, big-endian), value
// = key length (4 bytes) + key + encode_record(). Thread-safe: any method from any thread.
//   auto hints = HintStore::open({.path = dir / "kv" / "hints"});
//   (*hints)->add(replica, "user:42", record);
//   for (auto& h : *(*hints)->peek(replica, 100)) if (deliver(h)) (*hints)->remove(h.id);
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kv/record.h"
#include "ringkeeper/ring/types.h"
#include "ringkeeper/status.h"

namespace rocksdb {
class DB;
}

namespace ringkeeper::kv {

class HintStore {
 public:
  struct Options {
    std::string path;
    uint64_t max_hints = 100'000;
  };
  struct Hint {
    std::string id;  // the storage key, for remove()
    std::string key;
    Record record;
  };
  static Result<std::unique_ptr<HintStore>> open(Options options);
  ~HintStore();

  // Keeps a hint for `target`; false (nothing kept) when the store holds max_hints already.
  Result<bool> add(const NodeId& target, std::string_view key, const Record& r);
  // Up to `limit` hints for `target`, oldest first.
  Result<std::vector<Hint>> peek(const NodeId& target, size_t limit) const;
  // The nodes that have hints waiting.
  std::vector<NodeId> targets() const;
  Status remove(const std::string& id);
  uint64_t count() const { return count_.load(); }

 private:
  explicit HintStore(Options o);
  Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<uint64_t> next_seq_{1};
  std::atomic<uint64_t> count_{0};
};

}  // namespace ringkeeper::kv
