// Seeded simulator scenarios: random cuts, loss, stalls and crashes, then heal; every live node
// must end with the identical cluster state and ring digest. Failures print their seed;
// RINGKEEPER_SOAK=1 runs thousands of seeds.
#include "tests/sim/sim.h"

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

TEST(SimTest, RandomFaultsThenHealConverge) {
  const int seeds = testing::seed_count(200, 5000);
  for (int seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    SimOptions o;
    o.seed = seed;
    o.loss = (rng() % 4) * 0.05;
    SimCluster sim(o);
    const size_t n = 3 + rng() % 10;
    sim.add_preconverged(n);
    // Faults for 30 simulated seconds: one-way and two-way cuts, stalls, one crash, writes.
    for (int k = 0; k < 6; ++k) {
      const size_t a = rng() % n, b = rng() % n;
      if (a == b) continue;
      sim.cut(a, b);
      if (rng() % 2) sim.cut(b, a);
    }
    if (rng() % 2) sim.crash(rng() % n);
    sim.stall(rng() % n, 5'000 + rng() % 10'000);
    for (int step = 0; step < 30; ++step) {
      const size_t w = rng() % n;
      if (sim.alive(w)) sim.engine(w).set_local("x.k" + std::to_string(rng() % 3), std::to_string(rng()));
      sim.run_until(sim.now() + 1'000);
    }
    sim.heal_all();
    const Millis deadline = sim.now() + 60'000;
    while (!all_live_agree(sim) && sim.now() < deadline) sim.run_until(sim.now() + 1'000);
    ASSERT_TRUE(all_live_agree(sim)) << "not converged 60 s after heal";
    // Same state ⇒ same ring, byte for byte.
    std::optional<uint64_t> digest;
    for (size_t i = 0; i < n; ++i) {
      if (!sim.alive(i)) continue;
      const uint64_t d = sim.engine(i).ring()->digest();
      if (digest) {
        ASSERT_EQ(*digest, d);
      }
      digest = d;
    }
  }
}

}  // namespace
}  // namespace ringkeeper::sim
