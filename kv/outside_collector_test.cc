// ranges_outside: the ranges the outside collector walks — those of the read ring whose natural
// replicas do not include the node, adjacent ones merged; the whole ring for a node outside it.
#include "kv/outside_collector.h"

#include <gtest/gtest.h>

namespace ringkeeper::kv {
namespace {

NodeDescription node(uint64_t n, std::vector<uint64_t> tokens) {
  NodeDescription d;
  d.id = NodeId(0, n);
  for (uint64_t t : tokens) d.tokens.push_back(Token(t));
  return d;
}

TokenRange range(uint64_t start, uint64_t end) { return TokenRange{Token(start), Token(end)}; }

TEST(RangesOutsideTest, AdjacentRangesOfOtherReplicasMergeAndANodeOutsideTheRingGetsItAll) {
  ReplicationConfig rf1;
  rf1.rf = 1;
  // Ranges (400, 100] → 1, (100, 200] → 2, (200, 300] → 3, (300, 400] → 1.
  auto ring = RingSnapshot::build({node(1, {100, 400}), node(2, {200}), node(3, {300})}, rf1).snapshot;
  ASSERT_TRUE(ring);
  EXPECT_EQ(ranges_outside(*ring, NodeId(0, 1)), (std::vector<TokenRange>{range(100, 300)}));
  EXPECT_EQ(ranges_outside(*ring, NodeId(0, 2)), (std::vector<TokenRange>{range(400, 100), range(200, 400)}));
  const std::vector<TokenRange> all = ranges_outside(*ring, NodeId(0, 9));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].is_full_ring()) << "a node that replicates nothing: every record is outside";

  ReplicationConfig rf3;  // every node replicates everything: nothing is outside
  auto full = RingSnapshot::build({node(1, {100, 400}), node(2, {200}), node(3, {300})}, rf3).snapshot;
  EXPECT_TRUE(ranges_outside(*full, NodeId(0, 2)).empty());
}

}  // namespace
}  // namespace ringkeeper::kv
