// Seeded simulator scenarios: random cuts, loss, stalls and crashes, then heal; every live node
// must end with the identical cluster state and ring digest. Failures print their seed;
// RINGKEEPER_SOAK=1 runs thousands of seeds.
#include "tests/sim/sim.h"
#include "tests/sim/scenarios.h"

#include <gtest/gtest.h>

#include "ring/test_util.h"

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

TEST(SimTest, RandomFaultsThenHealConverge) {
  const int seeds = testing::seed_count(200, 5000);
  for (int seed = 1; seed <= seeds; ++seed) {
    std::mt19937_64 rng(seed);
    ChaosResult r = run_chaos(seed, 3 + rng() % 10);
    ASSERT_TRUE(r.converged) << "seed " << seed << ": " << r.failure;
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
