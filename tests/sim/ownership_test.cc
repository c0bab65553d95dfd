// Ownership through partitions and heals, in the simulator: each scenario is one the engine got
// wrong before (see issue "ownership safety"), driven through the real engine and codec.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "sim/sim.h"

namespace ringkeeper::sim {
namespace {

// Every live node NORMAL, converged, routing with one ring, and owning all it gossips.
std::string settled(SimCluster& sim) {
  std::optional<uint64_t> digest;
  for (size_t i = 0; i < sim.size(); ++i) {
    if (!sim.alive(i)) continue;
    auto& e = sim.engine(i);
    if (e.own_status() != NodeStatus::kNormal) return "node " + std::to_string(i) + " not NORMAL";
    if (!e.converged()) return "node " + std::to_string(i) + " not converged";
    if (digest && *digest != e.ring()->digest()) return "ring digests differ";
    digest = e.ring()->digest();
    const RingNode* me = e.ring()->find(e.id());
    if (!me || me->tokens.empty()) return "node " + std::to_string(i) + " owns no token";
    if (me->tokens != gossiped_tokens(e, e.id())) {
      return "node " + std::to_string(i) + " gossips tokens it does not own";
    }
  }
  return "";
}

std::string run_until_settled(SimCluster& sim, Millis within) {
  const Millis deadline = sim.now() + within;
  std::string why = settled(sim);
  while (!why.empty() && sim.now() < deadline) {
    sim.run_until(sim.now() + 250);
    why = settled(sim);
  }
  return why;
}

void split(SimCluster& sim, const std::vector<size_t>& a, const std::vector<size_t>& b) {
  for (size_t x : a) {
    for (size_t y : b) {
      sim.cut(x, y);
      sim.cut(y, x);
    }
  }
}

// Waits until every node of `side` sees every node of `other` as down.
bool wait_sides_down(SimCluster& sim, const std::vector<size_t>& side, const std::vector<size_t>& other) {
  const Millis deadline = sim.now() + 60'000;
  for (;;) {
    bool all = true;
    for (size_t x : side) {
      for (size_t y : other) {
        all = all && sim.engine(x).liveness(sim.engine(y).id()) == gossip::PeerLiveness::kDown;
      }
    }
    if (all) return true;
    if (sim.now() >= deadline) return false;
    sim.run_until(sim.now() + 250);
  }
}

// Splits nodes 0..4 into {0,1,2} | {3,4} and waits until each side sees the other down.
bool split_until_seen(SimCluster& sim) {
  split(sim, {0, 1, 2}, {3, 4});
  return wait_sides_down(sim, {0, 1, 2}, {3, 4}) && wait_sides_down(sim, {3, 4}, {0, 1, 2});
}

// Engines hold references into their SimCluster: it lives where it was made.
std::unique_ptr<SimCluster> formed_cluster(uint64_t seed, size_t n) {
  SimOptions o;
  o.seed = seed;
  auto sim = std::make_unique<SimCluster>(o);
  sim->add_node({SimCluster::kSelf});
  for (size_t i = 1; i < n; ++i) sim->add_node({0});
  EXPECT_EQ(run_until_settled(*sim, 15'000), "") << "seed " << seed;
  return sim;
}

class Seeds : public ::testing::TestWithParam<uint64_t> {};

// A joiner on each side of a 3|2 split: neither finishes its join while the other side is cut off
// (the barrier waits for down members too), and says whom it waits for; after the heal one ring,
// both joiners own every token they gossip, none is shared.
TEST_P(Seeds, JoinersOnBothSidesOfASplitFinishOnlyAfterTheHeal) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  ASSERT_TRUE(split_until_seen(sim)) << "seed " << seed;
  const size_t left = sim.add_node({0});
  const size_t right = sim.add_node({3});
  split(sim, {0, 1, 2, left}, {3, 4, right});
  sim.run_until(sim.now() + 20'000);
  for (size_t j : {left, right}) {
    EXPECT_EQ(sim.engine(j).own_status(), NodeStatus::kJoining) << "seed " << seed << " joiner " << j;
    EXPECT_FALSE(sim.engine(j).join_waiting_for().empty()) << "seed " << seed << " joiner " << j;
  }
  // Routing keeps working on both sides meanwhile: the old owners, unchanged.
  EXPECT_EQ(sim.engine(0).ring()->current().size(), 5u * 16);
  EXPECT_EQ(sim.engine(3).ring()->current().size(), 5u * 16);
  sim.heal_all();
  EXPECT_EQ(run_until_settled(sim, 60'000), "") << "seed " << seed;
  auto ring = sim.engine(0).ring();
  EXPECT_EQ(ring->current().size(), 7u * 16) << "seed " << seed;
  for (size_t j : {left, right}) {
    EXPECT_EQ(ring->find(sim.engine(j).id())->tokens.size(), 16u) << "seed " << seed;
    EXPECT_TRUE(sim.engine(j).join_waiting_for().empty());
  }
}

// Healing a 3|2 split hands each side the other's "down" verdicts about its own members; none of
// those may mark a healthy node down.
TEST_P(Seeds, HealingASplitMarksNoHealthyNodeDown) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  ASSERT_TRUE(split_until_seen(sim)) << "seed " << seed;
  for (size_t i = 0; i < sim.size(); ++i) (void)sim.engine(i).take_marked_down();
  sim.heal_all();
  const Millis deadline = sim.now() + 30'000;
  size_t false_downs = 0;
  bool all_up = false;
  while (sim.now() < deadline && !all_up) {
    sim.run_until(sim.now() + 100);
    for (size_t i = 0; i < sim.size(); ++i) false_downs += sim.engine(i).take_marked_down().size();
    all_up = true;
    for (size_t i = 0; i < sim.size(); ++i) {
      for (size_t j = 0; j < sim.size(); ++j) {
        if (i != j) all_up = all_up && sim.engine(i).liveness(sim.engine(j).id()) == gossip::PeerLiveness::kUp;
      }
    }
  }
  EXPECT_EQ(false_downs, 0u) << "seed " << seed;
  EXPECT_TRUE(all_up) << "seed " << seed;
}

// Two established owners move onto the same token on the two sides of a split. Neither move
// completes while the split lasts (its barrier waits for the members it cannot reach); after the
// heal the one announced later yields before it routed anything differently, the other completes.
// One owner, and nobody had to lose a claim.
TEST_P(Seeds, TwoMovesOntoOneTokenAcrossASplitEndWithOneOwner) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  split(sim, {0, 1, 2}, {3, 4});
  const Token contested(0x5555'5555'5555'5555ULL + seed);
  for (size_t mover : {1u, 4u}) {
    std::vector<Token> next = gossiped_tokens(sim.engine(mover), sim.engine(mover).id());
    next.front() = contested;
    ASSERT_EQ(sim.engine(mover).move_tokens(next, sim.now()), "");
    sim.run_until(sim.now() + 500);
  }
  sim.run_until(sim.now() + 10'000);
  for (size_t mover : {1u, 4u}) {
    EXPECT_EQ(sim.engine(mover).own_change()->step, gossip::ChangeStep::kAnnounce) << "seed " << seed;
    EXPECT_FALSE(sim.engine(mover).change_waiting_for().empty());
  }
  sim.heal_all();
  EXPECT_EQ(run_until_settled(sim, 60'000), "") << "seed " << seed;
  auto ring = sim.engine(0).ring();
  const RingNode* a = ring->find(sim.engine(1).id());
  const RingNode* b = ring->find(sim.engine(4).id());
  EXPECT_EQ(a->tokens.size(), 16u);
  EXPECT_EQ(b->tokens.size(), 16u);
  const bool a_has = std::binary_search(a->tokens.begin(), a->tokens.end(), contested);
  const bool b_has = std::binary_search(b->tokens.begin(), b->tokens.end(), contested);
  EXPECT_NE(a_has, b_has) << "exactly one has it";
  const auto ca = sim.engine(1).own_change(), cb = sim.engine(4).own_change();
  EXPECT_EQ(ca->step == gossip::ChangeStep::kDone, a_has);
  EXPECT_EQ(cb->step == gossip::ChangeStep::kDone, b_has);
  EXPECT_EQ((a_has ? cb : ca)->step, gossip::ChangeStep::kAborted);
  EXPECT_EQ(sim.engine(1).stats().claims_lost + sim.engine(4).stats().claims_lost, 0u);
}

// A node removed by an operator while it was cut off learns it on the heal and goes silent
// instead of claiming tokens as a zombie.
TEST_P(Seeds, ARemovedNodeThatLearnsItStops) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  split(sim, {0, 1, 2, 3}, {4});
  ASSERT_TRUE(wait_sides_down(sim, {0}, {4}));
  ASSERT_EQ(sim.engine(0).remove_node(sim.engine(4).id(), sim.now()), "");
  sim.run_until(sim.now() + 5'000);
  sim.heal_all();
  const Millis deadline = sim.now() + 30'000;
  while (!sim.engine(4).removed() && sim.now() < deadline) sim.run_until(sim.now() + 250);
  EXPECT_TRUE(sim.engine(4).removed()) << "seed " << seed;
  EXPECT_TRUE(sim.engine(4).tick(sim.now() + 10'000).empty()) << "a removed node sends nothing";
  sim.crash(4);  // what the runtime does next: the process exits
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  const RingNode* gone = sim.engine(0).ring()->find(sim.engine(4).id());
  EXPECT_TRUE(gone == nullptr || gone->tokens.empty());
}

// A node's data dir is restored from a backup taken before it moved a token away, and another
// owner has claimed that token since. The restarted node learns from its peers that they know a
// newer record of it than its data dir holds, adopts that record, and the old token stays with its
// new owner: old tokens never win.
TEST_P(Seeds, ARestoredBackupNeverBringsBackOldTokens) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  const SimCluster::DataDir dir = sim.backup(0);
  const std::vector<Token> old_tokens = gossiped_tokens(sim.engine(0), sim.engine(0).id());
  const Token freed = old_tokens.front();
  const Token fresh(0x1234'5678'9abc'def0ULL + seed);
  std::vector<Token> next = old_tokens;
  next.front() = fresh;
  ASSERT_EQ(sim.engine(0).move_tokens(next, sim.now()), "");
  ASSERT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  std::vector<Token> taken = gossiped_tokens(sim.engine(1), sim.engine(1).id());
  taken.front() = freed;
  ASSERT_EQ(sim.engine(1).move_tokens(taken, sim.now()), "");
  ASSERT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;

  sim.crash(0);
  sim.restore(0, dir);
  EXPECT_EQ(run_until_settled(sim, 60'000), "") << "seed " << seed;
  auto ring = sim.engine(2).ring();
  const RingNode* restored = ring->find(sim.engine(0).id());
  const RingNode* taker = ring->find(sim.engine(1).id());
  ASSERT_TRUE(restored && taker);
  EXPECT_TRUE(std::binary_search(taker->tokens.begin(), taker->tokens.end(), freed)) << "seed " << seed;
  EXPECT_TRUE(std::binary_search(restored->tokens.begin(), restored->tokens.end(), fresh)) << "seed " << seed;
  EXPECT_EQ(sim.engine(1).stats().claims_lost, 0u) << "seed " << seed;
  EXPECT_EQ(sim.engine(0).stats().data_dir_behind, 1u) << "seed " << seed;
}

// A node restarts in the generation it last ran with (`--reset-generation` twice within a second,
// or a data dir copied from an earlier moment of the same run): its peers hold higher versions of
// its entry than it remembers. It must not reuse those versions for other values: what it sets
// now reaches every peer.
TEST_P(Seeds, VersionsAreNeverReusedWithinAGeneration) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  const SimCluster::DataDir dir = sim.backup(0);
  for (int k = 0; k < 20; ++k) ASSERT_EQ(sim.engine(0).set_application_value("v", std::to_string(k)), "");
  ASSERT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  const gossip::Generation generation = sim.engine(0).config().generation;
  sim.crash(0);
  sim.restore(0, dir, generation);
  ASSERT_EQ(sim.engine(0).set_application_value("v", "after"), "");
  const NodeId id = sim.engine(0).id();
  auto everyone_sees = [&] {
    for (size_t i = 0; i < sim.size(); ++i) {
      const gossip::NodeState* st = sim.engine(i).state().find(id);
      const gossip::VersionedValue* v = st ? st->get("x.v") : nullptr;
      if (!v || v->value != "after") return false;
    }
    return true;
  };
  const Millis deadline = sim.now() + 30'000;
  while (!everyone_sees() && sim.now() < deadline) sim.run_until(sim.now() + 250);
  EXPECT_TRUE(everyone_sees()) << "seed " << seed;
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
}

// A rolling upgrade: half the cluster runs the previous build (the previous wire version). The
// mixed cluster forms, converges and detects crashes on both builds without a refused frame;
// upgraded one node at a time, it ends speaking only the newest version.
TEST_P(Seeds, ARollingUpgradeKeepsTheClusterWhole) {
  const uint64_t seed = GetParam();
  SimOptions o;
  o.seed = seed;
  SimCluster sim(o);
  sim.add_node({SimCluster::kSelf});
  for (size_t i = 1; i < 6; ++i) sim.add_node({0});
  for (size_t old : {3u, 4u, 5u}) sim.set_wire_version(old, gossip::kMinWireVersion);
  ASSERT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  EXPECT_GT(sim.frames_by_version()[gossip::kMinWireVersion], 0u);
  EXPECT_GT(sim.frames_by_version()[gossip::kWireVersion], 0u) << "new nodes speak the new version to each other";

  // Crashes are detected across builds: a new node and an old one.
  sim.crash(1);
  sim.crash(4);
  auto all_see_down = [&] {
    for (size_t i : {0u, 2u, 3u, 5u}) {
      for (size_t dead : {1u, 4u}) {
        if (sim.engine(i).liveness(sim.engine(dead).id()) != gossip::PeerLiveness::kDown) return false;
      }
    }
    return true;
  };
  const Millis deadline = sim.now() + 30'000;
  while (!all_see_down() && sim.now() < deadline) sim.run_until(sim.now() + 250);
  EXPECT_TRUE(all_see_down()) << "seed " << seed;
  sim.restart(1);
  sim.restart(4);
  ASSERT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;

  // One node at a time: stop, upgrade, start.
  for (size_t old : {3u, 4u, 5u}) {
    sim.crash(old);
    sim.set_wire_version(old, gossip::kWireVersion);
    sim.restart(old);
    ASSERT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed << " node " << old;
  }
  sim.run_until(sim.now() + 5'000);
  const uint64_t old_frames = sim.frames_by_version()[gossip::kMinWireVersion];
  sim.run_until(sim.now() + 30'000);
  EXPECT_EQ(sim.frames_by_version()[gossip::kMinWireVersion], old_frames) << "upgraded: no frame of the old version";
  EXPECT_EQ(sim.frames_refused(), 0u) << "seed " << seed;
  EXPECT_EQ(settled(sim), "") << "seed " << seed;
}

// Where node `viewer` sees the change of node `subject`: -1 not yet, 0..3 its phase, 4 done or
// aborted (the cluster routes as after it).
int step_seen(SimCluster& sim, size_t viewer, const NodeId& subject, const NodeId& change) {
  const gossip::NodeState* st = sim.engine(viewer).state().find(subject);
  const gossip::VersionedValue* v = st ? st->get(gossip::keys::kChange) : nullptr;
  const auto c = v ? gossip::ChangeRecord::parse(v->value) : std::nullopt;
  if (!c || c->id != change) return -1;
  return std::min(static_cast<int>(c->step), 4);
}

// Samples a running change: the steps live members route by span at most two adjacent ones, and
// each member's write targets hold every owner any member reads from.
struct ChangeWatch {
  SimCluster& sim;
  NodeId subject, change;
  std::vector<Token> probes;
  int max_span = 0;
  std::string violation;
  std::set<int> steps_seen;
  std::map<size_t, std::pair<int, uint64_t>> last;  // per node: last step seen, ring version then

  void sample() {
    int lo = 5, hi = -2;
    for (size_t i = 0; i < sim.size(); ++i) {
      if (!sim.alive(i)) continue;
      const int s = step_seen(sim, i, subject, change);
      lo = std::min(lo, s);
      hi = std::max(hi, s);
      steps_seen.insert(s);
      // A node that routes by a later step holds a higher ring version (fencing).
      const uint64_t v = sim.engine(i).ring()->version();
      auto it = last.find(i);
      if (it != last.end() && s > it->second.first && v <= it->second.second && violation.empty()) {
        violation = "node " + std::to_string(i) + " reached step " + std::to_string(s) + " without a higher ring version";
      }
      if (it == last.end() || s != it->second.first) last[i] = {s, v};
    }
    max_span = std::max(max_span, hi - lo);
    for (Token t : probes) {
      std::set<NodeId> reads;
      for (size_t i = 0; i < sim.size(); ++i) {
        if (sim.alive(i)) {
          for (const NodeId& n : sim.engine(i).ring()->natural_replicas(t)) reads.insert(n);
        }
      }
      for (size_t i = 0; i < sim.size() && violation.empty(); ++i) {
        if (!sim.alive(i)) continue;
        const auto w = sim.engine(i).ring()->write_targets(t);
        for (const NodeId& r : reads) {
          if (std::find(w.begin(), w.end(), r) == w.end()) {
            violation = "t=" + std::to_string(sim.now()) + ": node " + std::to_string(i) + " does not write token " +
                        t.to_string() + " to " + r.to_string() + ", which another member reads from";
          }
        }
      }
    }
  }
  // Runs until the change ended on every live member, sampling every 20 ms.
  bool run(Millis within) {
    const Millis deadline = sim.now() + within;
    while (sim.now() < deadline) {
      sim.run_until(sim.now() + 20);
      sample();
      bool ended = true;
      for (size_t i = 0; i < sim.size(); ++i) ended = ended && (!sim.alive(i) || step_seen(sim, i, subject, change) == 4);
      if (ended) return true;
    }
    return false;
  }
};

ChangeWatch start_move(SimCluster& sim, size_t mover, uint64_t seed) {
  std::vector<Token> next = gossiped_tokens(sim.engine(mover), sim.engine(mover).id());
  for (size_t k = 0; k < next.size(); k += 2) next[k] = Token(next[k].value() + 0x1000'0000'0000ULL + seed);
  EXPECT_EQ(sim.engine(mover).move_tokens(next, sim.now()), "");
  ChangeWatch w{sim, sim.engine(mover).id(), sim.engine(mover).own_change()->id, {}};
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 32; ++k) w.probes.push_back(Token(rng()));
  for (Token t : next) w.probes.push_back(t);
  return w;
}

// A move under loss runs through every phase in order; at no instant do live members route by
// phases further apart than two adjacent ones, and every member's writes reach every owner any
// member reads from. It ends with the new tokens everywhere.
TEST_P(Seeds, AMoveRunsPhaseByPhaseWithWritesReachingEveryReader) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 6);
  SimCluster& sim = *owned;
  const std::vector<Token> before = gossiped_tokens(sim.engine(2), sim.engine(2).id());
  const uint64_t version_before = sim.engine(0).ring()->version();
  ChangeWatch w = start_move(sim, 2, seed);
  ASSERT_TRUE(w.run(60'000)) << "seed " << seed;
  // The ring version grew at every step (announce, four transitions) and is one number everywhere.
  EXPECT_GE(sim.engine(0).ring()->version(), version_before + 5) << "seed " << seed;
  EXPECT_LE(w.max_span, 1) << "seed " << seed;
  EXPECT_EQ(w.violation, "") << "seed " << seed;
  EXPECT_EQ(w.steps_seen, (std::set<int>{-1, 0, 1, 2, 3, 4})) << "seed " << seed;
  EXPECT_EQ(sim.engine(2).own_change()->step, gossip::ChangeStep::kDone);
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  EXPECT_NE(gossiped_tokens(sim.engine(0), sim.engine(2).id()), before);
  EXPECT_EQ(gossiped_tokens(sim.engine(0), sim.engine(2).id()), gossiped_tokens(sim.engine(2), sim.engine(2).id()));
  for (size_t i = 1; i < sim.size(); ++i) EXPECT_EQ(sim.engine(i).ring()->version(), sim.engine(0).ring()->version());
}

// A member that cannot be reached holds the move in its phase, and the mover names it; when the
// member comes back the move completes. Its crash in any phase, and the mover's own, are resumed
// from what was gossiped and persisted.
TEST_P(Seeds, AMoveWaitsForADownMemberAndResumesAfterCrashes) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  sim.crash(4);
  ChangeWatch w = start_move(sim, 1, seed);
  sim.run_until(sim.now() + 15'000);
  EXPECT_EQ(sim.engine(1).own_change()->step, gossip::ChangeStep::kAnnounce) << "seed " << seed;
  const auto& waiting = sim.engine(1).change_waiting_for();
  EXPECT_EQ(waiting, (std::vector<NodeId>{sim.engine(4).id()})) << "seed " << seed;
  sim.restart(4);
  // The mover crashes once it reached write_both, and comes back.
  const Millis deadline = sim.now() + 30'000;
  while (sim.engine(1).own_change()->step < gossip::ChangeStep::kWriteBoth && sim.now() < deadline) {
    sim.run_until(sim.now() + 20);
  }
  ASSERT_EQ(sim.engine(1).own_change()->step, gossip::ChangeStep::kWriteBoth) << "seed " << seed;
  sim.crash(1);
  sim.run_until(sim.now() + 3'000);
  sim.restart(1);
  ASSERT_TRUE(w.run(60'000)) << "seed " << seed;
  EXPECT_LE(w.max_span, 1) << "seed " << seed;
  EXPECT_EQ(w.violation, "") << "seed " << seed;
  EXPECT_EQ(sim.engine(1).own_change()->step, gossip::ChangeStep::kDone);
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
}

// The mover's data dir comes back from a moment in the middle of its move (a backup, or the
// unsynced tail lost with the host) after the cluster saw the move done: the node adopts the
// cluster's newer record of its own change instead of re-running it from the older step, so no
// member steps back, the ring version does not go down, and it ends with the new tokens.
TEST_P(Seeds, AMoverRestoredFromMidChangeDoesNotStepBack) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  ChangeWatch w = start_move(sim, 1, seed);
  const Millis deadline = sim.now() + 30'000;
  while (sim.engine(1).own_change()->step < gossip::ChangeStep::kWriteBoth && sim.now() < deadline) {
    sim.run_until(sim.now() + 20);
  }
  const SimCluster::DataDir mid = sim.backup(1);
  ASSERT_TRUE(w.run(60'000)) << "seed " << seed;
  ASSERT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  const std::vector<Token> moved = gossiped_tokens(sim.engine(0), sim.engine(1).id());
  const uint64_t version = sim.engine(0).ring()->version();
  sim.crash(1);
  sim.restore(1, mid);
  bool stepped_back = false;
  for (Millis end = sim.now() + 30'000; sim.now() < end;) {
    sim.run_until(sim.now() + 50);
    for (size_t i = 0; i < sim.size(); ++i) {
      stepped_back |= sim.alive(i) && i != 1 && sim.engine(i).ring()->version() < version;
    }
  }
  EXPECT_FALSE(stepped_back) << "seed " << seed;
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  EXPECT_EQ(gossiped_tokens(sim.engine(0), sim.engine(1).id()), moved) << "seed " << seed;
  EXPECT_EQ(sim.engine(1).own_change()->step, gossip::ChangeStep::kDone);
  EXPECT_GE(sim.engine(1).stats().data_dir_behind, 1u);
}

// An operator aborts a move before it reads from the new owners: it rolls back to the old tokens.
// One that reached read_new can only complete.
TEST_P(Seeds, AMoveAbortedBeforeReadNewRollsBack) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  const std::vector<Token> before = gossiped_tokens(sim.engine(3), sim.engine(3).id());
  ChangeWatch w = start_move(sim, 3, seed);
  const Millis deadline = sim.now() + 30'000;
  while (sim.engine(3).own_change()->step < gossip::ChangeStep::kWriteBoth && sim.now() < deadline) {
    sim.run_until(sim.now() + 20);
  }
  ASSERT_EQ(sim.engine(3).abort_change(w.change), "");
  EXPECT_NE(sim.engine(3).abort_change(w.change), "") << "only once";
  ASSERT_TRUE(w.run(30'000)) << "seed " << seed;
  EXPECT_EQ(w.violation, "") << "seed " << seed;
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  EXPECT_EQ(gossiped_tokens(sim.engine(0), sim.engine(3).id()), before);
  // A second move, let run to read_new, cannot be aborted.
  ChangeWatch again = start_move(sim, 3, seed + 100);
  while (sim.engine(3).own_change()->step < gossip::ChangeStep::kReadNew && sim.now() < deadline + 60'000) {
    sim.run_until(sim.now() + 20);
  }
  EXPECT_NE(sim.engine(3).abort_change(again.change), "");
  ASSERT_TRUE(again.run(30'000));
  EXPECT_EQ(sim.engine(3).own_change()->step, gossip::ChangeStep::kDone);
}

// Decommission: the node hands every range to its next owners phase by phase (the same
// invariants as a move), then is LEFT — owning nothing, still running — and a restart on its data
// dir is refused.
TEST_P(Seeds, ADecommissionHandsEveryRangeOverAndLeaves) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  const NodeId leaver = sim.engine(2).id();
  ASSERT_EQ(sim.engine(2).decommission(sim.now()), "");
  EXPECT_NE(sim.engine(2).decommission(sim.now()), "") << "once";
  ChangeWatch w{sim, leaver, sim.engine(2).own_change()->id, {}};
  sim.run_until(sim.now() + 1'000);
  EXPECT_NE(sim.engine(1).decommission(sim.now()), "") << "one change at a time";
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 48; ++k) w.probes.push_back(Token(rng()));
  ASSERT_TRUE(w.run(60'000)) << "seed " << seed;
  EXPECT_LE(w.max_span, 1) << "seed " << seed;
  EXPECT_EQ(w.violation, "") << "seed " << seed;
  EXPECT_EQ(sim.engine(2).own_status(), NodeStatus::kLeft);
  EXPECT_EQ(sim.engine(2).own_change()->step, gossip::ChangeStep::kDone);
  sim.run_until(sim.now() + 5'000);
  for (size_t i = 0; i < sim.size(); ++i) {
    const RingNode* n = sim.engine(i).ring()->find(leaver);
    EXPECT_TRUE(n && n->status == NodeStatus::kLeft && n->tokens.empty()) << "seed " << seed << " node " << i;
    EXPECT_EQ(sim.engine(i).ring()->current().size(), 4u * 16);
  }
  sim.crash(2);
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  sim.restart(2);
  EXPECT_FALSE(sim.alive(2)) << "a LEFT data dir does not start again";
}

// A decommission that would leave fewer nodes owning tokens than the replication factor is
// refused, saying how many would remain — down owners count, they still own their ranges — and,
// under the topology strategy, counted in the leaver's DC against that DC's factor.
TEST_P(Seeds, ADecommissionThatWouldLeaveFewerOwnersThanTheReplicationFactorIsRefused) {
  const uint64_t seed = GetParam();
  {
    auto owned = formed_cluster(seed, 3);  // RF 3
    SimCluster& sim = *owned;
    sim.crash(2);
    for (const Millis end = sim.now() + 30'000; sim.engine(0).liveness(sim.engine(2).id()) != gossip::PeerLiveness::kDown &&
                                                 sim.now() < end;) {
      sim.run_until(sim.now() + 100);
    }
    const std::string why = sim.engine(1).decommission(sim.now());
    EXPECT_NE(why.find("would leave 2 nodes owning tokens"), std::string::npos) << why;
    EXPECT_NE(why.find("replication factor 3"), std::string::npos) << why;
    EXPECT_FALSE(sim.engine(1).own_change()) << "nothing started";
  }
  SimOptions o;
  o.seed = seed;
  std::string error;
  o.replication = *ReplicationConfig::parse("topology", "east:2,west:2", &error);
  SimCluster sim(o);
  auto in = [](const char* dc, const char* rack) {
    gossip::JoinSettings j;
    j.dc = dc;
    j.rack = rack;
    return j;
  };
  sim.add_node({SimCluster::kSelf}, in("east", "r1"));
  sim.add_node({0}, in("east", "r2"));
  sim.add_node({0}, in("east", "r3"));
  sim.add_node({0}, in("west", "r1"));
  sim.add_node({0}, in("west", "r2"));
  ASSERT_EQ(run_until_settled(sim, 15'000), "") << "seed " << seed;
  const std::string west = sim.engine(4).decommission(sim.now());
  EXPECT_NE(west.find("would leave 1 node owning tokens in datacenter west"), std::string::npos) << west;
  EXPECT_NE(west.find("its replication factor 2"), std::string::npos) << west;
  EXPECT_EQ(sim.engine(2).decommission(sim.now()), "") << "east keeps 2 of its 2";
}

// Rebalance on each node in turn brings a cluster that started with random tokens to balance:
// each node moves (a phased change) to the tokens the allocator gives it against the others.
TEST_P(Seeds, RebalancingEachNodeInTurnBalancesARandomRing) {
  const uint64_t seed = GetParam();
  SimOptions o;
  o.seed = seed;
  SimCluster sim(o);
  sim.add_preconverged(10);
  sim.run_until(2'000);
  const double before = sim.engine(0).ring()->balance();
  int moved = 0;
  for (size_t i = 0; i < sim.size(); ++i) {
    std::vector<Token> next = sim.engine(i).rebalance_tokens();
    if (next.empty()) continue;
    ASSERT_EQ(sim.engine(i).move_tokens(next, sim.now(), gossip::ChangeKind::kRebalance), "");
    ++moved;
    const Millis deadline = sim.now() + 60'000;
    while (sim.engine(i).own_change()->step != gossip::ChangeStep::kDone && sim.now() < deadline) {
      sim.run_until(sim.now() + 100);
    }
    ASSERT_EQ(sim.engine(i).own_change()->step, gossip::ChangeStep::kDone) << "seed " << seed << " node " << i;
    ASSERT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  }
  const double after = sim.engine(0).ring()->balance();
  std::printf("rebalance seed %llu: max/mean %.3f -> %.3f, %d of 10 nodes moved\n",
              static_cast<unsigned long long>(seed), before, after, moved);
  EXPECT_LE(after, 1.05) << "seed " << seed;
  EXPECT_LT(after, before);
}

// Runs until `viewer` sees every node in `dead` down.
bool wait_seen_down(SimCluster& sim, size_t viewer, const std::vector<size_t>& dead, Millis within) {
  const Millis deadline = sim.now() + within;
  auto all_down = [&] {
    for (size_t d : dead) {
      if (sim.engine(viewer).liveness(sim.engine(d).id()) != gossip::PeerLiveness::kDown) return false;
    }
    return true;
  };
  while (!all_down() && sim.now() < deadline) sim.run_until(sim.now() + 100);
  return all_down();
}

ChangeWatch watch_removal(SimCluster& sim, size_t coordinator, const NodeId& dead, uint64_t seed) {
  auto removal = sim.engine(coordinator).removal_of(dead);
  EXPECT_TRUE(removal.has_value());
  ChangeWatch w{sim, sim.engine(coordinator).id(), removal ? removal->second.id : NodeId(), {}};
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 48; ++k) w.probes.push_back(Token(rng()));
  return w;
}

bool tombstone_everywhere(SimCluster& sim, const NodeId& id) {
  for (size_t i = 0; i < sim.size(); ++i) {
    if (!sim.alive(i)) continue;
    const gossip::NodeState* st = sim.engine(i).state().find(id);
    if (!st || !st->is_tombstone()) return false;
  }
  return true;
}

// removenode of a dead node runs as a change its operator's node coordinates on the dead node's
// behalf: the dead node is LEAVING in the change's phase, its ranges reach their next owners
// under the same invariants as a move (span <= 1, writes reach every reader), the barrier does
// not wait for it, and at done its tombstone is written.
TEST_P(Seeds, ARemovenodeHandsADeadNodesRangesOverPhaseByPhase) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 6);
  SimCluster& sim = *owned;
  const NodeId dead = sim.engine(4).id();
  sim.crash(4);
  ASSERT_TRUE(wait_seen_down(sim, 0, {4}, 30'000)) << "seed " << seed;
  const uint64_t version_before = sim.engine(0).ring()->version();
  ASSERT_EQ(sim.engine(0).remove_node(dead, sim.now()), "");
  EXPECT_EQ(sim.engine(0).remove_node(dead, sim.now()), "") << "again: the removal in flight answers";
  EXPECT_EQ(sim.engine(0).own_status(), NodeStatus::kNormal) << "the coordinator's own ownership does not change";
  ChangeWatch w = watch_removal(sim, 0, dead, seed);
  const RingNode* subject = sim.engine(0).ring()->find(dead);
  ASSERT_TRUE(subject);
  EXPECT_EQ(subject->status, NodeStatus::kLeaving);
  EXPECT_EQ(sim.engine(0).state().find(dead)->get(gossip::keys::kStatus)->value, "NORMAL") << "its entry is its own";
  ASSERT_TRUE(w.run(60'000)) << "seed " << seed;
  EXPECT_LE(w.max_span, 1) << "seed " << seed;
  EXPECT_EQ(w.violation, "") << "seed " << seed;
  EXPECT_EQ(w.steps_seen, (std::set<int>{-1, 0, 1, 2, 3, 4})) << "seed " << seed;
  EXPECT_EQ(sim.engine(0).own_change()->step, gossip::ChangeStep::kDone);
  EXPECT_GE(sim.engine(0).ring()->version(), version_before + 5) << "seed " << seed;
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  EXPECT_TRUE(tombstone_everywhere(sim, dead)) << "seed " << seed;
  for (size_t i = 0; i < sim.size(); ++i) {
    if (sim.alive(i)) {
      EXPECT_EQ(sim.engine(i).ring()->current().size(), 5u * 16) << "seed " << seed;
    }
  }
}

// A removal that waits for a second dead member names it; removenode of that member is refused
// without --force while the first removal is in flight, and with it writes the tombstone at
// once, which unblocks the first. An operator may abort a removal before read_new.
TEST_P(Seeds, ARemovalBlockedByAnotherDeadNodeIsUnblockedByForce) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 6);
  SimCluster& sim = *owned;
  const NodeId a = sim.engine(4).id(), b = sim.engine(5).id();
  sim.crash(4);
  sim.crash(5);
  ASSERT_TRUE(wait_seen_down(sim, 0, {4, 5}, 30'000)) << "seed " << seed;
  ASSERT_EQ(sim.engine(0).remove_node(a, sim.now()), "");
  ChangeWatch w = watch_removal(sim, 0, a, seed);
  sim.run_until(sim.now() + 10'000);
  EXPECT_EQ(sim.engine(0).own_change()->step, gossip::ChangeStep::kAnnounce) << "seed " << seed;
  EXPECT_EQ(sim.engine(0).change_waiting_for(), (std::vector<NodeId>{b})) << "seed " << seed;
  const std::string refused = sim.engine(1).remove_node(b, sim.now());
  EXPECT_NE(refused.find("--force"), std::string::npos) << refused;
  ASSERT_EQ(sim.engine(1).remove_node(b, sim.now(), true), "");
  EXPECT_TRUE(sim.engine(1).state().find(b)->is_tombstone()) << "at once";
  // A forced removal has no data phases: while its tombstone spreads, members that hold it read
  // b's ranges from owners that members without it do not write to (what --force risks,
  // docs/operations.md). The phased removal's invariants are checked from then on.
  for (const Millis end = sim.now() + 30'000; !tombstone_everywhere(sim, b) && sim.now() < end;) {
    sim.run_until(sim.now() + 20);
  }
  ASSERT_TRUE(tombstone_everywhere(sim, b)) << "seed " << seed;
  w.violation.clear();
  ASSERT_TRUE(w.run(60'000)) << "seed " << seed;
  EXPECT_EQ(w.violation, "") << "seed " << seed;
  EXPECT_EQ(sim.engine(0).own_change()->step, gossip::ChangeStep::kDone);
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  EXPECT_TRUE(tombstone_everywhere(sim, a) && tombstone_everywhere(sim, b)) << "seed " << seed;
  // Abort: a removal rolled back before read_new leaves the dead node a member, NORMAL again.
  const NodeId c = sim.engine(3).id();
  sim.crash(3);
  ASSERT_TRUE(wait_seen_down(sim, 1, {3}, 30'000)) << "seed " << seed;
  ASSERT_EQ(sim.engine(1).remove_node(c, sim.now()), "");
  const NodeId removal = sim.engine(1).own_change()->id;
  ASSERT_EQ(sim.engine(1).abort_change(removal), "");
  sim.run_until(sim.now() + 10'000);
  EXPECT_FALSE(sim.engine(0).removal_of(c)) << "seed " << seed;
  EXPECT_EQ(sim.engine(0).ring()->find(c)->status, NodeStatus::kNormal) << "seed " << seed;
  EXPECT_FALSE(sim.engine(0).state().find(c)->is_tombstone()) << "seed " << seed;
}

// A node joining a running cluster runs its join as a phased change: once its claim is agreed
// on, write_both (it streams what it gains; the data barrier), read_new, release, then NORMAL —
// under the same invariants as a move. Nodes founding a cluster together skip the data phases.
TEST_P(Seeds, AJoinIntoARunningClusterRunsPhaseByPhase) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  for (size_t i = 0; i < sim.size(); ++i) {
    const auto c = sim.engine(i).own_change();
    EXPECT_TRUE(!c || c->kind != gossip::ChangeKind::kJoin) << "founders need no join change (seed " << seed << ")";
  }
  const uint64_t version_before = sim.engine(0).ring()->version();
  const size_t joiner = sim.add_node({0});
  const NodeId id = sim.engine(joiner).id();
  const Millis deadline = sim.now() + 30'000;
  while (!sim.engine(joiner).own_change() && sim.now() < deadline) sim.run_until(sim.now() + 20);
  ASSERT_TRUE(sim.engine(joiner).own_change()) << "seed " << seed;
  const gossip::ChangeRecord join = *sim.engine(joiner).own_change();
  EXPECT_EQ(join.kind, gossip::ChangeKind::kJoin);
  EXPECT_EQ(join.step, gossip::ChangeStep::kAnnounce);
  EXPECT_EQ(sim.engine(joiner).own_status(), NodeStatus::kJoining);
  EXPECT_NE(sim.engine(joiner).abort_change(join.id), "") << "a join cannot be rolled back";
  ChangeWatch w{sim, id, join.id, {}};
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 48; ++k) w.probes.push_back(Token(rng()));
  ASSERT_TRUE(w.run(60'000)) << "seed " << seed;
  EXPECT_LE(w.max_span, 1) << "seed " << seed;
  EXPECT_EQ(w.violation, "") << "seed " << seed;
  EXPECT_TRUE(w.steps_seen.count(2) && w.steps_seen.count(3)) << "read_new and release were passed";
  EXPECT_EQ(sim.engine(joiner).own_status(), NodeStatus::kNormal);
  EXPECT_GE(sim.engine(0).ring()->version(), version_before + 4) << "seed " << seed;
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  EXPECT_EQ(sim.engine(0).ring()->find(id)->tokens.size(), 16u);
}

// A new node started to replace a dead one (ringd --replace) waits to see it down, takes over
// its tokens and runs a phased change on its behalf: the dead node LEAVING, the new one JOINING
// with the same tokens (no conflict), the same invariants as a move; at done the new node is
// NORMAL with the dead node's tokens and the dead node is REMOVED.
TEST_P(Seeds, ANewNodeReplacesADeadOnePhaseByPhase) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  const NodeId dead = sim.engine(3).id();
  const std::vector<Token> tokens = gossiped_tokens(sim.engine(0), dead);
  sim.crash(3);
  gossip::JoinSettings replace;
  replace.replace = dead;
  const size_t r = sim.add_node({0}, replace);
  const NodeId id = sim.engine(r).id();
  const Millis deadline = sim.now() + 60'000;
  while (!sim.engine(r).own_change() && sim.now() < deadline) sim.run_until(sim.now() + 20);
  ASSERT_TRUE(sim.engine(r).own_change()) << "seed " << seed;
  EXPECT_EQ(sim.engine(r).liveness(dead), gossip::PeerLiveness::kDown) << "only once it saw it down";
  const gossip::ChangeRecord change = *sim.engine(r).own_change();
  EXPECT_EQ(change.kind, gossip::ChangeKind::kReplace);
  EXPECT_EQ(change.subject, dead);
  EXPECT_NE(sim.engine(r).abort_change(change.id), "");
  ChangeWatch w{sim, id, change.id, {}};
  std::mt19937_64 rng(seed);
  for (int k = 0; k < 48; ++k) w.probes.push_back(Token(rng()));
  for (Token t : tokens) w.probes.push_back(t);
  ASSERT_TRUE(w.run(60'000)) << "seed " << seed;
  EXPECT_LE(w.max_span, 1) << "seed " << seed;
  EXPECT_EQ(w.violation, "") << "seed " << seed;
  EXPECT_EQ(w.steps_seen, (std::set<int>{0, 1, 2, 3, 4})) << "seed " << seed;
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  EXPECT_EQ(sim.engine(r).own_status(), NodeStatus::kNormal);
  EXPECT_EQ(gossiped_tokens(sim.engine(0), id), tokens) << "it took over exactly the dead node's tokens";
  EXPECT_EQ(sim.engine(0).ring()->find(id)->tokens, tokens);
  EXPECT_TRUE(tombstone_everywhere(sim, dead)) << "seed " << seed;
  EXPECT_EQ(sim.engine(r).stats().claims_lost, 0u);
}

// A node that dies in the middle of its own move (here in write_both) holds the move forever; a
// new node replacing it takes its current (old) tokens, the dead mover's change is abandoned,
// and the cluster settles with no change in flight.
TEST_P(Seeds, AMoverThatDiedMidMoveIsReplacedWithItsOldTokens) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 5);
  SimCluster& sim = *owned;
  const NodeId dead = sim.engine(3).id();
  const std::vector<Token> old_tokens = gossiped_tokens(sim.engine(0), dead);
  (void)start_move(sim, 3, seed);
  for (const Millis end = sim.now() + 30'000;
       sim.engine(3).own_change()->step < gossip::ChangeStep::kWriteBoth && sim.now() < end;) {
    sim.run_until(sim.now() + 20);
  }
  ASSERT_EQ(sim.engine(3).own_change()->step, gossip::ChangeStep::kWriteBoth);
  sim.crash(3);
  gossip::JoinSettings replace;
  replace.replace = dead;
  const size_t r = sim.add_node({0}, replace);
  for (const Millis end = sim.now() + 90'000; sim.engine(r).own_status() != NodeStatus::kNormal && sim.now() < end;) {
    sim.run_until(sim.now() + 100);
  }
  ASSERT_EQ(sim.engine(r).own_status(), NodeStatus::kNormal) << "seed " << seed << ": " << sim.engine(r).fatal();
  EXPECT_EQ(run_until_settled(sim, 30'000), "") << "seed " << seed;
  EXPECT_EQ(sim.engine(0).ring()->find(sim.engine(r).id())->tokens, old_tokens);
  EXPECT_TRUE(tombstone_everywhere(sim, dead));
  EXPECT_FALSE(sim.engine(0).active_change()) << "the dead mover's change was abandoned";
}

// --replace of a node the cluster does not have, or of one that is not NORMAL, stops the node
// with a reason instead of claiming anything. It is LEFT by then, and its next exchange hands
// that to a peer (own_entry_shared, what the runtime waits for before it stops): once it is
// gone, every member holds it LEFT, so no barrier waits for it.
TEST_P(Seeds, AReplaceOfANodeThatIsNotThereIsFatal) {
  const uint64_t seed = GetParam();
  auto owned = formed_cluster(seed, 3);
  SimCluster& sim = *owned;
  gossip::JoinSettings replace;
  replace.replace = NodeId::from_random_bits(seed, 77);
  const size_t r = sim.add_node({0}, replace);
  const Millis deadline = sim.now() + 30'000;
  while (sim.engine(r).fatal().empty() && sim.now() < deadline) sim.run_until(sim.now() + 100);
  EXPECT_NE(sim.engine(r).fatal().find("no such node"), std::string::npos) << sim.engine(r).fatal();
  EXPECT_FALSE(sim.engine(r).own_change());
  const RingNode* seen = sim.engine(0).ring()->find(sim.engine(r).id());
  EXPECT_TRUE(seen == nullptr || seen->tokens.empty()) << "it claimed nothing";
  for (const Millis end = sim.now() + 2'000; !sim.engine(r).own_entry_shared() && sim.now() < end;) {
    sim.run_until(sim.now() + 10);
  }
  ASSERT_TRUE(sim.engine(r).own_entry_shared()) << "seed " << seed;
  sim.crash(r);
  auto left_everywhere = [&] {
    for (size_t i = 0; i < 3; ++i) {
      const RingNode* n = sim.engine(i).ring()->find(sim.engine(r).id());
      if (!n || n->status != NodeStatus::kLeft) return false;
    }
    return true;
  };
  for (const Millis end = sim.now() + 10'000; !left_everywhere() && sim.now() < end;) sim.run_until(sim.now() + 100);
  EXPECT_TRUE(left_everywhere()) << "seed " << seed;
}

INSTANTIATE_TEST_SUITE_P(Ownership, Seeds, ::testing::Values(1, 2, 3));

}  // namespace
}  // namespace ringkeeper::sim
