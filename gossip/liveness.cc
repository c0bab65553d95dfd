#include "gossip/liveness.h"

#include <algorithm>
#include <cmath>

#include "gossip/hash.h"

namespace ringkeeper::gossip {

std::string_view to_string(PeerLiveness l) {
  switch (l) {
    case PeerLiveness::kUnknown: return "unknown";
    case PeerLiveness::kUp: return "up";
    case PeerLiveness::kSuspect: return "suspect";
    case PeerLiveness::kDown: return "down";
  }
  return "unknown";
}

namespace {
PeerLiveness view_of(Liveness l) {
  switch (l) {
    case Liveness::kUp: return PeerLiveness::kUp;
    case Liveness::kSuspect: return PeerLiveness::kSuspect;
    case Liveness::kDown: return PeerLiveness::kDown;
  }
  return PeerLiveness::kUnknown;
}
}  // namespace

namespace {
uint64_t down_hash(const LivenessRecord& r) {
  return mix64(r.node.hi() ^ mix64(r.node.lo() ^ mix64(r.generation.value() ^ mix64(r.incarnation.value()))));
}
}  // namespace

void LivenessTable::set(Entry& e, const LivenessRecord& r, PeerLiveness view) {
  ++changes_;
  if (e.view == PeerLiveness::kDown) {
    down_digest_ ^= down_hash(e.record);
    --down_count_;
  }
  e.record = r;
  e.view = view;
  if (e.view == PeerLiveness::kDown) {
    down_digest_ ^= down_hash(e.record);
    ++down_count_;
  }
}

std::vector<LivenessRecord> LivenessTable::down_records(size_t limit, size_t start) const {
  std::vector<LivenessRecord> all;
  if (down_count_ == 0 || limit == 0) return all;
  all.reserve(down_count_);
  entries_.for_each([&](const NodeId&, const Entry& e) {
    if (e.view == PeerLiveness::kDown) all.push_back(e.record);
  });
  std::rotate(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(start % all.size()), all.end());
  all.resize(std::min(limit, all.size()));
  return all;
}

void LivenessTable::set_self_generation(Generation generation) {
  self_record_ = {self_, generation, Incarnation{}, Liveness::kUp};
}

PeerLiveness LivenessTable::view(const NodeId& id) const {
  if (id == self_) return PeerLiveness::kUp;
  const Entry* e = entries_.find(id);
  return e ? e->view : PeerLiveness::kUnknown;
}

const LivenessRecord* LivenessTable::record(const NodeId& id) const {
  const Entry* e = entries_.find(id);
  return e ? &e->record : nullptr;
}

void LivenessTable::heard(const NodeId& id) {
  if (id == self_) return;
  Entry& e = entries_[id];
  if (e.view == PeerLiveness::kUnknown) {
    LivenessRecord r = e.record;
    r.node = id;
    set(e, r, view_of(r.state));
  }
}

void LivenessTable::on_generation(const NodeId& id, Generation generation, Millis) {
  if (id == self_) return;
  Entry* found = entries_.find(id);
  if (!found) return;
  Entry& e = *found;
  if (generation > e.record.generation) {
    // It restarted: whatever we believed about its old life no longer applies.
    set(e, {id, generation, Incarnation{}, Liveness::kUp}, PeerLiveness::kUp);
    e.confirmations = 0;
    suspects_.erase(std::remove(suspects_.begin(), suspects_.end(), id), suspects_.end());
  }
}

Millis LivenessTable::suspicion_timeout(size_t confirmations, size_t cluster_size) const {
  const double n = std::max<double>(10.0, static_cast<double>(cluster_size));
  const double min = timings_.suspicion_min_mult * std::log10(n) * timings_.probe_interval;
  const double max = min * timings_.suspicion_max_mult;
  const double k = timings_.confirmations;
  const double frac = std::log(static_cast<double>(confirmations) + 1) / std::log(k + 1);
  return static_cast<Millis>(std::max(min, max - (max - min) * std::min(1.0, frac)));
}

void LivenessTable::enqueue(const LivenessRecord& r) {
  rumors_.erase(std::remove_if(rumors_.begin(), rumors_.end(),
                               [&](const Rumor& q) { return q.record.node == r.node; }),
                rumors_.end());
  rumors_.push_back({r, 0});
  fresh_.push_back(r);
}

void LivenessTable::refute(Incarnation incarnation) {
  self_record_.incarnation = std::max(self_record_.incarnation, incarnation).next();
  self_record_.state = Liveness::kUp;
  enqueue(self_record_);
}

bool LivenessTable::apply(const LivenessRecord& rumor, const NodeId& source, Millis now) {
  if (rumor.node == self_) {
    if (rumor.generation == self_record_.generation && rumor.state != Liveness::kUp &&
        rumor.incarnation >= self_record_.incarnation) {
      refute(rumor.incarnation);
      return true;
    }
    return false;
  }
  // A "down" relayed by a third party is a belief, not evidence: it must not outrank this node's
  // own view of a peer it may well reach (healing a partition hands each side the other's
  // verdicts). It starts a suspicion here instead — at its shortest timeout, as if confirmed — and
  // this node's own direct checks decide: a live peer refutes, a dead one is marked down here.
  // The node's own announcement of its shutdown (source == subject) stays immediate.
  LivenessRecord r = rumor;
  const bool relayed_down = r.state == Liveness::kDown && source != self_ && source != r.node;
  if (relayed_down) r.state = Liveness::kSuspect;
  Entry& e = entries_[r.node];
  if (e.view == PeerLiveness::kUnknown && e.record.node.is_nil()) e.record.node = r.node;
  const bool newer = r.supersedes(e.record) || e.view == PeerLiveness::kUnknown;
  if (!newer) {
    if (relayed_down && e.view == PeerLiveness::kSuspect && e.record == r) {
      e.confirmations = std::max(e.confirmations, timings_.confirmations);
    }
    return false;
  }
  if (r.generation < e.record.generation) return false;  // a stale life
  const bool was_suspect = e.view == PeerLiveness::kSuspect;
  if (r.state == Liveness::kDown && e.view != PeerLiveness::kDown) marked_down_.push_back(r);
  set(e, r, view_of(r.state));
  e.confirmations = source == self_ ? 1 : relayed_down ? timings_.confirmations : 0;
  if (r.state == Liveness::kSuspect) {
    e.suspect_since = now;
    if (!was_suspect) suspects_.push_back(r.node);
  } else {
    suspects_.erase(std::remove(suspects_.begin(), suspects_.end(), r.node), suspects_.end());
  }
  enqueue(r);
  return true;
}

bool LivenessTable::suspect(const NodeId& id, Generation generation, Millis now) {
  const Entry* e = entries_.find(id);
  LivenessRecord r{id, generation, Incarnation{}, Liveness::kUp};
  if (e && e->record.generation >= generation) r = e->record;
  r.node = id;
  if (r.state != Liveness::kUp) return false;  // already suspect or down
  r.state = Liveness::kSuspect;
  return apply(r, self_, now);
}

void LivenessTable::expire(Millis now, size_t cluster_size) {
  std::vector<NodeId> due;
  for (const NodeId& id : suspects_) {
    const Entry& e = *entries_.find(id);
    if (now >= e.suspect_since + suspicion_timeout(e.confirmations, cluster_size)) due.push_back(id);
  }
  for (const NodeId& id : due) mark_down(id);
}

bool LivenessTable::mark_down(const NodeId& id) {
  Entry* e = entries_.find(id);
  if (!e || e->view != PeerLiveness::kSuspect) return false;
  LivenessRecord r = e->record;
  r.state = Liveness::kDown;
  set(*e, r, PeerLiveness::kDown);
  e->confirmations = 0;
  marked_down_.push_back(r);
  enqueue(r);
  suspects_.erase(std::remove(suspects_.begin(), suspects_.end(), id), suspects_.end());
  return true;
}

void LivenessTable::confirm(const NodeId& id) {
  Entry* e = entries_.find(id);
  if (e && e->view == PeerLiveness::kSuspect) ++e->confirmations;
}

std::optional<NodeId> LivenessTable::suspect_to_check() {
  if (suspects_.empty()) return std::nullopt;
  return suspects_[next_check_++ % suspects_.size()];
}

void LivenessTable::restart_suspicions(Millis now) {
  for (const NodeId& id : suspects_) entries_[id].suspect_since = now;
}

std::optional<Millis> LivenessTable::next_expiry(size_t cluster_size) const {
  std::optional<Millis> out;
  for (const NodeId& id : suspects_) {
    const Entry& e = *entries_.find(id);
    const Millis at = e.suspect_since + suspicion_timeout(e.confirmations, cluster_size);
    if (!out || at < *out) out = at;
  }
  return out;
}

std::vector<LivenessRecord> LivenessTable::take_rumors(size_t cluster_size) {
  std::vector<LivenessRecord> out;
  if (rumors_.empty()) return out;
  const uint32_t limit = static_cast<uint32_t>(
      timings_.retransmit_mult * std::log10(static_cast<double>(cluster_size) + 1) + 1);
  std::stable_sort(rumors_.begin(), rumors_.end(),
                   [](const Rumor& a, const Rumor& b) { return a.sent < b.sent; });
  for (Rumor& q : rumors_) {
    if (out.size() >= timings_.rumors_per_message) break;
    out.push_back(q.record);
    ++q.sent;
  }
  rumors_.erase(std::remove_if(rumors_.begin(), rumors_.end(),
                               [&](const Rumor& q) { return q.sent >= limit; }),
                rumors_.end());
  return out;
}

std::vector<LivenessRecord> LivenessTable::take_fresh() {
  std::vector<LivenessRecord> out;
  out.swap(fresh_);
  return out;
}

size_t LivenessTable::count(PeerLiveness l) const {
  size_t n = 0;
  entries_.for_each([&](const NodeId&, const Entry& e) { n += e.view == l; });
  return n;
}

}  // namespace ringkeeper::gossip
