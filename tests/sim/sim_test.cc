// Seeded simulator scenarios: random cuts, partitions, loss, stalls, crashes, wipes and ownership
// changes, then heal; every live node must end with the identical cluster state and ring digest
// and the ownership invariants must hold. Failures print their seed and what failed;
// RINGKEEPER_SOAK=1 runs thousands of seeds. Also the simulator's own fault API.
#include "sim/sim.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "ring/test_util.h"
#include "sim/scenarios.h"

namespace ringkeeper::sim {
namespace {

bool all_live_agree(SimCluster& sim) {
  std::optional<uint64_t> summary;
  for (size_t i = 0; i < sim.size(); ++i) {
    if (!sim.alive(i)) continue;
    const uint64_t s = sim.engine(i).state().summary();
    if (summary && *summary != s) return false;
    summary = s;
  }
  return true;
}

TEST(SimTest, FreshNodesFindEachOtherThroughOneSeed) {
  SimOptions o;
  o.seed = 5;
  SimCluster sim(o);
  for (int i = 0; i < 8; ++i) sim.add_node({0});
  sim.run_until(20'000);
  EXPECT_TRUE(all_live_agree(sim));
  for (size_t i = 0; i < sim.size(); ++i) EXPECT_EQ(sim.engine(i).state().size(), 8u);
}

// Nodes with the same ring-relevant state must share one snapshot: 10,000 simulated nodes
// cannot afford one each (a stray term in the ring-input hash once made every node build its own).
TEST(SimTest, PreconvergedNodesShareOneRingSnapshot) {
  SimOptions o;
  o.seed = 21;
  SimCluster sim(o);
  sim.add_preconverged(50);
  sim.run_until(3'000);
  for (size_t i = 1; i < sim.size(); ++i) {
    ASSERT_EQ(sim.engine(i).ring().get(), sim.engine(0).ring().get()) << "node " << i;
  }
}

// Faults with ownership changes during them (joins on both sides of a split, token moves, some
// onto claimed tokens, removals, restarts, wipes), then heal: every check in chaos_kind must
// hold. Replay a failing seed with `ringsim chaos --runs 1 --nodes 10 --seed S`; RINGSIM_DEBUG=1
// prints its timeline and end state.
TEST(SimTest, OwnershipChangesUnderFaultsHoldTheInvariantsAfterHeal) {
  constexpr size_t kNodes = 10;
  const int seeds = testing::seed_count(200, 5000);
  std::map<std::string, std::vector<int>> by_kind;
  std::string examples;
  int failed = 0;
  for (int seed = 1; seed <= seeds; ++seed) {
    ChaosResult r = run_chaos(seed, kNodes);
    if (r.ok()) continue;
    for (const std::string& kind : r.kinds) by_kind[kind].push_back(seed);
    if (++failed <= 5) examples += "\n  seed " + std::to_string(seed) + ": " + r.failure;
  }
  std::string kinds;
  for (const auto& [kind, failing] : by_kind) {
    kinds += "\n  " + kind + ": " + std::to_string(failing.size()) + " seeds:";
    for (size_t k = 0; k < failing.size() && k < 20; ++k) kinds += " " + std::to_string(failing[k]);
    if (failing.size() > 20) kinds += " ...";
  }
  EXPECT_EQ(failed, 0) << failed << " of " << seeds << " seeds (N=" << kNodes << ") failed; replay one with "
                       << "`ringsim chaos --runs 1 --nodes " << kNodes << " --seed S`. By kind:" << kinds
                       << "\nFirst failures:" << examples;
}

// A failing seed must replay exactly: the same run twice ends the same way, at any size.
TEST(SimTest, ChaosRunsReplayExactly) {
  for (size_t nodes : {2u, 3u, 5u, 10u}) {
    for (uint64_t seed = 1; seed <= 6; ++seed) {
      ChaosResult a = run_chaos(seed, nodes);
      ChaosResult b = run_chaos(seed, nodes);
      EXPECT_EQ(a.kinds, b.kinds) << "seed " << seed << ", " << nodes << " nodes";
      EXPECT_EQ(a.failure, b.failure) << "seed " << seed << ", " << nodes << " nodes";
      EXPECT_EQ(a.end_summary, b.end_summary) << "seed " << seed << ", " << nodes << " nodes";
      EXPECT_EQ(a.end_time, b.end_time) << "seed " << seed << ", " << nodes << " nodes";
      EXPECT_NE(a.end_summary, 0u);
    }
  }
}

TEST(SimTest, WipedNodeComesBackWithANewIdAtItsAddressAndJoins) {
  SimOptions o;
  o.seed = 31;
  SimCluster sim(o);
  sim.add_preconverged(5);
  sim.run_until(2'000);
  const NodeId old_id = sim.engine(3).id();
  sim.crash(3);
  const Millis crashed_at = sim.now();
  while (sim.engine(0).liveness(old_id) != gossip::PeerLiveness::kDown && sim.now() < crashed_at + 20'000) {
    sim.run_until(sim.now() + 250);
  }
  ASSERT_EQ(sim.engine(0).remove_node(old_id, sim.now()), "");
  sim.wipe(3, {0});
  const NodeId new_id = sim.engine(3).id();
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(sim.engine(3).config().address, "sim:3");
  EXPECT_TRUE(sim.engine(3).config().cluster_id.is_nil()) << "no state: the cluster id is learned again";
  EXPECT_EQ(sim.index_of(new_id), 3u);
  EXPECT_EQ(sim.index_of(old_id), sim.size()) << "no process runs the old id";
  const Millis wiped_at = sim.now();
  while ((sim.engine(3).own_status() != NodeStatus::kNormal || !all_live_agree(sim)) &&
         sim.now() < wiped_at + 30'000) {
    sim.run_until(sim.now() + 250);
  }
  ASSERT_EQ(sim.engine(3).own_status(), NodeStatus::kNormal);
  ASSERT_TRUE(all_live_agree(sim));
  for (size_t i = 0; i < sim.size(); ++i) {
    EXPECT_TRUE(sim.engine(i).state().find(old_id)->is_tombstone()) << "node " << i;
    const RingNode* n = sim.engine(i).ring()->find(new_id);
    ASSERT_NE(n, nullptr) << "node " << i;
    EXPECT_EQ(n->tokens.size(), 16u) << "node " << i;
  }
  // A second wipe at the same address gives yet another id.
  sim.wipe(3, {0});
  EXPECT_NE(sim.engine(3).id(), new_id);
  EXPECT_NE(sim.engine(3).id(), old_id);
}

TEST(SimTest, PartitionCutsBothWaysBetweenGroupsUntilHealed) {
  SimOptions o;
  o.seed = 32;
  SimCluster sim(o);
  sim.add_preconverged(5);
  sim.run_until(2'000);
  size_t sent_by_0 = 0;
  sim.set_tap([&](size_t from, const gossip::Message&) { sent_by_0 += from == 0; });
  sim.partition({{0, 1, 2}, {3, 4}});
  sim.run_until(sim.now() + 20'000);
  auto view = [&](size_t observer, size_t target) {
    return sim.engine(observer).liveness(sim.engine(target).id());
  };
  EXPECT_EQ(view(0, 3), gossip::PeerLiveness::kDown);
  EXPECT_EQ(view(4, 2), gossip::PeerLiveness::kDown);
  EXPECT_EQ(view(0, 1), gossip::PeerLiveness::kUp);
  EXPECT_EQ(view(3, 4), gossip::PeerLiveness::kUp);
  EXPECT_GT(sent_by_0, 0u) << "the tap sees what a node sends, cut or not";
  sim.engine(0).set_local("x.split", "majority");
  sim.run_until(sim.now() + 5'000);
  auto has_value = [&](size_t i) {
    const gossip::NodeState* st = sim.engine(i).state().find(sim.engine(0).id());
    return st && st->get("x.split") != nullptr;
  };
  EXPECT_TRUE(has_value(2));
  EXPECT_FALSE(has_value(3));
  sim.heal_all();
  sim.run_until(sim.now() + 10'000);
  EXPECT_TRUE(has_value(3));
  EXPECT_TRUE(all_live_agree(sim));
}

// The partition scenario itself (what `ringsim partition` runs): each side sees the other down
// before the heal, and every node agrees again after it.
TEST(SimTest, SplitIsSeenOnBothSidesAndHeals) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    PartitionHealResult r = run_partition_heal(seed, 5);
    EXPECT_TRUE(r.split_seen) << "seed " << seed;
    EXPECT_TRUE(r.converged) << "seed " << seed;
  }
}

TEST(SimTest, CrashedNodeIsMarkedDownEverywhereAndRestartedNodeComesBack) {
  SimOptions o;
  o.seed = 9;
  SimCluster sim(o);
  sim.add_preconverged(10);
  sim.run_until(5'000);
  sim.crash(3);
  const NodeId victim = sim.engine(3).id();
  const Millis crashed_at = sim.now();
  auto all_see = [&](gossip::PeerLiveness want) {
    for (size_t i = 0; i < sim.size(); ++i) {
      if (i != 3 && sim.engine(i).liveness(victim) != want) return false;
    }
    return true;
  };
  while (!all_see(gossip::PeerLiveness::kDown) && sim.now() < crashed_at + 30'000) sim.run_until(sim.now() + 100);
  ASSERT_TRUE(all_see(gossip::PeerLiveness::kDown));
  EXPECT_LT(sim.now() - crashed_at, 5'000) << "detection within a few probe intervals";
  // A stale "down" must not keep the restarted node (new generation) down.
  sim.restart(3);
  const Millis restarted_at = sim.now();
  while (!all_see(gossip::PeerLiveness::kUp) && sim.now() < restarted_at + 30'000) sim.run_until(sim.now() + 100);
  EXPECT_TRUE(all_see(gossip::PeerLiveness::kUp));
}

TEST(SimTest, NoHealthyNodeMarkedDownUnderLossAndStalls) {
  DetectOptions d;
  d.nodes = 10;
  d.loss = 0.10;
  d.duration = 3 * 60'000;
  d.seed = 4;
  DetectResult r = run_detect(d);
  EXPECT_EQ(r.false_downs, 0u) << "seed " << d.seed;
  EXPECT_EQ(r.undetected, 0u) << "seed " << d.seed;
  EXPECT_GE(r.detect_seconds.size(), 4u);
}

}  // namespace
}  // namespace ringkeeper::sim
