#include "sim/scenarios.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <set>
#include <string_view>

namespace ringkeeper::sim {

namespace {

using gossip::NodeState;
namespace kind = chaos_kind;

constexpr int kFaultSteps = 40;  // one step is one simulated second
constexpr Millis kStep = 1'000;
constexpr Millis kRemovalGrace = 20'000;  // after the faults, to remove what must be removed
// After heal_all(), for every check to hold. Joins and replaces queued during the faults then run
// their phases one after another: at N = 30 under 15 % loss that took up to 93 s (seed 247).
constexpr Millis kHealDeadline = 120'000;
// The plan's generator must not replay the simulator's (seeded with the same seed), or "fresh"
// tokens would be the very tokens the pre-converged nodes were given.
constexpr uint64_t kPlanSalt = 0xC4A05C4A05C4A05ULL;

using gossip::parse_token_list;

std::string_view value_of(const NodeState* st, std::string_view key) {
  const gossip::VersionedValue* v = st ? st->get(key) : nullptr;
  return v ? std::string_view(v->value) : std::string_view();
}

std::string short_id(const NodeId& id) { return id.to_string().substr(0, 8); }

// The failed checks of one run, each with what it first saw.
class Findings {
 public:
  void add(std::string_view k, std::string detail) {
    for (const auto& [have, _] : items_) {
      if (have == k) return;
    }
    items_.push_back({std::string(k), std::move(detail)});
  }
  bool empty() const { return items_.empty(); }
  bool has(std::string_view k) const {
    return std::any_of(items_.begin(), items_.end(), [&](const auto& item) { return item.first == k; });
  }
  void merge(const Findings& other) {
    for (const auto& [k, d] : other.items_) add(k, d);
  }
  // Kinds in chaos_kind::kAll order, and their details joined.
  void fill(ChaosResult& r) const {
    for (std::string_view k : kind::kAll) {
      for (const auto& [have, detail] : items_) {
        if (have != k) continue;
        r.kinds.push_back(have);
        r.failure += (r.failure.empty() ? "" : "; ") + have + ": " + detail;
      }
    }
    if (!r.kinds.empty()) r.kind = r.kinds.front();
  }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Down marks adopted since the last call, counting those about a running, unstalled node in its
// current life. Marks about an earlier life (a generation before its restart), an id no process
// runs (a wiped node's old id) or a removed node (in `removed`, or a tombstone to the observer)
// are no verdict on a healthy member. With `verbose`, each counted mark is printed on stderr.
uint64_t count_healthy_marks(SimCluster& sim, std::string* first, bool verbose = false,
                             const std::vector<NodeId>& removed = {}) {
  uint64_t count = 0;
  for (size_t i = 0; i < sim.size(); ++i) {
    for (const gossip::LivenessRecord& mark : sim.engine(i).take_marked_down()) {
      const size_t target = sim.index_of(mark.node);
      if (target == sim.size() || target == i || !sim.alive(target) || sim.stalled(target)) continue;
      if (mark.generation < sim.engine(target).config().generation) continue;
      const NodeState* st = sim.engine(i).state().find(mark.node);
      if ((st && st->is_tombstone()) || std::find(removed.begin(), removed.end(), mark.node) != removed.end())
        continue;
      const std::string what = "t=" + std::to_string(sim.now()) + " node " + std::to_string(i) + " marked node " +
                               std::to_string(target) + " (" + short_id(mark.node) + ") down (generation " +
                               mark.generation.to_string() + ", incarnation " +
                               mark.incarnation.to_string() + ")";
      if (count++ == 0 && first) *first = what;
      if (verbose) std::fprintf(stderr, "healthy marked down: %s\n", what.c_str());
    }
  }
  return count;
}

// Who the run must see in the end: nodes that joined during it, and ids it removed.
struct Expectations {
  std::vector<size_t> joiners;  // indices whose current life joined during the run
  std::vector<NodeId> removed;
  std::vector<std::pair<NodeId, size_t>> replaced;  // a dead node's id, the index replacing it
};

bool own_entry_is_tombstone(SimCluster& sim, size_t i) {
  const NodeState* own = sim.engine(i).state().find(sim.engine(i).id());
  return own && own->is_tombstone();
}

// Same state summary and ring digest on every live node.
void check_agreement(SimCluster& sim, Findings& f) {
  std::optional<size_t> first;
  for (size_t i = 0; i < sim.size(); ++i) {
    if (!sim.alive(i)) continue;
    if (!first) {
      first = i;
      continue;
    }
    auto& a = sim.engine(*first);
    auto& b = sim.engine(i);
    if (a.state().summary() != b.state().summary()) {
      f.add(kind::kNotConverged,
            "nodes " + std::to_string(*first) + " and " + std::to_string(i) + " hold different states");
    } else if (a.ring()->digest() != b.ring()->digest()) {
      f.add(kind::kNotConverged,
            "nodes " + std::to_string(*first) + " and " + std::to_string(i) + " route with different rings");
    }
  }
}

// No live node sees another live member (not removed) as suspect or down.
void check_liveness(SimCluster& sim, Findings& f) {
  for (size_t i = 0; i < sim.size(); ++i) {
    if (!sim.alive(i) || own_entry_is_tombstone(sim, i)) continue;
    for (size_t j = 0; j < sim.size(); ++j) {
      if (j == i || !sim.alive(j)) continue;
      const NodeId& id = sim.engine(j).id();
      const NodeState* st = sim.engine(i).state().find(id);
      if (st && st->is_tombstone()) continue;
      const auto view = sim.engine(i).liveness(id);
      if (view == gossip::PeerLiveness::kDown || view == gossip::PeerLiveness::kSuspect) {
        f.add(kind::kStuckDown, "node " + std::to_string(i) + " sees live node " + std::to_string(j) + " as " +
                                    std::string(gossip::to_string(view)));
      }
    }
  }
}

// Each live node's ring: one owner per token, no NORMAL node without tokens, removed ids own
// nothing and are tombstones.
void check_rings(SimCluster& sim, const Expectations& expect, Findings& f) {
  for (size_t i = 0; i < sim.size(); ++i) {
    if (!sim.alive(i)) continue;
    auto ring = sim.engine(i).ring();
    std::vector<std::pair<uint64_t, NodeId>> owners;
    for (const RingNode& n : ring->nodes()) {
      for (Token t : n.tokens) owners.push_back({t.value(), n.id});
      if (n.status == NodeStatus::kNormal && n.tokens.empty()) {
        f.add(kind::kNormalNoTokens,
              "node " + std::to_string(i) + "'s ring: NORMAL node " + short_id(n.id) + " owns no token");
      }
    }
    std::sort(owners.begin(), owners.end());
    for (size_t k = 1; k < owners.size(); ++k) {
      if (owners[k].first == owners[k - 1].first && owners[k].second != owners[k - 1].second) {
        f.add(kind::kTokenTwoOwners, "node " + std::to_string(i) + "'s ring gives token " +
                                         std::to_string(owners[k].first) + " to " +
                                         short_id(owners[k - 1].second) + " and " + short_id(owners[k].second));
      }
    }
    for (const NodeId& gone : expect.removed) {
      const NodeState* st = sim.engine(i).state().find(gone);
      const RingNode* n = ring->find(gone);
      if (!st || !st->is_tombstone()) {
        f.add(kind::kRemovedOwner,
              "node " + std::to_string(i) + " holds removed " + short_id(gone) + " as no tombstone");
      } else if (n && !n->tokens.empty()) {
        f.add(kind::kRemovedOwner, "node " + std::to_string(i) + " still routes to removed " + short_id(gone));
      }
    }
  }
}

// Every live node gossiping NORMAL owns, in every live node's ring, each token it gossips; a
// node whose own entry is a tombstone presents itself as an owner nowhere.
void check_claims(SimCluster& sim, Findings& f) {
  for (size_t x = 0; x < sim.size(); ++x) {
    if (!sim.alive(x)) continue;
    const NodeId& id = sim.engine(x).id();
    const NodeState* own = sim.engine(x).state().find(id);
    if (own && own->is_tombstone()) {
      for (size_t i = 0; i < sim.size(); ++i) {
        if (!sim.alive(i)) continue;
        const RingNode* n = sim.engine(i).ring()->find(id);
        const NodeState* st = sim.engine(i).state().find(id);
        const bool claims = st && !st->is_tombstone() && !value_of(st, gossip::keys::kTokens).empty();
        if ((n && !n->tokens.empty()) || claims) {
          f.add(kind::kZombie, "removed node " + std::to_string(x) + " (" + short_id(id) +
                                   ") is an owner on node " + std::to_string(i));
        }
      }
      continue;
    }
    auto tokens = parse_token_list(value_of(own, gossip::keys::kTokens));
    if (!tokens) {
      f.add(kind::kUnparsableTokens, "node " + std::to_string(x) + " gossips tokens \"" +
                                         std::string(value_of(own, gossip::keys::kTokens)) + "\"");
      continue;
    }
    if (value_of(own, gossip::keys::kStatus) != to_string(NodeStatus::kNormal)) continue;
    if (tokens->empty())
      f.add(kind::kNormalNoTokens, "node " + std::to_string(x) + " gossips NORMAL with no tokens");
    for (size_t i = 0; i < sim.size(); ++i) {
      if (!sim.alive(i)) continue;
      auto ring = sim.engine(i).ring();
      const RingNode* n = ring->find(id);
      for (Token t : *tokens) {
        if (n && std::binary_search(n->tokens.begin(), n->tokens.end(), t)) continue;
        std::string owner = "nobody";
        for (const RingNode& other : ring->nodes()) {
          if (std::binary_search(other.tokens.begin(), other.tokens.end(), t)) owner = short_id(other.id);
        }
        f.add(kind::kLostClaimGossiped, "node " + std::to_string(x) + " gossips NORMAL and token " +
                                            t.to_string() + ", which node " + std::to_string(i) +
                                            "'s ring gives to " + owner);
        break;
      }
    }
  }
}

void check_joiners(SimCluster& sim, const Expectations& expect, Findings& f) {
  for (size_t j : expect.joiners) {
    if (!sim.alive(j)) continue;
    const auto status = sim.engine(j).own_status();
    const auto change = sim.engine(j).own_change();
    const bool left = status == NodeStatus::kLeft && change && change->kind == gossip::ChangeKind::kDecommission;
    if (status != NodeStatus::kNormal && !left) {  // a joiner may have been decommissioned since
      f.add(kind::kJoinerNotNormal,
            "node " + std::to_string(j) + " (" + short_id(sim.engine(j).id()) + ") is " +
                (status ? std::string(to_string(*status)) : std::string("without status")));
    }
  }
}

// A node whose own decommission is done is LEFT and owns nothing in every live node's ring.
void check_left(SimCluster& sim, Findings& f) {
  for (size_t x = 0; x < sim.size(); ++x) {
    if (!sim.alive(x)) continue;
    const auto c = sim.engine(x).own_change();
    if (!c || c->kind != gossip::ChangeKind::kDecommission || c->step != gossip::ChangeStep::kDone) continue;
    for (size_t i = 0; i < sim.size(); ++i) {
      if (!sim.alive(i)) continue;
      const RingNode* n = sim.engine(i).ring()->find(sim.engine(x).id());
      if (n && (!n->tokens.empty() || (n->status != NodeStatus::kLeft && n->status != NodeStatus::kRemoved))) {
        f.add(kind::kLeftOwner, "node " + std::to_string(x) + " decommissioned, but node " + std::to_string(i) +
                                    "'s ring has it " + std::string(to_string(n->status)) + " with " +
                                    std::to_string(n->tokens.size()) + " tokens");
      }
    }
  }
}

// A replaced node is a tombstone everywhere; its replacement owns its tokens.
void check_replaced(SimCluster& sim, const Expectations& expect, Findings& f) {
  for (const auto& [old_id, r] : expect.replaced) {
    if (!sim.alive(r)) continue;
    for (size_t i = 0; i < sim.size(); ++i) {
      if (!sim.alive(i)) continue;
      const NodeState* st = sim.engine(i).state().find(old_id);
      const RingNode* n = sim.engine(i).ring()->find(sim.engine(r).id());
      if (!st || !st->is_tombstone() || !n || n->tokens.empty()) {
        f.add(kind::kReplaceIncomplete, "node " + std::to_string(i) + ": " + short_id(old_id) +
                                            (st && st->is_tombstone() ? " removed" : " not removed") +
                                            ", replacement node " + std::to_string(r) + " owns " +
                                            std::to_string(n ? n->tokens.size() : 0) + " tokens");
        break;
      }
    }
  }
}

// Everything but liveness (see ChaosRun::heal).
Findings check_end_state(SimCluster& sim, const Expectations& expect) {
  Findings f;
  check_agreement(sim, f);
  check_rings(sim, expect, f);
  check_claims(sim, f);
  check_joiners(sim, expect, f);
  check_left(sim, f);
  check_replaced(sim, expect, f);
  return f;
}

// Where node `viewer` sees change `c` of `coordinator` as routing goes: 0 before it (or rolled
// back: aborted routes as before), 1..3 write_both..release, 4 done (routes as after). A record
// of another change of that coordinator counts as before or after by its stamp.
int routing_step(SimCluster& sim, size_t viewer, const NodeId& coordinator, const gossip::ChangeRecord& c) {
  const NodeState* st = sim.engine(viewer).state().find(coordinator);
  const auto* v = st && !st->is_tombstone() ? st->get(gossip::keys::kChange) : nullptr;
  const auto seen = v ? gossip::ChangeRecord::parse(v->value) : std::nullopt;
  if (!seen) return st && st->is_tombstone() ? 4 : 0;
  if (seen->id != c.id) return seen->stamp > c.stamp ? 4 : 0;
  if (seen->step == gossip::ChangeStep::kAborted) return 0;
  return std::min(static_cast<int>(seen->step), 4);
}

// The phase invariants at one instant, over the live nodes in `eligible`: for each change in
// flight anywhere, the steps members route by span at most two adjacent ones; and for each probe
// token, every member's write targets hold every owner any member reads from.
void sample_phases(SimCluster& sim, const std::vector<size_t>& eligible, const std::vector<Token>& probes,
                   Findings& f) {
  std::vector<std::pair<NodeId, gossip::ChangeRecord>> changes;
  for (size_t i : eligible) {
    if (auto a = sim.engine(i).active_change()) {
      bool known = false;
      for (const auto& c : changes) known |= c.second.id == a->second.id;
      if (!known) changes.push_back(*a);
    }
  }
  for (const auto& [coordinator, c] : changes) {
    int lo = 5, hi = -1;
    for (size_t i : eligible) {
      const int step = routing_step(sim, i, coordinator, c);
      lo = std::min(lo, step);
      hi = std::max(hi, step);
    }
    if (hi - lo > 1) {
      f.add(kind::kPhaseSpan, "t=" + std::to_string(sim.now()) + ": change " + short_id(c.id) + " (" +
                                  std::string(gossip::to_string(c.kind)) + ") routed at steps " + std::to_string(lo) +
                                  " and " + std::to_string(hi));
      if (std::getenv("RINGSIM_DEBUG")) {
        for (size_t i : eligible) {
          const NodeState* st = sim.engine(i).state().find(coordinator);
          const auto* v = st && !st->is_tombstone() ? st->get(gossip::keys::kChange) : nullptr;
          std::fprintf(stderr, "  node %zu routes at %d; record '%s'\n", i, routing_step(sim, i, coordinator, c),
                       v ? v->value.c_str() : "-");
        }
      }
    }
  }
  for (Token t : probes) {
    std::vector<NodeId> reads;
    for (size_t i : eligible) {
      for (const NodeId& n : sim.engine(i).ring()->natural_replicas(t)) {
        if (std::find(reads.begin(), reads.end(), n) == reads.end()) reads.push_back(n);
      }
    }
    for (size_t i : eligible) {
      const auto w = sim.engine(i).ring()->write_targets(t);
      for (const NodeId& r : reads) {
        if (std::find(w.begin(), w.end(), r) != w.end()) continue;
        std::string who;
        for (size_t j : eligible) {
          if (sim.engine(j).ring()->natural_replicas(t).contains(r)) who += " " + std::to_string(j);
        }
        std::string views;
        for (size_t j : eligible) {
          std::string v;
          for (const RingNode& n : sim.engine(j).ring()->nodes()) {
            if (n.status != NodeStatus::kNormal) {
              v += short_id(n.id) + ":" + std::string(to_string(n.status)).substr(0, 2) + std::to_string(static_cast<int>(n.phase)) + " ";
            }
          }
          views += "\n    node " + std::to_string(j) + ": " + v;
        }
        f.add(kind::kUnwrittenReader, "t=" + std::to_string(sim.now()) + ": node " + std::to_string(i) +
                                          " does not write token " + t.to_string() + " to " + short_id(r) +
                                          ", which node(s)" + who + " read from" + (std::getenv("RINGSIM_DEBUG") ? views : ""));
        return;
      }
    }
  }
}

// One chaos run: plans its faults and changes from the seed, applies them one simulated second at
// a time, resolves every crash before the heal, then waits for the checks to hold.
class ChaosRun {
 public:
  ChaosRun(uint64_t seed, size_t nodes)
      : nodes_(nodes),
        rng_(seed ^ kPlanSalt),
        debug_(std::getenv("RINGSIM_DEBUG") != nullptr),
        sim_(options(seed, rng_)) {}

