// Router: Dynamo's preference list over an immutable snapshot and a liveness view.
// Built per (snapshot, liveness) pair and then only read; any thread.
//   Router router(snapshot, [&](const NodeId& id) { return live.contains(id); });
//   for (const PreferenceEntry& e : router.preference_list("user:42")) send(e.node, e.natural);
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringkeeper/ring/ring_snapshot.h"

namespace ringkeeper {

struct PreferenceEntry {
  NodeId node;
  bool natural;  // a natural replica (true) or a fallback standing in for an unreachable one
  std::string address = {};  // filled by Node::preference_list (the router knows no addresses)
  bool operator==(const PreferenceEntry&) const = default;
};

class Router {
 public:
  using Reachable = std::function<bool(const NodeId&)>;

  Router(std::shared_ptr<const RingSnapshot> snapshot, const Reachable& reachable);

  const RingSnapshot& snapshot() const { return *snapshot_; }
  bool reachable(uint32_t node_index) const { return reachable_[node_index] != 0; }

  // Reachable natural replicas in ring order, then reachable nodes further clockwise as
  // fallbacks, until as many entries as the ring has replicas (or every reachable node is used).
  // Never an unreachable node, never a node twice.
  std::vector<PreferenceEntry> preference_list(Token t) const;
  std::vector<PreferenceEntry> preference_list(std::string_view key) const {
    return preference_list(snapshot_->token_of(key));
  }

 private:
  std::shared_ptr<const RingSnapshot> snapshot_;
  std::vector<uint8_t> reachable_;  // by node index
};

}  // namespace ringkeeper
