#include "gossip/node_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace ringkeeper::gossip {
namespace {

TEST(NodeMapTest, BehavesLikeAMapThroughGrowth) {
  NodeMap<int> m;
  EXPECT_EQ(m.find(NodeId(1, 1)), nullptr);
  std::map<NodeId, int> ref;
  std::mt19937_64 rng(12);
  for (int i = 0; i < 5000; ++i) {
    // Small sequential ids too: the hash must not rely on ids being random.
    NodeId id = i % 2 ? NodeId(rng(), rng()) : NodeId(0, static_cast<uint64_t>(i));
    m[id] = i;
    ref[id] = i;
  }
  EXPECT_EQ(m.size(), ref.size());
  for (const auto& [id, v] : ref) {
    ASSERT_NE(m.find(id), nullptr);
    EXPECT_EQ(*m.find(id), v);
  }
  EXPECT_EQ(m.find(NodeId(7, 7)), nullptr);
  size_t seen = 0;
  m.for_each([&](const NodeId& id, const int& v) {
    EXPECT_EQ(ref.at(id), v);
    ++seen;
  });
  EXPECT_EQ(seen, ref.size());
}

}  // namespace
}  // namespace ringkeeper::gossip