  ChaosResult run() {
    sim_.set_tap([this](size_t from, const gossip::Message& m) { observe(from, m); });
    sim_.add_preconverged(nodes_);
    plan();
    log("%zu nodes, loss %.2f", nodes_, sim_.options().loss);
    for (int k = 0; k < 16; ++k) probes_.push_back(Token(rng_()));
    for (int s = 0; s < kFaultSteps; ++s) {
      step(s);
      advance();
    }
    Findings found;
    resolve_before_heal(found);
    heal(found);
    found.merge(sampled_);
    ChaosResult r;
    if (!zombie_message_.empty()) found.add(kind::kZombie, zombie_message_);
    found.fill(r);
    r.removed_node_messages = removed_node_messages_;
    r.converged = !found.has(kind::kNotConverged);
    r.removed_a_node = !expect_.removed.empty();
    for (size_t i = 0; i < sim_.size() && r.end_summary == 0; ++i) {
      if (sim_.alive(i)) r.end_summary = sim_.engine(i).state().summary();
    }
    r.end_time = sim_.now();
    if (debug_) log_end_state();
    if (!r.ok()) log("FAILED %s", r.failure.c_str());
    return r;
  }

 private:
  // kRestoreBackup: started again on a copy of its data dir taken at backup_step (not after the
  // crash), as an operator restoring a backup would.
  enum class Fate { kRestart, kRemove, kRemoveThenRestart, kWipe, kRestoreBackup, kReplace };
  struct Victim {
    size_t index = 0;
    int crash_step = 0;
    int act_step = 0;  // restart, first removal attempt, or wipe
    Fate fate = Fate::kRestart;
    bool wipe_first = false;  // kWipe: wipe, then remove the old id (else the other way round)
    NodeId old_id;
    bool crashed = false, removed = false, wiped = false, restarted = false;
    int restart_step = -1;  // kRemoveThenRestart: once removed
    int backup_step = -1;   // kRestoreBackup
    SimCluster::DataDir backup;
  };
  struct Join {
    int step;
    int side;  // -1: any (a random side while split)
  };
  // Fresh random tokens; one of them another node's claim; two nodes at once onto one token; the
  // allocator's tokens (rebalance); a decommission.
  enum class MoveKind { kFresh, kOntoClaimed, kTwoOntoOne, kRebalance, kDecommission };
  struct Move {
    int step;
    MoveKind kind;
  };

