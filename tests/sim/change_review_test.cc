// Scenarios from a hostile review of the phased changes (issue 9): each failed before its fix.
// The invariant sampled is the phase invariant: every live member's write targets hold every
// owner any live member reads from.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <set>

#include "sim/sim.h"
#include "ringkeeper/ring/range_diff.h"

namespace ringkeeper::sim {
namespace {

std::unique_ptr<SimCluster> formed(uint64_t seed, size_t n, uint32_t rf = 3) {
  SimOptions o;
  o.seed = seed;
  o.replication.rf = rf;
  auto sim = std::make_unique<SimCluster>(o);
  sim->add_node({SimCluster::kSelf});
  for (size_t i = 1; i < n; ++i) sim->add_node({0});
  sim->run_until(sim->now() + 15'000);
  return sim;
}

// Every live member's write targets hold every owner any live member reads from.
struct Invariant {
  SimCluster& sim;
  std::vector<Token> probes;
  std::string violation;
  bool knows_all(size_t i) {
    size_t most = 0;
    for (size_t k = 0; k < sim.size(); ++k) if (sim.alive(k)) most = std::max(most, sim.engine(k).state().size());
    return sim.engine(i).state().size() == most && !sim.engine(i).ring()->current().empty();
  }
  void sample() {
    if (!violation.empty()) return;
    for (Token t : probes) {
      std::set<NodeId> reads;
      for (size_t i = 0; i < sim.size(); ++i) {
        if (sim.alive(i) && knows_all(i)) for (const NodeId& n : sim.engine(i).ring()->natural_replicas(t)) reads.insert(n);
      }
      for (size_t i = 0; i < sim.size(); ++i) {
        if (!sim.alive(i) || !knows_all(i)) continue;
        const auto w = sim.engine(i).ring()->write_targets(t);
        for (const NodeId& r : reads) {
          if (std::find(w.begin(), w.end(), r) == w.end()) {
            violation = "t=" + std::to_string(sim.now()) + " token " + t.to_string() + ": node " + std::to_string(i) +
                        " does not write to " + r.to_string() + ", which another member reads from";
            return;
          }
        }
      }
    }
  }
  void add_tokens_of(SimCluster& s) {
    for (size_t i = 0; i < s.size(); ++i) {
      for (Token t : gossiped_tokens(s.engine(0), s.engine(i).id())) {
        probes.push_back(t);
        probes.push_back(Token(t.value() - 1));
      }
    }
  }
};

class ChangeReview : public ::testing::TestWithParam<uint64_t> {};

// Two nodes join a running cluster at once (the documented joint allocation): the first join runs
// its phases while the second waits in write_both.
TEST_P(ChangeReview, TwoJoinersAtOnceKeepWritesReachingEveryReader) {
  const uint64_t seed = GetParam();
  auto owned = formed(seed, 5, 1);
  SimCluster& sim = *owned;
  // ringd --tokens for both (or any allocation where a token of one joiner directly precedes a
  // token of the other, as random tokens give).
  gossip::JoinSettings ja, jb;
  const uint64_t x = 0x4000'0000'0000'0000ULL + seed * 977, y = 0xB000'0000'0000'0000ULL + seed * 977;
  ja.initial_tokens = {Token(x + 1000), Token(y)};
  jb.initial_tokens = {Token(x), Token(y + 1000)};
  const size_t a = sim.add_node({0}, ja);
  const size_t b = sim.add_node({1}, jb);
  Invariant inv{sim, {}};
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 64; ++k) inv.probes.push_back(Token(rng()));
  bool probes_added = false;
  const Millis deadline = sim.now() + 90'000;
  while (sim.now() < deadline) {
    sim.run_until(sim.now() + 1);
    if (!probes_added && !gossiped_tokens(sim.engine(0), sim.engine(a).id()).empty() &&
        !gossiped_tokens(sim.engine(0), sim.engine(b).id()).empty()) {
      inv.add_tokens_of(sim);
      probes_added = true;
    }
    inv.sample();
    {
      static bool dumped = false;
      auto ca = sim.engine(a).own_change(), cb = sim.engine(b).own_change();
      if (!dumped && ca && cb && ((ca->step == gossip::ChangeStep::kReadNew && cb->step == gossip::ChangeStep::kWriteBoth) ||
                                  (cb->step == gossip::ChangeStep::kReadNew && ca->step == gossip::ChangeStep::kWriteBoth))) {
        dumped = true;
        const size_t rn = ca->step == gossip::ChangeStep::kReadNew ? a : b, wb = rn == a ? b : a;
        auto ring = sim.engine(rn).ring();
        std::printf("rf %u; node %zu at read_new, %zu at write_both; phases in ring of %zu: ", ring->config().rf, rn, wb, rn);
        for (const RingNode& n : ring->nodes()) std::printf("%s:%s/%d ", n.id.to_string().substr(0,4).c_str(), std::string(to_string(n.status)).c_str(), (int)n.phase);
        std::printf("\n");
        for (Token t : gossiped_tokens(sim.engine(0), sim.engine(wb).id())) {
          auto nat = ring->natural_replicas(t).to_vector();
          auto w = ring->write_targets(t);
          std::printf("  token %s: reads", t.to_string().c_str());
          for (auto& x : nat) std::printf(" %s", x.to_string().substr(0,4).c_str());
          std::printf(" writes");
          for (auto& x : w) std::printf(" %s", x.to_string().substr(0,4).c_str());
          std::printf("\n");
        }
      }
    }
    {
      static std::string last;
      std::string now;
      for (size_t x : {a, b}) {
        auto c = sim.engine(x).own_change();
        now += std::to_string(x) + ":" + (c ? std::string(gossip::to_string(c->step)) : std::string("-")) + "/" +
               std::string(to_string(sim.engine(x).own_status().value_or(NodeStatus::kJoining))) + " ";
      }
      auto act = sim.engine(0).active_change();
      now += act ? "active " + act->second.id.to_string().substr(0, 8) : "none";
      if (now != last) std::printf("t=%lld %s\n", (long long)sim.now(), now.c_str());
      last = now;
    }
    if (sim.engine(a).own_status() == NodeStatus::kNormal && sim.engine(b).own_status() == NodeStatus::kNormal) break;
  }
  EXPECT_EQ(sim.engine(a).own_status(), NodeStatus::kNormal);
  EXPECT_EQ(sim.engine(b).own_status(), NodeStatus::kNormal);
  EXPECT_EQ(inv.violation, "") << "seed " << seed;
}

// A mover dies once its move reached read_new; a new node replaces it (allowed "before release").
TEST_P(ChangeReview, ReplacingAMoverThatDiedInReadNew) {
  const uint64_t seed = GetParam();
  auto owned = formed(seed, 5, 1);
  SimCluster& sim = *owned;
  const NodeId dead = sim.engine(3).id();
  std::vector<Token> next = gossiped_tokens(sim.engine(3), dead);
  for (size_t k = 0; k < next.size(); k += 2) next[k] = Token(next[k].value() + 0x1000'0000'0000ULL + seed);
  ASSERT_EQ(sim.engine(3).move_tokens(next, sim.now()), "");
  Invariant inv{sim, {}};
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 64; ++k) inv.probes.push_back(Token(rng()));
  inv.add_tokens_of(sim);
  for (Token t : next) inv.probes.push_back(t);
  // Every member routes by read_new, then the mover dies.
  for (const Millis end = sim.now() + 30'000; sim.now() < end;) {
    sim.run_until(sim.now() + 10);
    bool all = true;
    for (size_t i = 0; i < sim.size(); ++i) {
      auto c = sim.engine(i).active_change();
      all = all && c && c->second.step == gossip::ChangeStep::kReadNew;
    }
    if (all) break;
  }
  ASSERT_EQ(sim.engine(0).active_change()->second.step, gossip::ChangeStep::kReadNew);
  sim.crash(3);
  inv.sample();
  ASSERT_EQ(inv.violation, "") << "before the replace";
  gossip::JoinSettings replace;
  replace.replace = dead;
  const size_t r = sim.add_node({0}, replace);
  Millis announced = -1;
  for (const Millis end = sim.now() + 90'000; sim.engine(r).own_status() != NodeStatus::kNormal && sim.now() < end;) {
    sim.run_until(sim.now() + 5);
    if (announced < 0 && sim.engine(r).own_change()) announced = sim.now();
    inv.sample();
  }
  EXPECT_EQ(announced, -1) << "past read_new the dead mover cannot be rolled back: no replace";
  EXPECT_NE(sim.engine(r).fatal().find("read_new"), std::string::npos) << sim.engine(r).fatal();
  EXPECT_EQ(inv.violation, "") << "seed " << seed;
}

// A join whose joiner's wall clock is behind gets a change stamp earlier than a move already in
// flight: the in-flight move (past announce) stops being the active change.
TEST_P(ChangeReview, AJoinWithASlowClockPreemptsAMovePastAnnounce) {
  const uint64_t seed = GetParam();
  auto owned = formed(seed, 5, 3);
  SimCluster& sim = *owned;
  std::vector<Token> next = gossiped_tokens(sim.engine(2), sim.engine(2).id());
  for (size_t k = 0; k < next.size(); k += 2) next[k] = Token(next[k].value() + 0x1000'0000'0000ULL + seed);
  const size_t j = sim.add_node({0});
  sim.engine(j).set_wall_offset(-20'000);  // 20 s behind
  // The joiner's claim is agreed on quickly; start the move now so it is ahead of the join record.
  sim.run_until(sim.now() + 200);
  if (std::string refused = sim.engine(2).move_tokens(next, sim.now()); !refused.empty()) {
    GTEST_SKIP() << "seed " << seed << ": the move was refused (" << refused << "); nothing to preempt";
  }
  const NodeId move = sim.engine(2).own_change()->id;
  Invariant inv{sim, {}};
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 64; ++k) inv.probes.push_back(Token(rng()));
  for (Token t : next) inv.probes.push_back(t);
  bool preempted = false;
  gossip::ChangeStep move_step_then{};
  for (const Millis end = sim.now() + 60'000; sim.now() < end;) {
    sim.run_until(sim.now() + 20);
    inv.sample();
    auto own = sim.engine(2).own_change();
    auto act = sim.engine(0).active_change();
    if (own && own->id == move && gossip::in_flight(own->step) && own->step >= gossip::ChangeStep::kWriteBoth && act &&
        act->second.id != move && !preempted) {
      preempted = true;
      move_step_then = own->step;
      ADD_FAILURE() << "seed " << seed << ": move " << move.to_string() << " at " << gossip::to_string(own->step)
                    << " is no longer the active change; active: " << gossip::to_string(act->second.kind) << " "
                    << act->second.id.to_string() << " step " << gossip::to_string(act->second.step);
    }
    if (sim.engine(j).own_status() == NodeStatus::kNormal && sim.engine(2).own_status() == NodeStatus::kNormal) break;
  }
  (void)move_step_then;
  EXPECT_EQ(inv.violation, "") << "seed " << seed;
}

// Two nodes started with --replace of the same dead node at the same moment.
TEST_P(ChangeReview, TwoReplacementsOfOneDeadNode) {
  const uint64_t seed = GetParam();
  auto owned = formed(seed, 5, 3);
  SimCluster& sim = *owned;
  const NodeId dead = sim.engine(3).id();
  const std::vector<Token> tokens = gossiped_tokens(sim.engine(0), dead);
  gossip::JoinSettings replace;
  replace.replace = dead;
  const size_t r1 = sim.add_node({0}, replace);
  const size_t r2 = sim.add_node({2}, replace);
  sim.crash(3);
  // Each replacement announces on its side of a split (an operator retrying where the first
  // one did not seem to start, say), then the split heals.
  sim.partition({{0, 1, r1}, {2, 4, r2}});
  for (const Millis end = sim.now() + 60'000;
       sim.now() < end && !(sim.engine(r1).own_change() && sim.engine(r2).own_change());) {
    sim.run_until(sim.now() + 50);
  }
  sim.heal_all();
  Invariant inv{sim, {}};
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 64; ++k) inv.probes.push_back(Token(rng()));
  for (Token t : tokens) inv.probes.push_back(t);
  std::string last;
  for (const Millis end = sim.now() + 120'000; sim.now() < end;) {
    sim.run_until(sim.now() + 5);
    const bool had = !inv.violation.empty();
    inv.sample();
    std::string now;
    for (size_t x : {r1, r2}) {
      auto c = sim.engine(x).own_change();
      now += (c ? std::string(gossip::to_string(c->step)) : std::string("-")) + "/" +
             std::string(to_string(sim.engine(x).own_status().value_or(NodeStatus::kJoining))) + "/lost " +
             std::to_string(sim.engine(x).stats().claims_lost) + " ";
    }
    if (now != last) {
      std::printf("T=%lld %s\n", (long long)sim.now(), now.c_str());
      for (size_t x : {r1, r2}) {
        auto act = sim.engine(x).active_change();
        if (!act || act->second.step != gossip::ChangeStep::kWriteBoth) continue;
        auto ring = sim.engine(x).ring();
        auto gains = transfers_to(sim.engine(x).id(), ring->nodes(), ring->current(), ring->future());
        std::printf("   node %zu's plan for active %s (%s): gains %zu ranges\n", x, act->second.id.to_string().substr(0, 8).c_str(),
                    act->first == sim.engine(x).id() ? "its own" : "the other's", gains.size());
      }
    }
    if (!had && !inv.violation.empty()) std::printf("T=%lld violation\n", (long long)sim.now());
    last = now;
  }
  auto c1 = sim.engine(r1).own_change(), c2 = sim.engine(r2).own_change();
  std::printf("seed %llu r1 %s %s status %s fatal '%s' | r2 %s %s status %s fatal '%s'\n", (unsigned long long)seed,
              c1 ? std::string(gossip::to_string(c1->kind)).c_str() : "-", c1 ? std::string(gossip::to_string(c1->step)).c_str() : "-",
              std::string(to_string(*sim.engine(r1).own_status())).c_str(), sim.engine(r1).fatal().c_str(),
              c2 ? std::string(gossip::to_string(c2->kind)).c_str() : "-", c2 ? std::string(gossip::to_string(c2->step)).c_str() : "-",
              std::string(to_string(*sim.engine(r2).own_status())).c_str(), sim.engine(r2).fatal().c_str());
  auto ring = sim.engine(0).ring();
  const RingNode* n1 = ring->find(sim.engine(r1).id());
  const RingNode* n2 = ring->find(sim.engine(r2).id());
  std::printf("  r1 owns %zu (gossips %zu), r2 owns %zu (gossips %zu); claims_lost r1 %llu r2 %llu\n",
              n1 ? n1->tokens.size() : 0, gossiped_tokens(sim.engine(0), sim.engine(r1).id()).size(),
              n2 ? n2->tokens.size() : 0, gossiped_tokens(sim.engine(0), sim.engine(r2).id()).size(),
              (unsigned long long)sim.engine(r1).stats().claims_lost, (unsigned long long)sim.engine(r2).stats().claims_lost);
  const bool one_wins = (sim.engine(r1).own_status() == NodeStatus::kNormal) != (sim.engine(r2).own_status() == NodeStatus::kNormal);
  EXPECT_TRUE(one_wins) << "seed " << seed << ": exactly one replacement ends NORMAL";
  EXPECT_TRUE(sim.engine(r1).fatal().empty() != sim.engine(r2).fatal().empty()) << "the other stops with a reason";
  EXPECT_EQ(sim.engine(r1).stats().claims_lost + sim.engine(r2).stats().claims_lost == 0 ||
                !sim.engine(r1).fatal().empty() || !sim.engine(r2).fatal().empty(), true);
  EXPECT_EQ(inv.violation, "") << "seed " << seed;
}

