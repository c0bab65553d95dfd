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
  m.generation = st.generation.value();  // the public Member keeps the integer
  // Status, dc and rack come from the ring, which read them once (gossip::EntryView); only the
  // address is read here, without decoding the rest of the entry (its token list above all).
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
  for (const auto& [nid, st] : entries) version = std::max(version, gossip::epoch_of(st).value());
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
  if (!old) return;
  if (old->ring != now.ring && old->ring->digest() != now.ring->digest()) {
    log_.info("ring {} -> {}", old->ring->digest_hex(), now.ring->digest_hex());
    if (subscribers_->has_ring_listeners()) {
      subscribers_->notify_ring(RingChange{old->ring, now.ring, diff_snapshots(*old->ring, *now.ring)});
    }
  }
  std::vector<std::pair<NodeId, PeerLiveness>> changed;
  for (const auto& [nid, l] : now.liveness) {
    auto it = old->liveness.find(nid);
    const PeerLiveness before = it == old->liveness.end() ? PeerLiveness::kUnknown : it->second;
    if (before == l) continue;
    if (l == PeerLiveness::kDown || before == PeerLiveness::kDown) {
      log_.info("node {} is {}", nid.to_string(), gossip::to_string(l));
    }
    changed.emplace_back(nid, l);
  }
  if (!changed.empty()) subscribers_->notify_liveness(changed);
}

// ---- SubscriberList and Subscription ---------------------------------------------------------

template <class F>
Subscription SubscriberList::add(Subs<F>& subs, F f) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_++;
  subs.emplace(id, std::make_shared<const F>(std::move(f)));
  return Subscription(weak_from_this(), id);
}

Subscription SubscriberList::on_ring_change(Node::RingListener f) { return add(ring_, std::move(f)); }
Subscription SubscriberList::on_liveness_change(Node::LivenessListener f) { return add(liveness_, std::move(f)); }
Subscription SubscriberList::on_ownership(Node::OwnershipListener f) { return add(ownership_, std::move(f)); }

void SubscriberList::unsubscribe(uint64_t id) {
  std::shared_ptr<const void> gone;  // the callback, destroyed outside mu_ (its captures may subscribe)
  {
    std::lock_guard lock(mu_);
    if (auto it = ring_.find(id); it != ring_.end()) {
      gone = std::move(it->second);
      ring_.erase(it);
    } else if (auto lt = liveness_.find(id); lt != liveness_.end()) {
      gone = std::move(lt->second);
      liveness_.erase(lt);
    } else if (auto ot = ownership_.find(id); ot != ownership_.end()) {
      gone = std::move(ot->second);
      ownership_.erase(ot);
    }
  }
  // Wait out a call the node thread is making now. On the node thread itself (a callback
  // unsubscribing) the mutex is ours already: no wait, no deadlock.
  std::lock_guard wait(calling_);
}

bool SubscriberList::has_ring_listeners() const {
  std::lock_guard lock(mu_);
  return !ring_.empty();
}

bool SubscriberList::subscribed(uint64_t id) const {
  std::lock_guard lock(mu_);
  return ring_.count(id) > 0 || liveness_.count(id) > 0 || ownership_.count(id) > 0;
}

template <class F>
std::vector<std::pair<uint64_t, std::shared_ptr<const F>>> SubscriberList::snapshot(const Subs<F>& subs) const {
  std::lock_guard lock(mu_);
  return {subs.begin(), subs.end()};
}

void SubscriberList::notify_ring(const RingChange& change) {
  std::lock_guard calling(calling_);
  for (const auto& [id, f] : snapshot(ring_)) {
    if (subscribed(id)) (*f)(change);
  }
}

void SubscriberList::notify_ownership(const OwnershipEvent& event) {
  std::lock_guard calling(calling_);
  ++delivering_ownership_;
  for (const auto& [id, f] : snapshot(ownership_)) {
    if (subscribed(id)) (*f)(event);
  }
  --delivering_ownership_;
}

void SubscriberList::notify_liveness(const std::vector<std::pair<NodeId, PeerLiveness>>& changes) {
  std::lock_guard calling(calling_);
  const auto subs = snapshot(liveness_);
  for (const auto& [nid, l] : changes) {
    for (const auto& [id, f] : subs) {
      if (subscribed(id)) (*f)(nid, l);
    }
  }
}

Subscription::Subscription(Subscription&& other) noexcept
    : list_(std::move(other.list_)), id_(std::exchange(other.id_, 0)) {}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    reset();
    list_ = std::move(other.list_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

Subscription::~Subscription() { reset(); }

void Subscription::reset() {
  if (id_ == 0) return;
  if (std::shared_ptr<SubscriberList> list = list_.lock()) list->unsubscribe(id_);
  list_.reset();
  id_ = 0;
}

}  // namespace ringkeeper