  static SimOptions options(uint64_t seed, std::mt19937_64& rng) {
    SimOptions o;
    o.seed = seed;
    o.loss = static_cast<double>(rng() % 4) * 0.05;
    return o;
  }

  uint64_t pick(uint64_t n) { return rng_() % n; }

  // A node that knows it was removed (its own entry is a tombstone) stops: any message it still
  // sends is a zombie's (counted; the first one described).
  void observe(size_t from, const gossip::Message& m) {
    const NodeState* own = sim_.engine(from).state().find(m.from);
    if (!own || !own->is_tombstone()) return;
    ++removed_node_messages_;
    if (!zombie_message_.empty()) return;
    zombie_message_ = "removed node " + std::to_string(from) + " (" + short_id(m.from) + ") still sent a message at t=" +
                      std::to_string(sim_.now());
    auto scan = [&](const std::vector<gossip::NodeDelta>& deltas) {
      for (const gossip::NodeDelta& d : deltas) {
        if (d.id == m.from && !d.state.is_tombstone() && !value_of(&d.state, gossip::keys::kTokens).empty()) {
          zombie_message_ = "removed node " + std::to_string(from) + " (" + short_id(m.from) +
                            ") gossiped its tokens at t=" + std::to_string(sim_.now());
        }
      }
    };
    if (auto* ack = std::get_if<gossip::Ack>(&m.body)) scan(ack->deltas);
    if (auto* ack2 = std::get_if<gossip::Ack2>(&m.body)) scan(ack2->deltas);
  }

