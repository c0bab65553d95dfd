// ViewPublisher: what readers on any thread see of the node — an immutable PublishedView (ring
// snapshot, router, liveness map) replaced whole after every event that changed the ring, a
// liveness or the member count — and the subscribers told of each change. publish() runs on the
// node thread only, and so do the subscriber callbacks (in subscription order); current(),
// subscribe and unsubscribe may be called from any thread and hold a lock only for a pointer or
// map update.
//   auto view = publisher.current();                    // shared_ptr<const PublishedView>, or null
//   uint64_t s = publisher.on_ring_change([](const RingChange& c) { ... });
//   publisher.unsubscribe(s);
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "gossip/engine.h"
#include "node/runtime_log.h"
#include "ringkeeper/node.h"

namespace ringkeeper {

// Replaced whole, never mutated once published.
struct PublishedView {
  std::shared_ptr<const RingSnapshot> ring;
  std::shared_ptr<const Router> router;
  std::unordered_map<NodeId, PeerLiveness> liveness;
  std::vector<Member> members;  // sorted by id, removed nodes excluded
  std::unordered_map<NodeId, std::string> addresses;
  bool converged = false;
};

class ViewPublisher {
 public:
  ViewPublisher(NodeId self, RuntimeLog& log) : self_(self), log_(log) {}

  // Node thread. Publishes the engine's ring and liveness if they changed, then tells the
  // subscribers (ring changes with their RangeDiff, then each liveness change).
  void publish(gossip::GossipEngine& engine);
  // Opener's thread, before start: the view of the persisted state (peers' liveness unknown,
  // which the router treats as reachable), so an embedder routes from disk right after open().
  void publish_persisted(const std::vector<std::pair<NodeId, gossip::NodeState>>& entries,
                         const ReplicationConfig& replication);

  // Any thread. Null until the first publish (Node::start).
  std::shared_ptr<const PublishedView> current() const {
    std::lock_guard lock(view_mu_);
    return view_;
  }
  uint64_t on_ring_change(Node::RingListener f);
  uint64_t on_liveness_change(Node::LivenessListener f);
  // Unknown ids are ignored.
  void unsubscribe(uint64_t subscription);

 private:
  void notify(const PublishedView* old, const PublishedView& now);
  // A member of `v` from its entry (tombstones skipped; v.ring must be set).
  void add_member(PublishedView& v, const NodeId& nid, const gossip::NodeState& st, PeerLiveness liveness) const;
  static void sort_members(PublishedView& v);

  const NodeId self_;
  RuntimeLog& log_;
  // Node thread: what the last rebuild saw, to skip the O(N) rebuild when nothing changed.
  uint64_t published_liveness_changes_ = 0;  // LivenessTable::changes()
  size_t published_members_ = 0;
  uint64_t published_summary_ = 0;  // ClusterState::summary(): addresses, statuses, digests

  mutable std::mutex view_mu_;
  std::shared_ptr<const PublishedView> view_;  // written on the node thread only

  std::mutex subs_mu_;
  uint64_t next_sub_ = 1;
  std::map<uint64_t, Node::RingListener> ring_subs_;
  std::map<uint64_t, Node::LivenessListener> liveness_subs_;
};

}  // namespace ringkeeper
