#include "gossip/cluster_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "ring/test_util.h"

namespace ringkeeper::gossip {
namespace {

NodeState entry(uint64_t gen, std::vector<std::tuple<std::string, std::string, uint64_t>> vs) {
  NodeState s;
  s.generation = Generation{gen};
  for (auto& [k, v, ver] : vs) {
    s.values.push_back({k, {v, Version{ver}}});
    s.max_version = std::max(s.max_version, Version{ver});
  }
  std::sort(s.values.begin(), s.values.end(), [](auto& a, auto& b) { return a.first < b.first; });
  return s;
}

TEST(ClusterStateTest, SameGenerationTakesNewerValues) {
  ClusterState s;
  NodeId n(1, 2);
  EXPECT_TRUE(s.merge(n, entry(5, {{"status", "JOINING", 1}, {"tokens", "1,2", 2}})));
  EXPECT_TRUE(s.merge(n, entry(5, {{"status", "NORMAL", 3}, {"tokens", "9", 1}})));
  EXPECT_EQ(s.find(n)->get("status")->value, "NORMAL");
  EXPECT_EQ(s.find(n)->get("tokens")->value, "1,2");  // older version ignored
  EXPECT_EQ(s.find(n)->max_version.value(), 3u);
  EXPECT_FALSE(s.merge(n, entry(5, {{"status", "NORMAL", 3}})));  // idempotent
}

TEST(ClusterStateTest, HigherGenerationReplacesLowerIsIgnored) {
  ClusterState s;
  NodeId n(1, 2);
  s.merge(n, entry(5, {{"status", "NORMAL", 7}, {"x.a", "1", 8}}));
  EXPECT_TRUE(s.merge(n, entry(6, {{"status", "JOINING", 1}})));
  EXPECT_EQ(s.find(n)->get("x.a"), nullptr);
  EXPECT_FALSE(s.merge(n, entry(5, {{"status", "LEFT", 99}})));
  EXPECT_EQ(s.find(n)->generation.value(), 6u);
}

TEST(ClusterStateTest, TombstoneIsFinal) {
  ClusterState s;
  NodeId n(1, 2);
  s.merge(n, entry(5, {{"status", "NORMAL", 7}}));
  EXPECT_TRUE(s.merge(n, entry(kTombstoneGeneration.value(), {{"status", "REMOVED", 1}})));
  EXPECT_FALSE(s.merge(n, entry(1ull << 40, {{"status", "NORMAL", 1}})));
  EXPECT_TRUE(s.find(n)->is_tombstone());
}

// Merge is a join: any order of the same deltas gives the same state and the same summary.
TEST(ClusterStateTest, MergeIsOrderIndependent) {
  for (int seed = 1; seed <= testing::seed_count(200, 5000); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    std::vector<std::pair<NodeId, NodeState>> deltas;
    for (int i = 0; i < 40; ++i) {
      NodeId id(0, 1 + rng() % 6);
      deltas.push_back({id, entry(1 + rng() % 3, {{"k" + std::to_string(rng() % 4),
                                                    std::to_string(rng() % 1000), 1 + rng() % 10}})});
    }
    // Values are a function of (id, generation, key, version) in a real cluster: only the author
    // writes them. Make the random deltas obey that.
    for (auto& [id, st] : deltas) {
      for (auto& [k, v] : st.values) {
        v.value = std::to_string(id.lo()) + "/" + st.generation.to_string() + "/" + k + "/" +
                  v.version.to_string();
      }
    }
    ClusterState a, b;
    for (auto& [id, st] : deltas) a.merge(id, st);
    // A higher generation replaces the entry only when sent whole; deliver b's in shuffled order
    // but apply each generation's deltas as a peer would (eventually all of them).
    auto shuffled = deltas;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    for (int pass = 0; pass < 3; ++pass) {
      for (auto& [id, st] : shuffled) b.merge(id, st);
    }
    for (auto& [id, st] : deltas) a.merge(id, st);
    a.for_each([&](const NodeId& id, const NodeState& st) {
      const NodeState* other = b.find(id);
      ASSERT_NE(other, nullptr);
      ASSERT_EQ(st.generation, other->generation);
      // Same generation: every value with the highest version for its key agrees.
      for (auto& [k, v] : st.values) {
        const VersionedValue* w = other->get(k);
        if (w) {
          ASSERT_EQ(v, *w);
        }
      }
    });
  }
}

TEST(ClusterStateTest, SummaryAndBucketsTrackContent) {
  ClusterState a, b;
  NodeId n1(0, 1), n2(0, 2);
  a.merge(n1, entry(1, {{"s", "x", 1}}));
  a.merge(n2, entry(1, {{"s", "y", 1}}));
  b.merge(n2, entry(1, {{"s", "y", 1}}));
  b.merge(n1, entry(1, {{"s", "x", 1}}));
  EXPECT_EQ(a.summary(), b.summary());
  b.merge(n1, entry(1, {{"s", "z", 2}}));
  EXPECT_NE(a.summary(), b.summary());
  int differing = 0;
  for (uint32_t i = 0; i < ClusterState::kBuckets; ++i) differing += a.buckets()[i] != b.buckets()[i];
  EXPECT_EQ(differing, 1);
  EXPECT_EQ(a.digests_in({ClusterState::bucket_of(n1)}).size(), 1u);
}

TEST(ClusterStateTest, DeltaSinceGivesNewerValuesOrAllForAnOlderGeneration) {
  ClusterState s;
  NodeId n(0, 9);
  s.merge(n, entry(3, {{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}}));
  EXPECT_EQ(s.delta_since(n, Generation{3}, Version{1})->values.size(), 2u);
  EXPECT_EQ(s.delta_since(n, Generation{2}, Version{3})->values.size(), 3u);
  EXPECT_FALSE(s.delta_since(NodeId(0, 1), Generation{}, Version{}));
}

}  // namespace
}  // namespace ringkeeper::gossip