  template <class... Args>
  void log(const char* format, Args... args) {
    if (!debug_) return;
    std::fprintf(stderr, "chaos t=%6.1f  ", sim_.now() / 1000.0);
    if constexpr (sizeof...(Args) == 0) {
      std::fputs(format, stderr);
    } else {
      std::fprintf(stderr, format, args...);
    }
    std::fputc('\n', stderr);
  }

  void plan() {
    if (pick(2)) {
      cut_step_ = static_cast<int>(pick(10));
      cut_count_ = 1 + static_cast<int>(pick(6));
    }
    if (nodes_ >= 3 && pick(2)) {
      partition_step_ = static_cast<int>(pick(8));
      if (pick(4)) {
        for (int side = 0; side < 2; ++side)
          joins_.push_back({partition_step_ + 1 + static_cast<int>(pick(3)), side});
      }
    }
    const size_t victims = nodes_ > 3 ? pick(3) : pick(2);
    for (size_t k = 0; k < victims; ++k) {
      Victim v;
      do {
        v.index = pick(nodes_);
      } while (is_victim(v.index));
      v.crash_step = static_cast<int>(pick(kFaultSteps - 15));
      v.fate = nodes_ > 3 ? static_cast<Fate>(pick(6)) : pick(2) ? Fate::kRestart : Fate::kRestoreBackup;
      v.backup_step = static_cast<int>(pick(static_cast<uint64_t>(v.crash_step) + 1));
      v.act_step =
          v.crash_step + (v.fate == Fate::kWipe ? 8 + static_cast<int>(pick(6)) : 3 + static_cast<int>(pick(8)));
      v.wipe_first = pick(2);
      victims_.push_back(v);
    }
    for (size_t k = pick(3); k > 0; --k) joins_.push_back({static_cast<int>(pick(kFaultSteps - 10)), -1});
    for (size_t k = pick(4); k > 0; --k) {
      moves_.push_back({2 + static_cast<int>(pick(kFaultSteps - 12)), static_cast<MoveKind>(pick(nodes_ > 4 ? 5 : 4))});
    }
    stall_step_ = static_cast<int>(pick(kFaultSteps - 20));
    stall_node_ = pick(nodes_);
    stall_for_ = 5'000 + static_cast<Millis>(pick(10'000));
  }

  // Each node as it sees itself, and as node 0's ring (or the first live node's) sees it.
  void log_end_state() {
    size_t observer = 0;
    while (observer < sim_.size() && !sim_.alive(observer)) ++observer;
    if (observer == sim_.size()) return;
    auto ring = sim_.engine(observer).ring();
    for (size_t i = 0; i < sim_.size(); ++i) {
      const NodeId& id = sim_.engine(i).id();
      const NodeState* own = sim_.engine(i).state().find(id);
      const RingNode* n = ring->find(id);
      const auto status = sim_.engine(i).own_status();
      log("  node %2zu %s %-7s %-7s gossips %2zu tokens, owns %2zu in node %zu's ring%s", i, short_id(id).c_str(),
          sim_.alive(i) ? "running" : "down", status ? std::string(to_string(*status)).c_str() : "-",
          parse_token_list(value_of(own, gossip::keys::kTokens)).value_or(std::vector<Token>{}).size(),
          n ? n->tokens.size() : 0, observer, own && own->is_tombstone() ? " (own entry: tombstone)" : "");
    }
  }

  bool is_victim(size_t i) const {
    return std::any_of(victims_.begin(), victims_.end(), [&](const Victim& v) { return v.index == i; });
  }

  void step(int s) {
    if (s == cut_step_) random_cuts();
    if (s == partition_step_) split();
    if (s == stall_step_) {
      sim_.stall(stall_node_, sim_.now() + stall_for_);
      log("stall node %zu for %.1f s", stall_node_, stall_for_ / 1000.0);
    }
    for (Victim& v : victims_) advance(v, s);
    for (const Join& j : joins_) {
      if (j.step == s) join(j.side);
    }
    for (const Move& m : moves_) {
      if (m.step == s) move(m.kind);
    }
    const size_t w = pick(sim_.size());
    const std::string key = "x.k" + std::to_string(pick(3));
    const std::string value = std::to_string(rng_());
    if (sim_.alive(w) && !sim_.stalled(w)) sim_.engine(w).set_local(key, value);
  }

