#include "ringkeeper/ring/ring_snapshot.h"

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t on the stack
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <tuple>

namespace ringkeeper {

std::vector<NodeId> ReplicaSet::to_vector() const { return {begin(), end()}; }

bool ReplicaSet::contains(const NodeId& id) const {
  for (const NodeId& r : *this) {
    if (r == id) return true;
  }
  return false;
}

std::string digest_to_hex(uint64_t digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, digest >>= 4) out[i] = kHex[digest & 0xF];
  return out;
}

namespace {

bool participates(NodeStatus s) { return s != NodeStatus::kLeft && s != NodeStatus::kRemoved; }

// Streams fields into XXH3 in a fixed little-endian layout, so digests match across machines.
class DigestWriter {
 public:
  DigestWriter() { XXH3_64bits_reset(&state_); }
  void u8(uint8_t v) { XXH3_64bits_update(&state_, &v, 1); }
  void u64(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    XXH3_64bits_update(&state_, b, 8);
  }
  void str(std::string_view s) {
    u64(s.size());
    XXH3_64bits_update(&state_, s.data(), s.size());
  }
  void tokens(const std::vector<Token>& ts) {
    u64(ts.size());
    for (Token t : ts) u64(t.value());
  }
  uint64_t finish() { return XXH3_64bits_digest(&state_); }

 private:
  XXH3_state_t state_;
};

void sort_unique(std::vector<Token>& ts) {
  if (!std::is_sorted(ts.begin(), ts.end())) std::sort(ts.begin(), ts.end());
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
}

// Tags on a claim entry.
constexpr uint32_t kPendingClaim = 1;  // a MOVING node's new token
constexpr uint32_t kLostClaim = 2;     // lost a conflict

bool established(const TokenEntry& e, const std::vector<RingNode>& nodes) {
  return !(e.tag & kPendingClaim) && owns_current_tokens(nodes[e.node].status);
}

// True if claim a beats claim b under the design's rule: established owners keep their tokens;
// otherwise the earliest HLC stamp, then the lower node id.
bool beats(const TokenEntry& a, const TokenEntry& b, const std::vector<RingNode>& nodes) {
  const bool ea = established(a, nodes), eb = established(b, nodes);
  if (ea != eb) return ea;
  const RingNode& na = nodes[a.node];
  const RingNode& nb = nodes[b.node];
  if (na.stamp != nb.stamp) return na.stamp < nb.stamp;
  return na.id < nb.id;
}

// Every token claim in the cluster, sorted by token, with conflicts resolved: each token ends up
// claimed by one node. Both rings are then read off this one sorted list.
struct ClaimTable {
  BigVector<TokenEntry> sorted;  // (token, node index, tags), sorted by token
  std::vector<LostClaim> lost;

  explicit ClaimTable(const std::vector<RingNode>& nodes) {
    size_t total = 0;
    for (const RingNode& n : nodes) total += n.tokens.size() + n.pending_tokens.size();
    sorted.reserve(total);
    for (uint32_t i = 0; i < nodes.size(); ++i) {
      const RingNode& n = nodes[i];
      if (!participates(n.status)) continue;
      for (Token t : n.tokens) sorted.push_back({t.value(), i, 0});
      for (Token t : n.pending_tokens) sorted.push_back({t.value(), i, kPendingClaim});
    }
    sort_token_entries(sorted);
    for (size_t g = 0; g + 1 < sorted.size();) {
      size_t end = g + 1;
      while (end < sorted.size() && sorted[end].token == sorted[g].token) ++end;
      if (end - g > 1) resolve_group(nodes, g, end);
      g = end;
    }
    std::sort(lost.begin(), lost.end(), [](const LostClaim& a, const LostClaim& b) {
      return std::tie(a.loser, a.token, a.pending) < std::tie(b.loser, b.token, b.pending);
    });
  }

  void resolve_group(const std::vector<RingNode>& nodes, size_t g, size_t end) {
    size_t best = g;
    for (size_t k = g + 1; k < end; ++k) {
      if (beats(sorted[k], sorted[best], nodes)) best = k;
    }
    const uint32_t winner = sorted[best].node;
    for (size_t k = g; k < end; ++k) {
      TokenEntry& c = sorted[k];
      if (c.node == winner) continue;  // a node may claim a token twice (moving in place)
      // A replacement takes over the replaced node's tokens: one holds the old side, one the new.
      if (nodes[c.node].replaces == nodes[winner].id || nodes[winner].replaces == nodes[c.node].id) continue;
      c.tag |= kLostClaim;
      lost.push_back({nodes[c.node].id, nodes[winner].id, Token(c.token), (c.tag & kPendingClaim) != 0});
    }
  }

