#include "ringkeeper/ring/range_diff.h"

#include <gtest/gtest.h>

#include "ring/test_util.h"

namespace ringkeeper {
namespace {

using testing::simple_rf;

NodeDescription node(uint64_t n, std::vector<uint64_t> tokens, NodeStatus st = NodeStatus::kNormal) {
  NodeDescription d;
  d.id = NodeId(0, n);
  d.status = st;
  for (auto t : tokens) d.tokens.push_back(Token(t));
  return d;
}

TEST(RangeDiffTest, JoinerGainsExactlyTheSplitRange) {
  auto before = RingSnapshot::build({node(1, {100}), node(2, {200})}, simple_rf(1)).snapshot;
  auto after = RingSnapshot::build({node(1, {100}), node(2, {200}), node(3, {150})}, simple_rf(1)).snapshot;
  RangeDiff d = diff_snapshots(*before, *after);
  ASSERT_EQ(d.nodes.size(), 2u);
  const NodeRanges* joiner = d.find(NodeId(0, 3));
  ASSERT_NE(joiner, nullptr);
  EXPECT_EQ(joiner->gained, (std::vector<TokenRange>{{Token(100), Token(150)}}));
  EXPECT_TRUE(joiner->lost.empty());
  const NodeRanges* donor = d.find(NodeId(0, 2));
  ASSERT_NE(donor, nullptr);
  EXPECT_EQ(donor->lost, (std::vector<TokenRange>{{Token(100), Token(150)}}));
  EXPECT_EQ(d.find(NodeId(0, 1)), nullptr);
}

TEST(RangeDiffTest, WrapAroundRangesAreCoalesced) {
  // Node 1 owns (200, 100] across the wrap point before, nothing after it leaves.
  auto before = RingSnapshot::build({node(1, {100}), node(2, {200})}, simple_rf(1)).snapshot;
  auto after = RingSnapshot::build({node(2, {200})}, simple_rf(1)).snapshot;
  RangeDiff d = diff_snapshots(*before, *after);
  const NodeRanges* gone = d.find(NodeId(0, 1));
  ASSERT_NE(gone, nullptr);
  EXPECT_EQ(gone->lost, (std::vector<TokenRange>{{Token(200), Token(100)}}));
  const NodeRanges* heir = d.find(NodeId(0, 2));
  ASSERT_NE(heir, nullptr);
  EXPECT_EQ(heir->gained, (std::vector<TokenRange>{{Token(200), Token(100)}}));
}

TEST(RangeDiffTest, FirstNodeGainsTheWholeRing) {
  auto before = RingSnapshot::empty(simple_rf(3));
  auto after = RingSnapshot::build({node(1, {100, 500})}, simple_rf(3)).snapshot;
  RangeDiff d = diff_snapshots(*before, *after);
  ASSERT_EQ(d.nodes.size(), 1u);
  ASSERT_EQ(d.nodes[0].gained.size(), 1u);
  EXPECT_TRUE(d.nodes[0].gained[0].is_full_ring());
}

TEST(RangeDiffTest, StreamingPlanFollowsPendingChanges) {
  auto s = RingSnapshot::build({node(1, {100}), node(2, {200}), node(3, {150}, NodeStatus::kJoining)},
                               simple_rf(1)).snapshot;
  RangeDiff plan = streaming_plan(*s);
  const NodeRanges* joiner = plan.find(NodeId(0, 3));
  ASSERT_NE(joiner, nullptr);
  EXPECT_EQ(joiner->gained, (std::vector<TokenRange>{{Token(100), Token(150)}}));
  EXPECT_TRUE(streaming_plan(*RingSnapshot::build({node(1, {1})}, simple_rf(1)).snapshot).empty());
}

}  // namespace
}  // namespace ringkeeper