  void random_cuts() {
    for (int k = 0; k < cut_count_; ++k) {
      const size_t a = pick(sim_.size()), b = pick(sim_.size());
      const bool both = pick(2);
      if (a == b) continue;
      sim_.cut(a, b);
      if (both) sim_.cut(b, a);
      log("cut %zu -> %zu%s", a, b, both ? " and back" : "");
    }
  }

  // A majority and a minority (3|2 at five nodes), held until the heal.
  void split() {
    std::vector<size_t> order(sim_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[pick(i)]);
    const size_t minority = std::max<size_t>(1, order.size() * 2 / 5);
    sides_[1].assign(order.begin(), order.begin() + static_cast<ptrdiff_t>(minority));
    sides_[0].assign(order.begin() + static_cast<ptrdiff_t>(minority), order.end());
    sim_.partition({sides_[0], sides_[1]});
    partitioned_ = true;
    log("partition %zu|%zu", sides_[0].size(), sides_[1].size());
  }

  int side_of(size_t i) const {
    if (!partitioned_) return -1;
    for (int side = 0; side < 2; ++side) {
      if (std::find(sides_[side].begin(), sides_[side].end(), i) != sides_[side].end()) return side;
    }
    return -1;
  }

  // Up to two live NORMAL nodes on `side` (any side: -1) that will not crash, as seeds.
  std::vector<size_t> seeds_on(int side) {
    std::vector<size_t> candidates;
    for (size_t i = 0; i < sim_.size(); ++i) {
      if (!sim_.alive(i) || is_victim(i) || (side >= 0 && side_of(i) != side)) continue;
      if (sim_.engine(i).own_status() == NodeStatus::kNormal) candidates.push_back(i);
    }
    std::vector<size_t> seeds;
    while (!candidates.empty() && seeds.size() < 2) {
      const size_t k = pick(candidates.size());
      seeds.push_back(candidates[k]);
      candidates.erase(candidates.begin() + static_cast<ptrdiff_t>(k));
    }
    return seeds;
  }

  void join(int side) {
    if (partitioned_ && side < 0) side = static_cast<int>(pick(2));
    std::vector<size_t> seeds = seeds_on(partitioned_ ? side : -1);
    if (seeds.empty()) {
      log("join on side %d skipped: no live seed there", side);
      return;
    }
    const size_t j = sim_.add_node(seeds);
    if (partitioned_) {
      sim_.cut_between({j}, sides_[1 - side]);
      sides_[side].push_back(j);
    }
    expect_.joiners.push_back(j);
    log("join node %zu (%s) via %zu on side %d", j, short_id(sim_.engine(j).id()).c_str(), seeds[0], side);
  }

  std::vector<Token> gossiped_tokens(size_t i) { return sim::gossiped_tokens(sim_.engine(i), sim_.engine(i).id()); }

  std::vector<Token> fresh_tokens(size_t count) {
    std::vector<Token> out;
    for (size_t k = 0; k < count; ++k) out.push_back(Token(rng_()));
    return out;
  }

  void move_to(size_t mover, std::vector<Token> tokens, const char* what) {
    const std::string refused = sim_.engine(mover).move_tokens(tokens, sim_.now());
    log("move node %zu to %zu %s tokens%s%s", mover, tokens.size(), what,
        refused.empty() ? "" : ": refused: ", refused.c_str());
  }

  // A NORMAL node moves to as many fresh random tokens as it has (see MoveKind for the twists).
  void move(MoveKind kind) {
    std::vector<size_t> normal;
    for (size_t i = 0; i < sim_.size(); ++i) {
      if (sim_.alive(i) && !sim_.stalled(i) && !own_entry_is_tombstone(sim_, i) &&
          sim_.engine(i).own_status() == NodeStatus::kNormal) {
        normal.push_back(i);
      }
    }
    if (normal.size() < (kind == MoveKind::kTwoOntoOne ? 2u : 1u)) return;
    const size_t a = normal[pick(normal.size())];
    if (kind == MoveKind::kRebalance) {
      std::vector<Token> next = sim_.engine(a).rebalance_tokens();
      const std::string refused = next.empty() ? "already balanced"
                                               : sim_.engine(a).move_tokens(next, sim_.now(), gossip::ChangeKind::kRebalance);
      log("rebalance node %zu%s%s", a, refused.empty() ? "" : ": refused: ", refused.c_str());
      return;
    }
    if (kind == MoveKind::kDecommission) {
      if (normal.size() < 4 || is_victim(a)) return;  // keep RF owners, and victims to their fate
      const std::string refused = sim_.engine(a).decommission(sim_.now());
      log("decommission node %zu%s%s", a, refused.empty() ? "" : ": refused: ", refused.c_str());
      return;
    }
    const size_t count = std::max<size_t>(1, gossiped_tokens(a).size());
    std::vector<Token> tokens = fresh_tokens(count);
    if (kind == MoveKind::kFresh) {
      move_to(a, std::move(tokens), "fresh");
    } else if (kind == MoveKind::kOntoClaimed) {
      // Another node's claim. Mostly one the mover has not heard of yet (a claim made across
      // the split, or too recent), which it cannot refuse; else a known one, which it refuses.
      auto ring = sim_.engine(a).ring();
      std::vector<Token> unknown, known;
      for (size_t i = 0; i < sim_.size(); ++i) {
        if (i == a || !sim_.alive(i)) continue;
        const RingNode* seen = ring->find(sim_.engine(i).id());
        for (Token t : gossiped_tokens(i)) {
          const bool seen_there = seen && std::binary_search(seen->tokens.begin(), seen->tokens.end(), t);
          (seen_there ? known : unknown).push_back(t);
        }
      }
      const bool use_unknown = !unknown.empty() && (known.empty() || pick(4) != 0);
      const std::vector<Token>& from = use_unknown ? unknown : known;
      if (from.empty()) return;
      tokens[0] = from[pick(from.size())];
      move_to(a, std::move(tokens), use_unknown ? "fresh + 1 claimed unknown to it" : "fresh + 1 owned");
    } else {
      size_t b = a;
      while (b == a) b = normal[pick(normal.size())];
      std::vector<Token> other = fresh_tokens(std::max<size_t>(1, gossiped_tokens(b).size()));
      other[0] = tokens[0];
      log("nodes %zu and %zu both move onto token %s", a, b, tokens[0].to_string().c_str());
      move_to(a, std::move(tokens), "fresh (shared)");
      move_to(b, std::move(other), "fresh (shared)");
    }
  }