  // Whether a surviving claim is on one side of its node's change. Old side: owners' current
  // tokens. New side: NORMAL and JOINING tokens, MOVING nodes' new tokens; LEAVING nodes are gone.
  static bool on_side(const TokenEntry& e, const std::vector<RingNode>& nodes, bool new_side) {
    if (e.tag & kLostClaim) return false;
    const bool pending = e.tag & kPendingClaim;
    const NodeStatus st = nodes[e.node].status;
    if (!new_side) return !pending && owns_current_tokens(st);
    if (st == NodeStatus::kMoving) return pending;
    return !pending && (st == NodeStatus::kNormal || st == NodeStatus::kJoining);
  }
};

bool changing(NodeStatus s) {
  return s == NodeStatus::kJoining || s == NodeStatus::kMoving || s == NodeStatus::kLeaving;
}

// The three rings a snapshot reads off the claim table; each node contributes one side of its
// change (a node that is not changing has one side).
enum class RingKind { kRead, kFuture, kAlsoWritten };
bool new_side_in(RingKind kind, const RingNode& n) {
  if (!changing(n.status)) return true;
  switch (kind) {
    case RingKind::kRead: return n.phase >= ChangePhase::kReadNew;
    case RingKind::kFuture: return true;
    case RingKind::kAlsoWritten:  // the side reads do not use while both are written
      switch (n.phase) {
        case ChangePhase::kAnnounce: return false;
        case ChangePhase::kWriteBoth: return true;
        case ChangePhase::kReadNew: return false;
        case ChangePhase::kRelease: return true;
      }
  }
  return true;
}

TokenRing build_ring(const ClaimTable& table, const std::vector<RingNode>& nodes,
                     const ReplicationConfig& config, const LocationIndex& index,
                     const std::vector<NodeLocation>& locations, RingKind kind) {
  std::vector<bool> in_ring(nodes.size(), false);
  std::vector<bool> new_side(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) new_side[i] = new_side_in(kind, nodes[i]);
  auto in = [&](const TokenEntry& e) { return ClaimTable::on_side(e, nodes, new_side[e.node]); };
  size_t count = 0;
  for (const TokenEntry& e : table.sorted) count += in(e);
  BigVector<uint64_t> tokens;
  BigVector<uint32_t> owners;
  tokens.reserve(count);
  owners.reserve(count);
  for (const TokenEntry& e : table.sorted) {
    // A node claiming one token twice (current and pending) appears once.
    if (!in(e) || (!tokens.empty() && tokens.back() == e.token)) continue;
    tokens.push_back(e.token);
    owners.push_back(e.node);
    in_ring[e.node] = true;
  }
  ReplicaPlacer placer(config, index, locations, in_ring);
  return TokenRing::build_sorted(std::move(tokens), std::move(owners), placer);
}

// The ring digest: every participating node's status, location, tokens and phase, byte for byte.
uint64_t ring_digest_of(const std::vector<RingNode>& nodes, const ReplicationConfig& config,
                        const Partitioner& partitioner) {
  DigestWriter w;
  w.str("ringkeeper.ring.v1");
  w.str(config.canonical());
  w.str(partitioner.name());
  for (const RingNode& n : nodes) {
    if (!participates(n.status)) continue;
    w.u64(n.id.hi());
    w.u64(n.id.lo());
    w.u8(static_cast<uint8_t>(n.status));
    w.str(n.dc);
    w.str(n.rack);
    w.tokens(n.tokens);
    w.tokens(n.pending_tokens);
    // Digests of unphased rings (the default phase) stay what they always were.
    if (changing(n.status) && n.phase != ChangePhase::kWriteBoth) w.u8(0x80 | static_cast<uint8_t>(n.phase));
    if (!n.replaces.is_nil()) {
      w.u8(0xA0);
      w.u64(n.replaces.hi());
      w.u64(n.replaces.lo());
    }
  }
  return w.finish();
}

// Placement digest: who will own which token once in-flight changes complete, statuses aside.
// Joiners compare it to know every node has seen every claim, before any of them turns NORMAL.
uint64_t placement_digest_of(const std::vector<RingNode>& nodes, const TokenRing& future,
                             const ReplicationConfig& config, const Partitioner& partitioner) {
  DigestWriter p;
  p.str("ringkeeper.placement.v1");
  p.str(config.canonical());
  p.str(partitioner.name());
  for (uint32_t i = 0; i < future.size(); ++i) {
    const NodeId& owner = nodes[future.owner_at(i)].id;
    p.u64(future.token_at(i).value());
    p.u64(owner.hi());
    p.u64(owner.lo());
  }
  return p.finish();
}

}  // namespace

