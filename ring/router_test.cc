#include "ringkeeper/ring/router.h"

#include <gtest/gtest.h>

#include <set>

#include "ring/test_util.h"

namespace ringkeeper {
namespace {

using testing::simple_rf;

NodeDescription node(uint64_t n, std::vector<uint64_t> tokens) {
  NodeDescription d;
  d.id = NodeId(0, n);
  for (auto t : tokens) d.tokens.push_back(Token(t));
  return d;
}

TEST(RouterTest, AllReachableGivesNaturalReplicas) {
  auto s = RingSnapshot::build({node(1, {10}), node(2, {20}), node(3, {30}), node(4, {40})},
                               simple_rf(2)).snapshot;
  Router r(s, [](const NodeId&) { return true; });
  auto list = r.preference_list(Token(15));
  EXPECT_EQ(list, (std::vector<PreferenceEntry>{{NodeId(0, 2), true}, {NodeId(0, 3), true}}));
}

TEST(RouterTest, UnreachableReplicaIsReplacedByNextClockwise) {
  auto s = RingSnapshot::build({node(1, {10}), node(2, {20}), node(3, {30}), node(4, {40})},
                               simple_rf(2)).snapshot;
  Router r(s, [](const NodeId& id) { return id != NodeId(0, 2); });
  auto list = r.preference_list(Token(15));
  EXPECT_EQ(list, (std::vector<PreferenceEntry>{{NodeId(0, 3), true}, {NodeId(0, 4), false}}));
}

TEST(RouterTest, NothingReachableGivesEmptyList) {
  auto s = RingSnapshot::build({node(1, {10}), node(2, {20})}, simple_rf(2)).snapshot;
  Router r(s, [](const NodeId&) { return false; });
  EXPECT_TRUE(r.preference_list(Token(5)).empty());
}

TEST(RouterTest, RandomRingsNeverReturnUnreachableOrRepeats) {
  const int seeds = testing::seed_count(50, 2000);
  for (int seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    const int nodes = 1 + static_cast<int>(rng() % 12);
    auto ring = testing::random_ring(rng, nodes, 1 + static_cast<int>(rng() % 8));
    auto s = RingSnapshot::build(ring, simple_rf(1 + rng() % 4)).snapshot;
    std::set<NodeId> down;
    for (auto& d : ring) {
      if (rng() % 3 == 0) down.insert(d.id);
    }
    Router r(s, [&](const NodeId& id) { return !down.count(id); });
    const size_t reachable = ring.size() - down.size();
    for (int k = 0; k < 50; ++k) {
      Token t(rng());
      auto list = r.preference_list(t);
      std::set<NodeId> seen;
      for (const auto& e : list) {
        EXPECT_FALSE(down.count(e.node));
        EXPECT_TRUE(seen.insert(e.node).second);
        EXPECT_EQ(e.natural, s->natural_replicas(t).contains(e.node));
      }
      EXPECT_EQ(list.size(), std::min<size_t>(reachable, s->current().replica_count()));
      // Naturals come first.
      bool fallback_seen = false;
      for (const auto& e : list) {
        if (!e.natural) fallback_seen = true;
        else EXPECT_FALSE(fallback_seen);
      }
    }
  }
}

}  // namespace
}  // namespace ringkeeper