  // An operator's removenode of `id`, run on some live node that sees it down.
  bool try_remove(const NodeId& id) {
    const size_t start = pick(sim_.size());
    for (size_t k = 0; k < sim_.size(); ++k) {
      const size_t i = (start + k) % sim_.size();
      if (!sim_.alive(i) || sim_.stalled(i) || sim_.engine(i).id() == id) continue;
      bool forced = false;
      if (!sim_.engine(i).remove_node(id, sim_.now()).empty()) {
        if (!sim_.engine(i).remove_node(id, sim_.now(), true).empty()) continue;
        forced = !sim_.engine(i).removal_of(id);  // written at once, not phased
      }
      if (forced) forced_.push_back(id);
      expect_.removed.push_back(id);
      log("removenode %s on node %zu%s", short_id(id).c_str(), i, forced ? " (--force: at once)" : "");
      return true;
    }
    return false;
  }

  void restart(Victim& v) {
    if (v.fate == Fate::kRestoreBackup) {
      sim_.restore(v.index, v.backup);
      restored_at_[v.index] = sim_.now();
    } else {
      sim_.restart(v.index);
      // Removed while it was down: it routes as a member until its peers tell it (then stops).
      if (v.removed) restored_at_[v.index] = sim_.now();
    }
    v.restarted = true;
    log("%s node %zu (%s)%s", v.fate == Fate::kRestoreBackup ? "restore a backup of" : "restart", v.index,
        short_id(v.old_id).c_str(), v.removed ? " although removed" : "");
  }

  void wipe(Victim& v) {
    const int side = side_of(v.index);
    std::vector<size_t> seeds = seeds_on(side);
    if (seeds.empty()) seeds = seeds_on(-1);
    if (seeds.empty()) return;  // tried again next step
    sim_.wipe(v.index, seeds);
    v.wiped = true;
    expect_.joiners.push_back(v.index);
    log("wipe node %zu: %s comes back as %s via %zu", v.index, short_id(v.old_id).c_str(),
        short_id(sim_.engine(v.index).id()).c_str(), seeds[0]);
  }

  void advance(Victim& v, int s) {
    if (s == v.backup_step && v.fate == Fate::kRestoreBackup) v.backup = sim_.backup(v.index);
    if (s == v.crash_step) {
      v.old_id = sim_.engine(v.index).id();
      sim_.crash(v.index);
      v.crashed = true;
      log("crash node %zu (%s), then %s", v.index, short_id(v.old_id).c_str(),
          v.fate == Fate::kRestart             ? "restart"
          : v.fate == Fate::kRestoreBackup     ? "restore its backup"
          : v.fate == Fate::kRemove            ? "removenode"
          : v.fate == Fate::kRemoveThenRestart ? "removenode, then restart"
          : v.fate == Fate::kReplace           ? "a new node replaces it"
          : v.wipe_first                       ? "wipe, then removenode"
                                               : "removenode, then wipe");
    }
    if (!v.crashed || s < v.act_step) return;
    switch (v.fate) {
      case Fate::kRestart:
      case Fate::kRestoreBackup:
        if (!v.restarted) restart(v);
        break;
      case Fate::kRemove:
        if (!v.removed) v.removed = try_remove(v.old_id);
        break;
      case Fate::kRemoveThenRestart:
        if (!v.removed) {
          v.removed = try_remove(v.old_id);
          if (v.removed) v.restart_step = s + 3 + static_cast<int>(pick(5));
        } else if (!v.restarted && s == v.restart_step) {
          restart(v);
        }
        break;
      case Fate::kWipe:
        if (!v.wiped && (v.wipe_first || v.removed || s >= kFaultSteps - 5)) wipe(v);
        if (!v.removed && (v.wiped || !v.wipe_first)) v.removed = try_remove(v.old_id);
        break;
      case Fate::kReplace:
        if (!v.removed) v.removed = replace(v);
        break;
    }
  }

  // A new node started with --replace of the dead one (seeded like a joiner); true once started.
  bool replace(Victim& v) {
    std::vector<size_t> seeds = seeds_on(side_of(v.index));
    if (seeds.empty()) seeds = seeds_on(-1);
    if (seeds.empty()) return false;  // tried again next step
    gossip::JoinSettings join;
    join.replace = v.old_id;
    const size_t r = sim_.add_node(seeds, join);
    if (partitioned_) {
      const int side = side_of(seeds[0]);
      sim_.cut_between({r}, sides_[1 - side]);
      sides_[side].push_back(r);
    }
    expect_.joiners.push_back(r);
    expect_.replaced.emplace_back(v.old_id, r);
    log("node %zu (%s) starts to replace %s via %zu", r, short_id(sim_.engine(r).id()).c_str(),
        short_id(v.old_id).c_str(), seeds[0]);
    return true;
  }

  // A removenode runs as a change its coordinator gossips; it can be lost — the coordinator died
  // before telling anyone (and was not brought back with it), or the removal yielded to a change
  // announced before it (across a partition) — and then the operator runs it again, as here:
  // with --force, since a change that waits for the dead node may be in flight. Removals no live
  // node can run any more (nobody sees the node down) are no longer expected.
  void redo_lost_removals() {
    std::vector<NodeId> lost;
    for (const NodeId& id : expect_.removed) {
      bool held = false;
      for (size_t i = 0; i < sim_.size() && !held; ++i) {
        if (!sim_.alive(i)) continue;
        const NodeState* st = sim_.engine(i).state().find(id);
        held = (st && st->is_tombstone()) || sim_.engine(i).removal_of(id);
      }
      if (!held) lost.push_back(id);
    }
    for (const NodeId& id : lost) {
      std::erase(expect_.removed, id);
      log("the removal of %s was lost: no live node holds its tombstone or runs it", short_id(id).c_str());
      if (!try_remove(id)) log("  and no live node sees it down: no longer expected removed");
    }
  }

  bool removal_pending(const Victim& v) const {
    return v.crashed && !v.removed && v.fate != Fate::kRestart && v.fate != Fate::kRestoreBackup;
  }