RingSnapshot::BuildResult RingSnapshot::build(std::vector<NodeDescription> descriptions,
                                              const ReplicationConfig& config, uint64_t version,
                                              const Partitioner& partitioner) {
  BuildResult result;
  std::sort(descriptions.begin(), descriptions.end(),
            [](const NodeDescription& a, const NodeDescription& b) { return a.id < b.id; });
  for (size_t i = 1; i < descriptions.size(); ++i) {
    if (descriptions[i].id == descriptions[i - 1].id) {
      result.error = "node " + descriptions[i].id.to_string() + " described twice";
      return result;
    }
  }
  std::shared_ptr<RingSnapshot> snap(new RingSnapshot());
  snap->version_ = version;
  snap->config_ = config;
  snap->partitioner_ = &partitioner;
  snap->nodes_.reserve(descriptions.size());
  for (auto& d : descriptions) {
    RingNode n{d.id, d.status, std::move(d.dc), std::move(d.rack), std::move(d.tokens),
               std::move(d.pending_tokens), d.stamp, d.phase, d.replaces};
    if (!changing(n.status)) n.phase = ChangePhase::kWriteBoth;  // only a change has a phase
    if (n.status != NodeStatus::kJoining) n.replaces = NodeId();
    sort_unique(n.tokens);
    sort_unique(n.pending_tokens);
    if (n.status != NodeStatus::kMoving) n.pending_tokens.clear();
    if (!participates(n.status)) n.tokens.clear();
    snap->nodes_.push_back(std::move(n));
  }
  ClaimTable table(snap->nodes_);
  for (const LostClaim& l : table.lost) {
    RingNode& n = snap->nodes_[*snap->index_of(l.loser)];
    auto& list = l.pending ? n.pending_tokens : n.tokens;
    list.erase(std::lower_bound(list.begin(), list.end(), l.token));
  }
  result.lost_claims = std::move(table.lost);

  LocationIndex index;
  std::vector<NodeLocation> locations;
  locations.reserve(snap->nodes_.size());
  bool in_flight = false, writes_differ = false;
  for (const RingNode& n : snap->nodes_) {
    locations.push_back(index.locate(n.dc, n.rack));
    if (n.status == NodeStatus::kLeaving || n.status == NodeStatus::kMoving ||
        (n.status == NodeStatus::kJoining && !n.tokens.empty())) {
      in_flight = true;
      writes_differ |= n.phase == ChangePhase::kWriteBoth || n.phase == ChangePhase::kReadNew;
    }
  }
  snap->current_ = build_ring(table, snap->nodes_, config, index, locations, RingKind::kRead);
  if (in_flight) {
    snap->future_ = std::make_unique<TokenRing>(build_ring(table, snap->nodes_, config, index, locations, RingKind::kFuture));
  }
  if (writes_differ) {
    snap->also_written_ =
        std::make_unique<TokenRing>(build_ring(table, snap->nodes_, config, index, locations, RingKind::kAlsoWritten));
  }

  snap->digest_ = ring_digest_of(snap->nodes_, config, partitioner);
  snap->placement_digest_ = placement_digest_of(snap->nodes_, snap->future(), config, partitioner);
  result.snapshot = std::move(snap);
  return result;
}

std::shared_ptr<const RingSnapshot> RingSnapshot::empty(const ReplicationConfig& config) {
  return build({}, config).snapshot;
}

std::string RingSnapshot::digest_hex() const { return digest_to_hex(digest_); }

double RingSnapshot::balance() const {
  const auto own = ownership();
  double sum = 0, mx = 0;
  size_t n = 0;
  for (size_t i = 0; i < own.size(); ++i) {
    if (nodes_[i].tokens.empty()) continue;
    sum += own[i];
    mx = std::max(mx, own[i]);
    ++n;
  }
  return n == 0 ? 0.0 : mx / (sum / static_cast<double>(n));
}

const RingNode* RingSnapshot::find(const NodeId& id) const {
  auto idx = index_of(id);
  return idx ? &nodes_[*idx] : nullptr;
}

std::optional<uint32_t> RingSnapshot::index_of(const NodeId& id) const {
  auto it = std::lower_bound(nodes_.begin(), nodes_.end(), id,
                             [](const RingNode& n, const NodeId& v) { return n.id < v; });
  if (it == nodes_.end() || it->id != id) return std::nullopt;
  return static_cast<uint32_t>(it - nodes_.begin());
}

ReplicaSet RingSnapshot::natural_replicas(Token t) const {
  if (current_.empty()) return ReplicaSet({}, nodes_.data());
  return ReplicaSet(current_.replicas(current_.range_index(t)), nodes_.data());
}

std::vector<NodeId> RingSnapshot::pending_replicas(Token t) const {
  std::vector<NodeId> out;
  if (!also_written_ || also_written_->empty()) return out;
  ReplicaSet now = natural_replicas(t);
  for (uint32_t idx : also_written_->replicas(also_written_->range_index(t))) {
    if (!now.contains(nodes_[idx].id)) out.push_back(nodes_[idx].id);
  }
  return out;
}

std::vector<NodeId> RingSnapshot::write_targets(Token t) const {
  std::vector<NodeId> out = natural_replicas(t).to_vector();
  for (const NodeId& id : pending_replicas(t)) out.push_back(id);
  return out;
}

}  // namespace ringkeeper
