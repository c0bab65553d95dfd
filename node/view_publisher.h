// ViewPublisher: what readers on any thread see of the node — an immutable PublishedView (ring
// snapshot, router, liveness map) replaced whole after every event that changed the ring, a
// liveness or the member count — and the subscribers told of each change (its SubscriberList).
// publish() runs on the node thread only, and so do the subscriber callbacks (in subscription
// order); current() and subscribing may be called from any thread and hold a lock only for a
// pointer or map update; a Subscription's thread rules are in ringkeeper/subscription.h.
//   auto view = publisher.current();                    // shared_ptr<const PublishedView>, or null
//   Subscription s = publisher.subscribers().on_ring_change([](const RingChange& c) { ... });
//   s.reset();                                          // or let it go
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gossip/engine.h"
#include "node/runtime_log.h"
#include "ringkeeper/node.h"
#include "ringkeeper/subscription.h"

namespace ringkeeper {

// The ring and liveness callbacks of one node. Shared with the Subscriptions it hands out only
// weakly, so a Subscription may outlive it. The node thread calls notify_*; any thread subscribes
// and unsubscribes. `calling_` is held by the node thread while it calls callbacks: unsubscribing
// on another thread takes it to wait out a running call; on the node thread (inside a callback)
// it is recursive, so it never waits for itself.
class SubscriberList : public std::enable_shared_from_this<SubscriberList> {
 public:
  // Any thread. Make the list with std::make_shared: the Subscriptions refer to it weakly.
  Subscription on_ring_change(Node::RingListener f);
  Subscription on_liveness_change(Node::LivenessListener f);
  Subscription on_ownership(Node::OwnershipListener f);
  // Any thread; what Subscription::reset() calls. Unknown ids are ignored.
  void unsubscribe(uint64_t id);

  // Node thread. Each callback subscribed when the call starts and still subscribed when its turn
  // comes, in subscription order.
  bool has_ring_listeners() const;
  void notify_ring(const RingChange& change);
  void notify_liveness(const std::vector<std::pair<NodeId, PeerLiveness>>& changes);
  void notify_ownership(const OwnershipEvent& event);
  // Node thread: true while an ownership callback runs (Node::acknowledge_ranges then queues).
  bool delivering_ownership() const { return delivering_ownership_ > 0; }

 private:
  template <class F>
  using Subs = std::map<uint64_t, std::shared_ptr<const F>>;
  template <class F>
  Subscription add(Subs<F>& subs, F f);
  // A copy of `subs` to call outside mu_ (a callback may subscribe or unsubscribe).
  template <class F>
  std::vector<std::pair<uint64_t, std::shared_ptr<const F>>> snapshot(const Subs<F>& subs) const;
  bool subscribed(uint64_t id) const;

  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  Subs<Node::RingListener> ring_;
  Subs<Node::LivenessListener> liveness_;
  Subs<Node::OwnershipListener> ownership_;
  std::recursive_mutex calling_;
  int delivering_ownership_ = 0;  // node thread only
};

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
  ViewPublisher(NodeId self, RuntimeLog& log)
      : self_(self), log_(log), subscribers_(std::make_shared<SubscriberList>()) {}

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
  // Any thread.
  SubscriberList& subscribers() { return *subscribers_; }

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

  const std::shared_ptr<SubscriberList> subscribers_;
};

}  // namespace ringkeeper