  // Every crashed node is restarted or removed before the heal: a permanently down member
  // would rightly hold up joins.
  void resolve_before_heal(Findings& found) {
    for (Victim& v : victims_) {
      if (v.fate == Fate::kWipe && !v.wiped) wipe(v);
    }
    const Millis until = sim_.now() + kRemovalGrace;
    while (sim_.now() < until &&
           std::any_of(victims_.begin(), victims_.end(), [&](const Victim& v) { return removal_pending(v); })) {
      for (Victim& v : victims_) {
        if (removal_pending(v)) v.removed = try_remove(v.old_id);
      }
      advance();
    }
    for (Victim& v : victims_) {
      if (!v.crashed || v.restarted) continue;
      if (v.fate == Fate::kWipe) {
        if (!v.removed) {
          found.add(kind::kOldIdNotRemoved, "node " + std::to_string(v.index) + "'s old id " + short_id(v.old_id) +
                                                " was seen down nowhere");
        }
      } else if (v.fate == Fate::kRemoveThenRestart || !v.removed) {
        restart(v);  // removed then back on its old data dir, or nobody saw it down in time
      }
    }
  }

  // Heals, then waits until every check holds. Under loss a probe of a healthy node may fail
  // now and then and its suspicion is refuted within seconds; a live node seen suspect or down
  // counts only when it lasted through the last kStuckChecks checks.
  void heal(Findings& found) {
    constexpr int kStuckChecks = 10;
    sim_.heal_all();
    partitioned_ = false;
    log("heal");
    redo_lost_removals();
    count_healthy_marks(sim_, nullptr);  // marks before the heal are not its doing
    std::string first_mark;
    uint64_t healthy_marks = 0;
    const Millis healed_at = sim_.now();
    Findings end, liveness;
    int liveness_streak = 0;
    do {
      advance();
      redo_lost_removals();
      healthy_marks += count_healthy_marks(sim_, healthy_marks ? nullptr : &first_mark, debug_, expect_.removed);
      end = check_end_state(sim_, expect_);
      liveness = Findings();
      check_liveness(sim_, liveness);
      liveness_streak = liveness.empty() ? 0 : liveness_streak + 1;
    } while (!(end.empty() && liveness.empty()) && sim_.now() < healed_at + kHealDeadline);
    log("%s after %.0f s", end.empty() && liveness.empty() ? "settled" : "not settled",
        (sim_.now() - healed_at) / 1000.0);
    if (healthy_marks) {
      found.add(kind::kHealthyMarkedDown, std::to_string(healthy_marks) + " marks, first: " + first_mark);
    }
    found.merge(end);
    if (liveness_streak >= kStuckChecks) found.merge(liveness);
  }

  // One step of simulated time, sampling the phase invariants every 100 ms (sample_phases) over
  // the live nodes, except: a node that left (decommission) routes nothing; a node restored from a backup routes by its older state until it has
  // merged its peers' (kRestoredGrace), as does a removed node started again on its data dir until
  // it learns it was removed, and while a forced removal's tombstone spreads members
  // disagree on the dead node's ranges by design (docs/operations.md, "What --force risks").
  void advance() {
    for (Millis end = sim_.now() + kStep; sim_.now() < end;) {
      sim_.run_until(std::min(end, sim_.now() + 100));
      if (forced_spreading()) continue;
      std::vector<size_t> eligible;
      for (size_t i = 0; i < sim_.size(); ++i) {
        if (!sim_.alive(i) || own_entry_is_tombstone(sim_, i)) continue;
        // A joiner still learning the cluster (no claim yet) routes with what little it knows;
        // no embedder serves from it before it joined.
        const auto status = sim_.engine(i).own_status();
        if (!status || (status == NodeStatus::kJoining && sim_.engine(i).claimed_tokens() == 0)) continue;
        // A node that left is no member: no barrier waits for it, and an embedder serves nothing
        // from it (kvd answers 503), so its lagging view of later changes routes nothing.
        if (status == NodeStatus::kLeft) continue;
        auto r = restored_at_.find(i);
        if (r != restored_at_.end() && sim_.now() < r->second + kRestoredGrace) continue;
        eligible.push_back(i);
      }
      Findings f;
      sample_phases(sim_, eligible, probes_, f);
      if (!f.empty() && sampled_.empty()) log("sampled violation");
      sampled_.merge(f);
    }
  }

  bool forced_spreading() {
    std::erase_if(forced_, [&](const NodeId& id) {
      for (size_t i = 0; i < sim_.size(); ++i) {
        if (!sim_.alive(i)) continue;
        const NodeState* st = sim_.engine(i).state().find(id);
        if (st && !st->is_tombstone()) return false;
      }
      return true;
    });
    return !forced_.empty();
  }

  static constexpr Millis kRestoredGrace = 10'000;
  std::vector<Token> probes_;
  Findings sampled_;
  std::vector<NodeId> forced_;                // removals forced while another change was in flight
  std::map<size_t, Millis> restored_at_;      // nodes started again on a backup, when

  const size_t nodes_;
  std::mt19937_64 rng_;
  const bool debug_;
  SimCluster sim_;
  Expectations expect_;
  // The plan.
  int cut_step_ = -1, cut_count_ = 0;
  int partition_step_ = -1;
  int stall_step_ = -1;
  size_t stall_node_ = 0;
  Millis stall_for_ = 0;
  std::vector<Victim> victims_;
  std::vector<Join> joins_;
  std::vector<Move> moves_;
  uint64_t removed_node_messages_ = 0;
  std::string zombie_message_;
  // The split, while it lasts.
  bool partitioned_ = false;
  std::array<std::vector<size_t>, 2> sides_;
};

// Every node holds the same state and ring and sees nobody suspect or down.
bool all_agree(SimCluster& sim) {
  for (size_t i = 1; i < sim.size(); ++i) {
    if (sim.engine(i).state().summary() != sim.engine(0).state().summary() ||
        sim.engine(i).ring()->digest() != sim.engine(0).ring()->digest()) {
      return false;
    }
  }
  for (size_t i = 0; i < sim.size(); ++i) {
    if (sim.engine(i).liveness_table().non_up_count() != 0) return false;
  }
  return true;
}

}  // namespace

ChaosResult run_chaos(uint64_t seed, size_t nodes) { return ChaosRun(seed, nodes).run(); }

