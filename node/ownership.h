// OwnershipTracker: turns the phased change this node routes by into the embedder's ownership
// events (OwnershipEvent in <ringkeeper/node.h>: pending → owned → released, or cancelled) and
// gives the engine its data acknowledgement when the node has nothing to stream. The Driver calls
// update() on the node thread after every engine event; listeners (Node::on_ownership, kept in
// the node's SubscriberList) run there, in order, and must not block.
//
// What it remembers is only the change it follows (its plan and what it emitted), so a restart
// re-emits the events of a change this node has not acknowledged: the embedder treats events
// idempotently.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "gossip/engine.h"
#include "node/view_publisher.h"
#include "ringkeeper/node.h"

namespace ringkeeper {

class OwnershipTracker {
 public:
  // `streams_data`: the embedder acknowledges ranges itself (NodeConfig::streams_data). Events go
  // to `subscribers` (the node's list, node/view_publisher.h), which outlives the tracker.
  OwnershipTracker(NodeId self, bool streams_data, SubscriberList& subscribers)
      : self_(self), streams_data_(streams_data), subscribers_(subscribers) {}

  // Node thread: follows the engine's active change and emits what its step calls for.
  void update(gossip::GossipEngine& engine);

 private:
  struct Followed {
    gossip::ChangeRecord change;
    std::vector<RangeTransfer> gains;
    std::vector<TokenRange> gives;
    bool pending = false, owned = false, released = false;
  };
  // The plan of `change` for this node: what it gains (with sources) and gives up between the
  // ring without the change and the ring with it complete — computed with only this change
  // moving ranges (every other changing node held at its old side), so a change waiting behind
  // it does not shape it, and the same at any step (a restart mid-change re-derives it).
  std::optional<Followed> plan(const NodeId& coordinator, const gossip::ChangeRecord& change,
                               gossip::GossipEngine& engine) const;
  void advance(gossip::GossipEngine& engine, gossip::ChangeStep step, uint64_t version);
  // The followed change is no longer in flight here: done (emit what is left) or aborted.
  void finish(gossip::GossipEngine& engine, uint64_t version);
  void emit(OwnershipEvent::Kind kind, uint64_t version);

  const NodeId self_;
  const bool streams_data_;
  SubscriberList& subscribers_;
  std::optional<Followed> followed_;
};

}  // namespace ringkeeper