// The node coordinating a removenode dies mid-removal; a new node replaces it.
TEST_P(ChangeReview, ReplacingTheDeadCoordinatorOfARemoval) {
  const uint64_t seed = GetParam();
  auto owned = formed(seed, 6, 3);
  SimCluster& sim = *owned;
  const NodeId e = sim.engine(4).id(), a = sim.engine(3).id();
  sim.crash(4);
  for (const Millis end = sim.now() + 30'000;
       sim.engine(3).liveness(e) != gossip::PeerLiveness::kDown && sim.now() < end;) {
    sim.run_until(sim.now() + 50);
  }
  ASSERT_EQ(sim.engine(3).remove_node(e, sim.now()), "");
  for (const Millis end = sim.now() + 30'000;
       sim.engine(3).own_change()->step < gossip::ChangeStep::kWriteBoth && sim.now() < end;) {
    sim.run_until(sim.now() + 10);
  }
  ASSERT_EQ(sim.engine(3).own_change()->step, gossip::ChangeStep::kWriteBoth);
  sim.crash(3);
  gossip::JoinSettings replace;
  replace.replace = a;
  const size_t r = sim.add_node({0}, replace);
  sim.run_until(sim.now() + 120'000);
  auto c = sim.engine(r).own_change();
  std::printf("seed %llu: replacement %s %s, status %s, fatal '%s'; removal of E: %s; removenode E --force on node 0: '%s'\n",
              (unsigned long long)seed, c ? std::string(gossip::to_string(c->kind)).c_str() : "-",
              c ? std::string(gossip::to_string(c->step)).c_str() : "-",
              std::string(to_string(*sim.engine(r).own_status())).c_str(), sim.engine(r).fatal().c_str(),
              sim.engine(0).removal_of(e) ? std::string(gossip::to_string(sim.engine(0).removal_of(e)->second.step)).c_str() : "none",
              sim.engine(0).remove_node(e, sim.now(), true).c_str());
  sim.run_until(sim.now() + 5'000);
  EXPECT_FALSE(sim.engine(0).state().find(e)->is_tombstone() == false && !sim.engine(0).removal_of(e))
      << "E is neither removed nor being removed";
  EXPECT_TRUE(sim.engine(0).state().find(e)->is_tombstone()) << "seed " << seed << ": removenode --force of E did nothing";
  EXPECT_EQ(sim.engine(r).own_status(), NodeStatus::kNormal) << "seed " << seed << ": the replace never ran";
}

// Six nodes (RF 3); node 3 coordinates the removal of node 4, which is crashed and seen down,
// then node 3 dies too once its removal reaches `step`. The phase invariant is sampled every
// 10 ms throughout (run()).
struct DeadCoordinator {
  std::unique_ptr<SimCluster> owned;
  SimCluster& sim;
  NodeId subject, coordinator;
  Invariant inv;

  explicit DeadCoordinator(uint64_t seed)
      : owned(formed(seed, 6, 3)), sim(*owned), subject(sim.engine(4).id()), coordinator(sim.engine(3).id()),
        inv{sim, {}} {
    std::mt19937_64 rng(seed);
    for (int k = 0; k < 64; ++k) inv.probes.push_back(Token(rng()));
    inv.add_tokens_of(sim);
  }
  // While a forced tombstone spreads, members disagree on the dead node's ranges by design
  // (docs/operations.md, "What --force risks"): not sampled then, as in the chaos runs.
  bool sampling = true;
  bool run(Millis span, const std::function<bool()>& until) {
    for (const Millis end = sim.now() + span; !until() && sim.now() < end;) {
      sim.run_until(sim.now() + 10);
      if (sampling) inv.sample();
    }
    return until();
  }
  bool seen_down(size_t viewer, const NodeId& id) {
    return run(30'000, [&] { return sim.engine(viewer).liveness(id) == gossip::PeerLiveness::kDown; });
  }
  // Node 4 crashed and its removal by node 3 reached `step` on every live member; node 3 dead.
  bool coordinator_dies_at(gossip::ChangeStep step) {
    sim.crash(4);
    if (!seen_down(3, subject) || sim.engine(3).remove_node(subject, sim.now()) != "") return false;
    if (!run(30'000, [&] {
          for (size_t i : {0, 1, 2, 3, 5}) {
            auto c = sim.engine(i).active_change();
            if (!c || c->second.step < step) return false;
          }
          return true;
        })) {
      return false;
    }
    sim.crash(3);
    return seen_down(0, coordinator);
  }
  bool removed_everywhere(const NodeId& id) {
    return run(60'000, [&] {
      for (size_t i : {0, 1, 2, 5}) {
        const gossip::NodeState* st = sim.engine(i).state().find(id);
        if (!st || !st->is_tombstone()) return false;
      }
      return true;
    });
  }
};

// The node coordinating a removenode dies mid-removal and never returns, with every member at
// write_both or at release. removenode of the coordinator is refused while its removal stands
// (the ring still reads the subject as LEAVING at its step); removenode of the subject names the
// dead coordinator and --force, which completes the removal at once; then the coordinator's
// removal runs phased. Writes reach every reader throughout (chaos seed 806 found the hole when
// the coordinator's removal was allowed first), and both end removed, owning nothing.
TEST_P(ChangeReview, ARemovalWhoseCoordinatorDiedIsCompletedByForceThenTheCoordinatorIsRemoved) {
  const uint64_t seed = GetParam();
  for (gossip::ChangeStep step : {gossip::ChangeStep::kWriteBoth, gossip::ChangeStep::kRelease}) {
    const std::string where = "seed " + std::to_string(seed) + ", died at " + std::string(gossip::to_string(step));
    DeadCoordinator d(seed);
    SimCluster& sim = d.sim;
    ASSERT_TRUE(d.coordinator_dies_at(step)) << where;
    EXPECT_NE(sim.engine(0).remove_node(d.coordinator, sim.now()).find("another change is in flight"),
              std::string::npos) << where;
    const std::string named = sim.engine(0).remove_node(d.subject, sim.now());
    EXPECT_NE(named.find("--force"), std::string::npos) << named;
    EXPECT_NE(named.find(d.coordinator.to_string()), std::string::npos) << named;
    EXPECT_EQ(d.inv.violation, "") << where << ", before --force";
    ASSERT_EQ(sim.engine(0).remove_node(d.subject, sim.now(), true), "") << where;
    d.sampling = false;
    ASSERT_TRUE(d.removed_everywhere(d.subject)) << where;
    d.sampling = true;
    ASSERT_EQ(sim.engine(0).remove_node(d.coordinator, sim.now()), "") << where;
    ASSERT_TRUE(d.removed_everywhere(d.coordinator)) << where;
    EXPECT_EQ(d.inv.violation, "") << where;
    for (size_t i : {0, 1, 2, 5}) {
      for (const RingNode& n : sim.engine(i).ring()->nodes()) {
        if (n.id != d.subject && n.id != d.coordinator) continue;
        EXPECT_TRUE(n.tokens.empty() && n.pending_tokens.empty()) << where << ": still owns in node " << i << "'s ring";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Review, ChangeReview, ::testing::Values(1, 2, 3, 4, 5));

}  // namespace
}  // namespace ringkeeper::sim