PartitionHealResult run_partition_heal(uint64_t seed, size_t nodes, Millis hold) {
  SimOptions o;
  o.seed = seed;
  SimCluster sim(o);
  sim.add_preconverged(nodes);
  sim.run_until(2 * o.gossip_interval);
  const bool debug = std::getenv("RINGSIM_DEBUG") != nullptr;
  std::mt19937_64 rng(seed);
  std::vector<size_t> order(nodes);
  for (size_t i = 0; i < nodes; ++i) order[i] = i;
  for (size_t i = nodes; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  const size_t minority = std::max<size_t>(1, nodes * 2 / 5);
  const std::vector<size_t> small(order.begin(), order.begin() + static_cast<ptrdiff_t>(minority));
  const std::vector<size_t> large(order.begin() + static_cast<ptrdiff_t>(minority), order.end());
  sim.partition({large, small});
  if (debug) {
    std::fprintf(stderr, "partition seed %llu: minority", static_cast<unsigned long long>(seed));
    for (size_t i : small) std::fprintf(stderr, " %zu", i);
    std::fprintf(stderr, "\n");
  }
  auto side_sees_other_down = [&](const std::vector<size_t>& side, const std::vector<size_t>& other) {
    for (size_t i : side) {
      for (size_t j : other) {
        if (sim.engine(i).liveness(sim.engine(j).id()) != gossip::PeerLiveness::kDown) return false;
      }
    }
    return true;
  };
  PartitionHealResult r;
  const Millis split_at = sim.now();
  sim.run_until(split_at + hold);
  while (!(r.split_seen = side_sees_other_down(large, small) && side_sees_other_down(small, large)) &&
         sim.now() < split_at + hold + 40'000) {
    sim.run_until(sim.now() + 1'000);
  }
  count_healthy_marks(sim, nullptr);  // the split's marks
  sim.heal_all();
  const Millis healed_at = sim.now();
  while (sim.now() < healed_at + 120'000) {
    sim.run_until(sim.now() + 100);
    r.healthy_marked_down += count_healthy_marks(sim, nullptr, debug);
    if ((r.converged = all_agree(sim))) break;
  }
  r.heal_ms = sim.now() - healed_at;
  return r;
}

namespace {

// One detection run (run_detect): node 0 stalls now and then; one other node at a time is
// crashed, timed until every live node marked it down, and restarted. Every 100 ms it reads the
// down marks each node made: about the victim they count toward its detection, about anyone
// else (but the stalled node while stalled, and a node's own earlier life) they are false.
class DetectRun {
 public:
  explicit DetectRun(const DetectOptions& opt) : opt_(opt), sim_(options(opt)), rng_(opt.seed) {
    sim_.add_preconverged(opt.nodes);
    stall_start_ = opt.stall_every / 2;
    crash_at_ = opt.crash_every;
  }

  DetectResult run() {
    while (sim_.now() < opt_.duration) {
      const Millis next = sim_.now() + 100;
      maybe_stall(next);
      maybe_crash(next);
      sim_.run_until(next);
      read_marks();
      if (victim_ != kNoVictim) check_detected();
    }
    return result_;
  }

 private:
  static constexpr size_t kNoVictim = SIZE_MAX;
  static constexpr size_t kStalled = 0;  // the node that stalls; crashes pick among the others

  static SimOptions options(const DetectOptions& opt) {
    SimOptions o;
    o.seed = opt.seed;
    o.loss = opt.loss;
    return o;
  }

  void maybe_stall(Millis next) {
    if (next < stall_start_ || stall_end_ >= stall_start_) return;
    sim_.stall(kStalled, stall_start_ + opt_.stall_for);
    stall_end_ = stall_start_ + opt_.stall_for;
    stall_start_ += opt_.stall_every;
  }

  void maybe_crash(Millis next) {
    if (victim_ != kNoVictim || next < crash_at_) return;
    victim_ = 1 + rng_() % (opt_.nodes - 1);
    sim_.run_until(crash_at_);
    sim_.crash(victim_);
    marked_.clear();
  }

  size_t index_of(const NodeId& id) {
    size_t target = sim_.size();
    for (size_t j = 0; j < sim_.size(); ++j) {
      if (sim_.engine(j).id() == id) target = j;
    }
    return target;
  }

  void read_marks() {
    const bool stalled_now = sim_.now() < stall_end_;
    for (size_t i = 0; i < sim_.size(); ++i) {
      for (const gossip::LivenessRecord& down : sim_.engine(i).take_marked_down()) {
        const size_t target = index_of(down.node);
        // A mark about an earlier life of a node that has since restarted is old news, not a
        // verdict on the process running now.
        if (target < sim_.size() && down.generation < sim_.engine(target).config().generation) continue;
        const bool target_stalled = target == kStalled && (stalled_now || sim_.now() < stall_end_ + 1'000);
        if (target == victim_) {
          if (sim_.alive(i)) marked_.insert(i);
        } else if (!target_stalled && i != target) {
          ++result_.false_downs;
          if (std::getenv("RINGSIM_DEBUG")) {
            std::fprintf(stderr, "false down: t=%lld observer=%zu target=%zu stall_end=%lld victim=%d\n",
                         static_cast<long long>(sim_.now()), i, target, static_cast<long long>(stall_end_),
                         victim_ == kNoVictim ? -1 : static_cast<int>(victim_));
          }
        }
      }
    }
  }

  void check_detected() {
    const bool stalled_now = sim_.now() < stall_end_;
    size_t live = 0, have = 0;
    for (size_t i = 0; i < sim_.size(); ++i) {
      if (i == victim_ || !sim_.alive(i) || (i == kStalled && stalled_now)) continue;
      ++live;
      have += marked_.count(i);
    }
    const Millis elapsed = sim_.now() - crash_at_;
    if (have != live && elapsed <= 60'000) return;
    if (have == live) {
      result_.detect_seconds.push_back(elapsed / 1000.0);
    } else {
      ++result_.undetected;
    }
    sim_.restart(victim_);
    victim_ = kNoVictim;
    crash_at_ = sim_.now() + opt_.crash_every;
  }

  const DetectOptions& opt_;
  SimCluster sim_;
  std::mt19937_64 rng_;
  DetectResult result_;
  Millis stall_start_ = 0, stall_end_ = -1, crash_at_ = 0;
  size_t victim_ = kNoVictim;
  std::set<size_t> marked_;  // live nodes that marked the victim down
};

}  // namespace

DetectResult run_detect(const DetectOptions& opt) {
  auto run = std::make_unique<DetectRun>(opt);  // a SimCluster is big: on the heap, never moved
  return run->run();
}

}  // namespace ringkeeper::sim
