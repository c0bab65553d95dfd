#include "ring/token_allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <random>
#include <set>

#include "ring/test_util.h"

namespace ringkeeper {
namespace {

using testing::random_node_id;
using testing::simple_rf;
using testing::max_over_mean;
using testing::topology_rf;

void apply(std::vector<NodeDescription>& ring, const Allocation& a, const std::vector<JoinerSpec>& js) {
  for (const auto& [id, tokens] : a) {
    NodeDescription d;
    d.id = id;
    d.tokens = tokens;
    auto it = std::find_if(js.begin(), js.end(), [&](const JoinerSpec& j) { return j.id == id; });
    d.dc = it->dc;
    d.rack = it->rack;
    ring.push_back(d);
  }
}

TEST(TokenAllocatorTest, JointAllocationIsDeterministicAndOrderFree) {
  std::mt19937_64 rng(7);
  std::vector<JoinerSpec> js;
  for (int i = 0; i < 5; ++i) js.push_back({random_node_id(rng), "dc1", "rack1", 16});
  auto a = allocate_tokens({}, js, simple_rf(3));
  std::reverse(js.begin(), js.end());
  auto b = allocate_tokens({}, js, simple_rf(3));
  EXPECT_EQ(a, b);
  std::set<Token> all;
  for (auto& [_, ts] : a) {
    EXPECT_EQ(ts.size(), 16u);
    all.insert(ts.begin(), ts.end());
  }
  EXPECT_EQ(all.size(), 80u);
  std::vector<NodeDescription> ring;
  apply(ring, a, js);
  EXPECT_LE(max_over_mean(*RingSnapshot::build(ring, simple_rf(3)).snapshot), 1.0 + 1e-9);
}

TEST(TokenAllocatorTest, OneByOneGrowthStaysBalanced) {
  for (auto cfg : {simple_rf(3), topology_rf(3)}) {
    SCOPED_TRACE(cfg.canonical());
    std::mt19937_64 rng(11);
    std::vector<NodeDescription> ring;
    std::vector<JoinerSpec> first;
    for (int i = 0; i < 3; ++i) first.push_back({random_node_id(rng), "dc1", "rack" + std::to_string(i), 16});
    apply(ring, allocate_tokens(ring, first, cfg), first);
    for (int n = 3; n < 30; ++n) {
      JoinerSpec j{random_node_id(rng), "dc1", "rack" + std::to_string(n % 3), 16};
      auto a = allocate_tokens(ring, {j}, cfg);
      ASSERT_EQ(a[0].second.size(), 16u);
      // New tokens never collide with existing ones.
      for (auto& d : ring) {
        for (Token t : a[0].second) ASSERT_FALSE(std::count(d.tokens.begin(), d.tokens.end(), t));
      }
      apply(ring, a, {j});
    }
    auto s = RingSnapshot::build(ring, cfg).snapshot;
    EXPECT_TRUE(s != nullptr);
    EXPECT_LE(max_over_mean(*s), 1.08);
  }
}

TEST(TokenAllocatorTest, AllocatorBeatsRandomTokens) {
  std::mt19937_64 rng(3);
  std::vector<NodeDescription> alloc_ring, random_ring;
  for (int n = 0; n < 40; ++n) {
    JoinerSpec j{random_node_id(rng), "dc1", "rack1", 16};
    apply(alloc_ring, allocate_tokens(alloc_ring, {j}, simple_rf(3)), {j});
    auto r = testing::random_ring(rng, 1, 16);
    random_ring.push_back(r[0]);
  }
  double alloc = max_over_mean(*RingSnapshot::build(alloc_ring, simple_rf(3)).snapshot);
  double rnd = max_over_mean(*RingSnapshot::build(random_ring, simple_rf(3)).snapshot);
  EXPECT_LT(alloc, rnd);
  EXPECT_LE(alloc, 1.08);
}

TEST(TokenAllocatorTest, RebalanceGivesFreshTokensForTheNode) {
  std::mt19937_64 rng(5);
  auto ring = testing::random_ring(rng, 8, 4);
  auto tokens = rebalance_tokens(ring, ring[0].id, 16, simple_rf(3));
  EXPECT_EQ(tokens.size(), 16u);
  EXPECT_TRUE(std::is_sorted(tokens.begin(), tokens.end()));
  auto again = rebalance_tokens(ring, ring[0].id, 16, simple_rf(3));
  EXPECT_EQ(tokens, again);
}

// Swapping a few tokens of each node in turn brings a random ring to the allocator's balance
// while most tokens stay where they were.
TEST(TokenAllocatorTest, RebalanceBySwapsKeepsMostTokensAndBalancesTheRing) {
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    std::mt19937_64 rng(seed);
    auto ring = testing::random_ring(rng, 10, 16);
    const double before = max_over_mean(*RingSnapshot::build(ring, simple_rf(3)).snapshot);
    size_t kept = 0, total = 0;
    for (auto& node : ring) {
      const std::vector<Token> old = node.tokens;
      std::vector<Token> next = rebalance_by_swaps(ring, node.id, simple_rf(3));
      ASSERT_EQ(next.size(), old.size()) << "seed " << seed;
      EXPECT_TRUE(std::is_sorted(next.begin(), next.end()));
      EXPECT_EQ(next, rebalance_by_swaps(ring, node.id, simple_rf(3))) << "deterministic";
      std::vector<Token> sorted_old = old;
      std::sort(sorted_old.begin(), sorted_old.end());
      std::vector<Token> same;
      std::set_intersection(sorted_old.begin(), sorted_old.end(), next.begin(), next.end(), std::back_inserter(same));
      kept += same.size();
      total += old.size();
      node.tokens = next;
    }
    const double after = max_over_mean(*RingSnapshot::build(ring, simple_rf(3)).snapshot);
    EXPECT_LT(after, before) << "seed " << seed;
    EXPECT_LE(after, 1.05) << "seed " << seed << " (before " << before << ")";
    EXPECT_GE(kept * 2, total) << "seed " << seed << ": most tokens stay";
  }
}

TEST(TokenAllocatorTest, RebalanceBySwapsOfANodeWithoutTokensIsEmpty) {
  std::mt19937_64 rng(7);
  auto ring = testing::random_ring(rng, 4, 8);
  ring[0].tokens.clear();
  EXPECT_TRUE(rebalance_by_swaps(ring, ring[0].id, simple_rf(3)).empty());
  EXPECT_TRUE(rebalance_by_swaps(ring, random_node_id(rng), simple_rf(3)).empty());
}

}  // namespace
}  // namespace ringkeeper
