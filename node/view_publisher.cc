// ViewPublisher (node/view_publisher.h): the immutable view readers copy, and its subscribers.
#include "node/view_publisher.h"

#include <algorithm>
#include <vector>

namespace ringkeeper {

void ViewPublisher::add_member(PublishedView& v, const NodeId& nid, const gossip::NodeState& st, PeerLiveness liveness) const {
  if (st.is_tombstone()) return;
  Member m;
  m.id = nid;
  m.self = nid == self_;
  m.liveness = liveness;
  m.generation = st.generation;
  if (const gossip::VersionedValue* a = st.get(gossip::keys::kAddress)) m.address = a->value;
  if (const RingNode* rn = v.ring->find(nid)) {
    m.status = rn->status;
    m.dc = rn->dc;
    m.rack = rn->rack;
  }
  v.addresses[nid] = m.address;
  v.members.push_back(std::move(m));
}

void ViewPublisher::sort_members(PublishedView& v) {
  std::sort(v.members.begin(), v.members.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
}

void ViewPublisher::publish(gossip::GossipEngine& engine) {
  auto ring = engine.ring();
  const gossip::ClusterState& st = engine.state();
  // Most messages change neither the ring, nor anyone's liveness, nor the member count: skip the
  // O(N) rebuild for them.
  const uint64_t liveness_changes = engine.liveness_table().changes();
  const uint64_t summary = st.summary();
  if (view_ && view_->ring == ring && liveness_changes == published_liveness_changes_ &&
      st.size() == published_members_ && summary == published_summary_) {
    return;
  }
  published_liveness_changes_ = liveness_changes;
  published_members_ = st.size();
  published_summary_ = summary;
  std::unordered_map<NodeId, PeerLiveness> live;
  live.reserve(st.size());
  for (size_t i = 0; i < st.size(); ++i) {
    const NodeId& nid = st.id_at(i);
    live[nid] = nid == self_ ? PeerLiveness::kUp : engine.liveness(nid);
  }
  auto old = current();
  auto v = std::make_shared<PublishedView>();
  v->ring = ring;
  v->liveness = std::move(live);
  v->converged = engine.converged();
  for (size_t i = 0; i < st.size(); ++i) add_member(*v, st.id_at(i), st.state_at(i), v->liveness[st.id_at(i)]);
  sort_members(*v);
  if (old && old->ring == ring && old->liveness == v->liveness && old->addresses == v->addresses &&
      old->converged == v->converged && old->members.size() == v->members.size()) {
    return;
  }
  const auto& lv = v->liveness;
  v->router = std::make_shared<Router>(ring, [&lv](const NodeId& nid) {
    auto it = lv.find(nid);
    return it == lv.end() || (it->second != PeerLiveness::kSuspect && it->second != PeerLiveness::kDown);
  });
  {
    std::lock_guard lock(view_mu_);
    view_ = v;
  }
  notify(old.get(), *v);
}

void ViewPublisher::publish_persisted(const std::vector<std::pair<NodeId, gossip::NodeState>>& entries,
                                      const ReplicationConfig& replication) {
  std::vector<NodeDescription> nodes;
  uint64_t version = 0;
  auto v = std::make_shared<PublishedView>();
  for (const auto& [nid, st] : entries) version = std::max(version, gossip::epoch_of(st));
  nodes = gossip::describe_entries([&](auto&& f) {
    for (const auto& [nid, st] : entries) f(nid, st);
  });
  auto built = RingSnapshot::build(std::move(nodes), replication, version);
  v->ring = built.snapshot ? built.snapshot : RingSnapshot::empty(replication);
  for (const auto& [nid, st] : entries) {
    const PeerLiveness l = nid == self_ ? PeerLiveness::kUp : PeerLiveness::kUnknown;
    v->liveness[nid] = l;
    add_member(*v, nid, st, l);
  }
  sort_members(*v);
  v->router = std::make_shared<Router>(v->ring, [](const NodeId&) { return true; });
  std::lock_guard lock(view_mu_);
  view_ = v;
}

void ViewPublisher::notify(const PublishedView* old, const PublishedView& now) {
  // Copies, so a callback may subscribe or unsubscribe without deadlocking.
  std::vector<Node::RingListener> rl;
  std::vector<Node::LivenessListener> ll;
  {
    std::lock_guard lock(subs_mu_);
    for (auto& [_, f] : ring_subs_) rl.push_back(f);
    for (auto& [_, f] : liveness_subs_) ll.push_back(f);
  }
  if (!old) return;
  if (old->ring != now.ring && old->ring->digest() != now.ring->digest()) {
    log_.info("ring {} -> {}", old->ring->digest_hex(), now.ring->digest_hex());
    if (!rl.empty()) {
      RingChange change{old->ring, now.ring, diff_snapshots(*old->ring, *now.ring)};
      for (auto& f : rl) f(change);
    }
  }
  for (const auto& [nid, l] : now.liveness) {
    auto it = old->liveness.find(nid);
    const PeerLiveness before = it == old->liveness.end() ? PeerLiveness::kUnknown : it->second;
    if (before == l) continue;
    if (l == PeerLiveness::kDown || before == PeerLiveness::kDown) {
      log_.info("node {} is {}", nid.to_string(), gossip::to_string(l));
    }
    for (auto& f : ll) f(nid, l);
  }
}

uint64_t ViewPublisher::on_ring_change(Node::RingListener f) {
  std::lock_guard lock(subs_mu_);
  const uint64_t s = next_sub_++;
  ring_subs_[s] = std::move(f);
  return s;
}

uint64_t ViewPublisher::on_liveness_change(Node::LivenessListener f) {
  std::lock_guard lock(subs_mu_);
  const uint64_t s = next_sub_++;
  liveness_subs_[s] = std::move(f);
  return s;
}

void ViewPublisher::unsubscribe(uint64_t s) {
  std::lock_guard lock(subs_mu_);
  ring_subs_.erase(s);
  liveness_subs_.erase(s);
}

}  // namespace ringkeeper
