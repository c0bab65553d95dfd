// EntryView (gossip/entry_view.h): an entry's well-known values decoded once, and the ring's
// description of a node made from it.
#include "gossip/entry_view.h"

#include <algorithm>
#include <charconv>

namespace ringkeeper::gossip {

namespace {

const std::string* value_of(const NodeState& st, std::string_view key) {
  const VersionedValue* v = st.get(key);
  return v ? &v->value : nullptr;
}

// A decimal prefix, as the epoch and wire values have always been read (trailing text ignored).
template <class T>
std::optional<T> decimal_prefix(const std::string& text) {
  T n = 0;
  if (std::from_chars(text.data(), text.data() + text.size(), n).ec != std::errc()) return std::nullopt;
  return n;
}

}  // namespace

std::optional<HlcStamp> decode_stamp(std::string_view text) {
  const auto n = decode_decimal(text);
  return n ? std::optional<HlcStamp>(HlcStamp{*n}) : std::nullopt;
}

RingEpoch epoch_of(const NodeState& st) {
  const std::string* e = st.is_tombstone() ? nullptr : value_of(st, keys::kEpoch);
  return RingEpoch{e ? decimal_prefix<uint64_t>(*e).value_or(0) : 0};
}

EntryView EntryView::read(const NodeState& st) {
  EntryView v;
  v.generation = st.generation;
  v.max_version = st.max_version;
  v.tombstone = st.is_tombstone();
  if (const std::string* s = value_of(st, keys::kStatus)) {
    v.status_text = *s;
    v.status = parse_node_status(*s);
  }
  if (const std::string* t = value_of(st, keys::kTokens)) {
    v.has_claim = !t->empty();
    if (auto tokens = parse_token_list(*t)) {
      v.tokens = std::move(*tokens);
    } else {
      v.problem = Status::invalid_argument("tokens: not a token list");
    }
  }
  if (const std::string* t = value_of(st, keys::kMovingTo)) {
    v.moving_to = parse_token_list(*t).value_or(std::vector<Token>{});
  }
  if (const std::string* s = value_of(st, keys::kStamp)) {
    v.has_stamp = true;
    const auto stamp = decode_stamp(*s);
    v.stamp = stamp.value_or(HlcStamp{UINT64_MAX});
    if (!stamp && v.problem.ok()) v.problem = Status::invalid_argument("stamp: not a decimal number");
  }
  v.epoch = epoch_of(st);
  if (const std::string* c = value_of(st, keys::kChange)) v.change = ChangeRecord::parse(*c);
  if (const std::string* s = value_of(st, keys::kDc)) v.dc = *s;
  if (const std::string* s = value_of(st, keys::kRack)) v.rack = *s;
  if (const std::string* s = value_of(st, keys::kAddress)) v.address = *s;
  if (const std::string* s = value_of(st, keys::kRingDigest)) v.ring_digest = *s;
  if (const std::string* s = value_of(st, keys::kWire)) v.wire = decimal_prefix<uint32_t>(*s);
  return v;
}

Result<EntryView> EntryView::decode(const NodeState& st) {
  EntryView v = read(st);
  if (!v.problem.ok()) return v.problem;
  return v;
}

std::optional<NodeDescription> describe_entry(const NodeId& id, EntryView v,
                                              std::optional<ChangeRecord>* on_behalf) {
  if (!v.status) return std::nullopt;
  NodeDescription d;
  d.id = id;
  d.status = v.tombstone ? NodeStatus::kRemoved : *v.status;
  d.tokens = std::move(v.tokens);
  d.pending_tokens = std::move(v.moving_to);
  // A joiner routes as announce (as before it) until its join change moves it on: its claim
  // stage, and a join waiting for another change to end, add nothing to anyone's reads or writes
  // (two changes routing past announce at once could leave a reader's owner unwritten).
  if (d.status == NodeStatus::kJoining) d.phase = ChangePhase::kAnnounce;
  if (const auto& c = v.change; c && !v.tombstone && in_flight(c->step)) {
    if (!c->on_behalf() || c->kind == ChangeKind::kReplace) d.phase = phase_of(c->step);
    if (c->on_behalf() && on_behalf) *on_behalf = c;
  }
  if (v.dc) d.dc = std::string(*v.dc);
  if (v.rack) d.rack = std::string(*v.rack);
  if (v.has_stamp) d.stamp = v.stamp;
  return d;
}

std::optional<NodeDescription> describe_entry(const NodeId& id, const NodeState& st,
                                              std::optional<ChangeRecord>* on_behalf) {
  return describe_entry(id, EntryView::read(st), on_behalf);
}

void apply_on_behalf(std::vector<NodeDescription>& nodes, std::vector<std::pair<NodeId, ChangeRecord>> changes) {
  std::sort(changes.begin(), changes.end(),
            [](const auto& a, const auto& b) { return a.second.precedes(b.second); });
  std::vector<NodeId> applied;
  auto find = [&](const NodeId& id) -> NodeDescription* {
    for (NodeDescription& d : nodes) {
      if (d.id == id) return &d;
    }
    return nullptr;
  };
  for (const auto& [coordinator, c] : changes) {
    if (std::find(applied.begin(), applied.end(), c.subject) != applied.end()) continue;
    applied.push_back(c.subject);
    NodeDescription* d = find(c.subject);
    if (!d || d->status == NodeStatus::kLeft || d->status == NodeStatus::kRemoved) continue;
    d->status = NodeStatus::kLeaving;  // its ranges go to their next owners, phase by phase
    d->pending_tokens.clear();
    d->phase = phase_of(c.step);
    if (c.kind == ChangeKind::kReplace) {
      if (NodeDescription* r = find(coordinator)) r->replaces = c.subject;  // takes over its tokens
    }
  }
}

}  // namespace ringkeeper::gossip
