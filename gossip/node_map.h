// NodeMap: NodeId → V, open addressing with linear probing and no erase. Every message looks up
// its sender's liveness; std::unordered_map's node-per-entry layout made those lookups a quarter
// of the simulator's time. Not thread-safe; one owner.
//   NodeMap<Entry> m;  m[id].view = ...;  if (Entry* e = m.find(id)) ...
#pragma once

#include <cstddef>
#include <vector>

#include "gossip/hash.h"
#include "ringkeeper/ring/types.h"

namespace ringkeeper::gossip {

template <class V>
class NodeMap {
 public:
  size_t size() const { return size_; }

  V* find(const NodeId& id) {
    if (slots_.empty()) return nullptr;
    for (size_t i = home(id);; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == id) return &s.value;
    }
  }
  const V* find(const NodeId& id) const { return const_cast<NodeMap*>(this)->find(id); }

  // The value for id, default-constructed on first use.
  V& operator[](const NodeId& id) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    for (size_t i = home(id);; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (!s.used) {
        s.used = true;
        s.key = id;
        ++size_;
        return s.value;
      }
      if (s.key == id) return s.value;
    }
  }

  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.used) f(s.key, s.value);
    }
  }

 private:
  struct Slot {
    NodeId key;
    bool used = false;
    V value{};
  };
  size_t mask() const { return slots_.size() - 1; }
  size_t home(const NodeId& id) const { return mix64(id.hi() ^ mix64(id.lo())) & mask(); }
  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.empty() ? 16 : old.size() * 2);
    size_ = 0;
    for (Slot& s : old) {
      if (s.used) (*this)[s.key] = std::move(s.value);
    }
  }

  std::vector<Slot> slots_;  // size is a power of two (or zero)
  size_t size_ = 0;
};

}  // namespace ringkeeper::gossip
