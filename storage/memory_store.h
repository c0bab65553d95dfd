// MemoryStore: a StateStore in memory, for unit tests. FaultyStore: wraps any store and fails
// writes on demand, so tests can check that a node that cannot persist stops instead of
// gossiping state it would lose. Owned by the test (or by the Node it is handed to); like every
// StateStore, not thread-safe: one thread at a time (the node thread once a Node runs on it).
#pragma once

#include <atomic>
#include <map>
#include <utility>

#include "storage/state_store.h"

namespace ringkeeper::storage {

class MemoryStore final : public StateStore {
 public:
  std::optional<std::string> get(RecordKind kind, std::string_view key) override {
    auto it = records_.find({kind, std::string(key)});
    if (it == records_.end()) return std::nullopt;
    return it->second;
  }
  void scan(RecordKind kind, const std::function<void(std::string_view, std::string_view)>& f) override {
    for (auto it = records_.lower_bound({kind, std::string()}); it != records_.end() && it->first.first == kind; ++it) {
      f(it->first.second, it->second);
    }
  }
  void write(const WriteBatch& batch, bool sync) override {
    for (const WriteBatch::Op& op : batch.ops()) {
      if (op.value) {
        records_[{op.kind, op.key}] = *op.value;
      } else {
        records_.erase({op.kind, op.key});
      }
    }
    ++writes_;
    if (sync) ++syncs_;
  }
  size_t writes() const { return writes_; }
  size_t syncs() const { return syncs_; }

 private:
  std::map<std::pair<RecordKind, std::string>, std::string> records_;
  size_t writes_ = 0;
  size_t syncs_ = 0;
};

class FaultyStore final : public StateStore {
 public:
  explicit FaultyStore(StateStore& inner) : inner_(inner) {}
  // The next `n` writes fail (nothing of them lands). Any thread.
  void fail_writes(size_t n) { failing_ = n; }
  std::optional<std::string> get(RecordKind kind, std::string_view key) override { return inner_.get(kind, key); }
  void scan(RecordKind kind, const std::function<void(std::string_view, std::string_view)>& f) override {
    inner_.scan(kind, f);
  }
  void write(const WriteBatch& batch, bool sync) override {
    for (size_t n = failing_.load(); n > 0;) {
      if (failing_.compare_exchange_weak(n, n - 1)) throw StoreError("injected write failure");
    }
    inner_.write(batch, sync);
  }

 private:
  StateStore& inner_;
  std::atomic<size_t> failing_{0};
};

}  // namespace ringkeeper::storage
