#include "node/ownership.h"

namespace ringkeeper {

std::string_view to_string(OwnershipEvent::Kind kind) {
  switch (kind) {
    case OwnershipEvent::Kind::kPending: return "pending";
    case OwnershipEvent::Kind::kOwned: return "owned";
    case OwnershipEvent::Kind::kReleased: return "released";
    case OwnershipEvent::Kind::kCancelled: return "cancelled";
  }
  return "unknown";
}

void OwnershipTracker::update(gossip::GossipEngine& engine) {
  const auto active = engine.active_change();
  if (followed_ && (!active || active->second.id != followed_->change.id)) finish(engine, engine.ring()->version());
  if (!active) return;
  if (!followed_) followed_ = plan(active->first, active->second, engine);
  advance(engine, active->second.step, engine.ring()->version());
}

namespace {

// The cluster's descriptions with every change but the followed one held at its old side.
std::vector<NodeDescription> only_this_change(const NodeId& coordinator, const gossip::ChangeRecord& change,
                                              gossip::GossipEngine& engine) {
  auto nodes = gossip::describe_entries([&](auto&& f) { engine.state().for_each(f); });
  std::erase_if(nodes, [&](NodeDescription& d) {
    const bool part = d.id == coordinator || (change.on_behalf() && d.id == change.subject);
    if (part) return false;
    d.replaces = NodeId();
    if (d.status == NodeStatus::kJoining) return true;  // not in the ring before its own join
    if (d.status == NodeStatus::kMoving || d.status == NodeStatus::kLeaving) {
      d.status = NodeStatus::kNormal;
      d.pending_tokens.clear();
    }
    return false;
  });
  return nodes;
}

}  // namespace

std::optional<OwnershipTracker::Followed> OwnershipTracker::plan(const NodeId& coordinator,
                                                                 const gossip::ChangeRecord& change,
                                                                 gossip::GossipEngine& engine) const {
  Followed f;
  f.change = change;
  // Two rings over one node table: `after` with the change complete, `before` with it not begun
  // (its nodes at their old side) — the same plan at any step, a restart's included.
  std::vector<NodeDescription> after_nodes = only_this_change(coordinator, change, engine);
  std::vector<NodeDescription> before_nodes = after_nodes;
  for (NodeDescription& d : before_nodes) {
    if (d.id != coordinator && !(change.on_behalf() && d.id == change.subject)) continue;
    d.replaces = NodeId();
    d.phase = ChangePhase::kWriteBoth;
    if (d.status == NodeStatus::kJoining) d.tokens.clear();  // it owned nothing before
    if (d.status == NodeStatus::kMoving || d.status == NodeStatus::kLeaving) {
      d.status = NodeStatus::kNormal;
      d.pending_tokens.clear();
    }
  }
  const auto& config = engine.ring()->config();
  auto after = RingSnapshot::build(std::move(after_nodes), config).snapshot;
  auto before = RingSnapshot::build(std::move(before_nodes), config).snapshot;
  if (!after || !before) return f;  // cannot happen: the engine's own descriptions build
  f.gains = transfers_to(self_, after->nodes(), before->current(), after->future());
  f.gives = ranges_given_up(self_, after->nodes(), before->current(), after->future());
  // Already acknowledged before a restart: its data is in place; no need to stream it again.
  const gossip::NodeState* own = engine.state().find(self_);
  const gossip::VersionedValue* data = own ? own->get(gossip::keys::kData) : nullptr;
  if (data && data->value == change.id.to_string() && change.step >= gossip::ChangeStep::kWriteBoth) f.pending = true;
  return f;
}

void OwnershipTracker::advance(gossip::GossipEngine& engine, gossip::ChangeStep step, uint64_t version) {
  Followed& f = *followed_;
  if (step >= gossip::ChangeStep::kWriteBoth && !f.pending) {
    f.pending = true;
    if (!f.gains.empty()) emit(OwnershipEvent::Kind::kPending, version);
    // Nothing to stream: the data barrier holds for this node at once.
    if (streams_data_ && f.gains.empty()) (void)engine.acknowledge_data(f.change.id);
  }
  if (step >= gossip::ChangeStep::kReadNew && !f.owned) {
    f.owned = true;
    if (!f.gains.empty()) emit(OwnershipEvent::Kind::kOwned, version);
  }
  if (step >= gossip::ChangeStep::kRelease && !f.released) {
    f.released = true;
    if (!f.gives.empty()) emit(OwnershipEvent::Kind::kReleased, version);
  }
}

void OwnershipTracker::finish(gossip::GossipEngine& engine, uint64_t version) {
  std::optional<gossip::ChangeStep> ended;
  engine.state().for_each([&](const NodeId&, const gossip::NodeState& st) {
    const gossip::VersionedValue* v = st.is_tombstone() ? nullptr : st.get(gossip::keys::kChange);
    auto c = v ? gossip::ChangeRecord::parse(v->value) : std::nullopt;
    if (c && c->id == followed_->change.id) ended = c->step;
  });
  if (ended == gossip::ChangeStep::kDone) {
    advance(engine, gossip::ChangeStep::kRelease, version);
  } else if (followed_->pending && !followed_->owned && !followed_->gains.empty()) {
    emit(OwnershipEvent::Kind::kCancelled, version);  // aborted (or its record is gone)
  }
  followed_.reset();
}

void OwnershipTracker::emit(OwnershipEvent::Kind kind, uint64_t version) {
  OwnershipEvent e;
  e.kind = kind;
  e.change = followed_->change.id;
  e.change_kind = std::string(gossip::to_string(followed_->change.kind));
  e.ring_version = version;
  if (kind == OwnershipEvent::Kind::kReleased) {
    e.released = followed_->gives;
  } else {
    e.gained = followed_->gains;
  }
  subscribers_.notify_ownership(e);
}

}  // namespace ringkeeper
