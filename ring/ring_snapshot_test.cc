#include "ringkeeper/ring/ring_snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ring/test_util.h"

namespace ringkeeper {
namespace {

using testing::simple_rf;
using testing::topology_rf;

NodeId id(uint64_t n) { return NodeId(0, n); }

NodeDescription node(uint64_t n, std::vector<uint64_t> tokens,
                     NodeStatus status = NodeStatus::kNormal, std::string rack = "rack1",
                     std::string dc = "dc1") {
  NodeDescription d;
  d.id = id(n);
  d.status = status;
  for (uint64_t t : tokens) d.tokens.push_back(Token(t));
  d.rack = std::move(rack);
  d.dc = std::move(dc);
  return d;
}

std::vector<NodeId> ids(std::initializer_list<uint64_t> ns) {
  std::vector<NodeId> out;
  for (auto n : ns) out.push_back(id(n));
  return out;
}

TEST(RingSnapshotTest, NaturalReplicasWalkClockwiseFromFirstTokenAtOrAfterKey) {
  auto built = RingSnapshot::build({node(1, {100, 400}), node(2, {200}), node(3, {300})}, simple_rf(2));
  ASSERT_TRUE(built.error.empty());
  const auto& s = *built.snapshot;
  EXPECT_EQ(s.natural_replicas(Token(100)).to_vector(), ids({1, 2}));   // token == range end
  EXPECT_EQ(s.natural_replicas(Token(101)).to_vector(), ids({2, 3}));
  EXPECT_EQ(s.natural_replicas(Token(350)).to_vector(), ids({1, 2}));   // 400 is node 1, then wrap
  EXPECT_EQ(s.natural_replicas(Token(401)).to_vector(), ids({1, 2}));   // wraps to 100
  EXPECT_EQ(s.natural_replicas(Token(0)).to_vector(), ids({1, 2}));
  EXPECT_EQ(s.current().replica_count(), 2u);
}

TEST(RingSnapshotTest, DistinctOwnersWhenANodeHoldsConsecutiveTokens) {
  auto s = RingSnapshot::build({node(1, {10, 20, 30}), node(2, {40}), node(3, {50})}, simple_rf(3)).snapshot;
  EXPECT_EQ(s->natural_replicas(Token(5)).to_vector(), ids({1, 2, 3}));
  EXPECT_EQ(s->natural_replicas(Token(45)).to_vector(), ids({3, 1, 2}));
}

TEST(RingSnapshotTest, FewerNodesThanRfGivesEveryNode) {
  auto s = RingSnapshot::build({node(1, {10}), node(2, {20})}, simple_rf(3)).snapshot;
  EXPECT_EQ(s->natural_replicas(Token(15)).size(), 2u);
  auto ownership = s->ownership();
  EXPECT_NEAR(ownership[0], 1.0, 1e-12);
  EXPECT_NEAR(ownership[1], 1.0, 1e-12);
}

TEST(RingSnapshotTest, EmptyRingHasNoReplicas) {
  auto s = RingSnapshot::empty(simple_rf(3));
  EXPECT_TRUE(s->natural_replicas("k").empty());
  EXPECT_TRUE(s->write_targets(Token(1)).empty());
}

TEST(RingSnapshotTest, DigestIsOrderIndependentAndPinned) {
  std::vector<NodeDescription> a = {node(1, {100, 400}), node(2, {200}), node(3, {300})};
  std::vector<NodeDescription> b = {node(3, {300}), node(1, {400, 100, 400}), node(2, {200})};
  auto sa = RingSnapshot::build(a, simple_rf(3), 1).snapshot;
  auto sb = RingSnapshot::build(b, simple_rf(3), 2).snapshot;
  EXPECT_EQ(sa->digest(), sb->digest());
  // Pinned: the digest is part of the wire contract (nodes compare it to decide convergence).
  EXPECT_EQ(sa->digest_hex(), "ce00acf6f8cecaaf");
  auto sc = RingSnapshot::build(a, simple_rf(2)).snapshot;
  EXPECT_NE(sa->digest(), sc->digest());
}

TEST(RingSnapshotTest, LeftAndRemovedNodesOwnNothingAndDoNotChangeTheDigest) {
  auto base = RingSnapshot::build({node(1, {100}), node(2, {200})}, simple_rf(1)).snapshot;
  auto with_left = RingSnapshot::build(
      {node(1, {100}), node(2, {200}), node(3, {150}, NodeStatus::kLeft),
       node(4, {170}, NodeStatus::kRemoved)},
      simple_rf(1)).snapshot;
  EXPECT_EQ(base->digest(), with_left->digest());
  EXPECT_EQ(with_left->natural_replicas(Token(150)).to_vector(), ids({2}));
  EXPECT_EQ(with_left->nodes().size(), 4u);
}

TEST(RingSnapshotTest, RejectsDuplicateNodeIds) {
  auto built = RingSnapshot::build({node(1, {1}), node(1, {2})}, simple_rf(1));
  EXPECT_FALSE(built.error.empty());
  EXPECT_EQ(built.snapshot, nullptr);
}

TEST(TokenConflictTest, NormalOwnerKeepsTokenAgainstJoiner) {
  auto joiner = node(1, {100, 500}, NodeStatus::kJoining);
  joiner.stamp = HlcStamp::make(1, 0);  // earlier than the owner's, still loses
  auto owner = node(2, {100});
  owner.stamp = HlcStamp::make(9, 0);
  auto built = RingSnapshot::build({joiner, owner}, simple_rf(1));
  ASSERT_EQ(built.lost_claims.size(), 1u);
  EXPECT_EQ(built.lost_claims[0], (LostClaim{id(1), id(2), Token(100), false}));
  EXPECT_EQ(built.snapshot->find(id(1))->tokens, std::vector<Token>{Token(500)});
}

TEST(TokenConflictTest, AmongNewClaimsEarliestStampThenLowerIdWins) {
  auto a = node(5, {100}, NodeStatus::kJoining);
  auto b = node(7, {100}, NodeStatus::kJoining);
  a.stamp = HlcStamp::make(20, 0);
  b.stamp = HlcStamp::make(10, 0);
  auto built = RingSnapshot::build({a, b}, simple_rf(1));
  ASSERT_EQ(built.lost_claims.size(), 1u);
  EXPECT_EQ(built.lost_claims[0].loser, id(5));
  EXPECT_EQ(built.lost_claims[0].winner, id(7));

  b.stamp = a.stamp;  // same stamp: lower id wins
  built = RingSnapshot::build({a, b}, simple_rf(1));
  ASSERT_EQ(built.lost_claims.size(), 1u);
  EXPECT_EQ(built.lost_claims[0].loser, id(7));
}

TEST(TokenConflictTest, MovingNodeNewTokenLosesToCurrentOwner) {
  auto mover = node(1, {100}, NodeStatus::kMoving);
  mover.pending_tokens = {Token(100), Token(200)};  // keeps 100 (its own), claims 200
  auto owner = node(2, {200});
  auto built = RingSnapshot::build({mover, owner}, simple_rf(1));
  ASSERT_EQ(built.lost_claims.size(), 1u);
  EXPECT_EQ(built.lost_claims[0], (LostClaim{id(1), id(2), Token(200), true}));
  EXPECT_EQ(built.snapshot->find(id(1))->pending_tokens, std::vector<Token>{Token(100)});
}

TEST(PlacementTest, JoiningNodeIsAPendingWriteTarget) {
  auto s = RingSnapshot::build({node(1, {100}), node(2, {200}), node(3, {150}, NodeStatus::kJoining)},
                               simple_rf(1)).snapshot;
  ASSERT_TRUE(s->has_pending_changes());
  EXPECT_EQ(s->natural_replicas(Token(120)).to_vector(), ids({2}));
  EXPECT_EQ(s->pending_replicas(Token(120)), ids({3}));
  EXPECT_EQ(s->write_targets(Token(120)), ids({2, 3}));
  EXPECT_TRUE(s->pending_replicas(Token(170)).empty());
  EXPECT_EQ(s->write_targets(Token(170)), ids({2}));
}

TEST(PlacementTest, LeavingNodeHandsItsRangesToTheNextOwner) {
  auto s = RingSnapshot::build(
      {node(1, {100}), node(2, {200}, NodeStatus::kLeaving), node(3, {300})}, simple_rf(1)).snapshot;
  EXPECT_EQ(s->natural_replicas(Token(150)).to_vector(), ids({2}));
  EXPECT_EQ(s->write_targets(Token(150)), ids({2, 3}));
  EXPECT_TRUE(s->pending_replicas(Token(250)).empty());
}

TEST(PlacementTest, MovingNodeTakesItsNewRangesAfterwards) {
  auto mover = node(2, {200}, NodeStatus::kMoving);
  mover.pending_tokens = {Token(250)};
  auto s = RingSnapshot::build({node(1, {100}), mover, node(3, {300})}, simple_rf(1)).snapshot;
  EXPECT_EQ(s->write_targets(Token(150)), ids({2}));     // (100,200] stays with 2
  EXPECT_EQ(s->write_targets(Token(220)), ids({3, 2}));  // (200,250] goes from 3 to 2
  EXPECT_EQ(s->write_targets(Token(280)), ids({3}));
}

TEST(TopologyTest, ReplicasOnDistinctRacksWherePossible) {
  // Ring order: a1(r1) a2(r1) b1(r2) c1(r3) — RF 3 must skip a2 for b1 and c1.
  auto s = RingSnapshot::build({node(1, {10}, NodeStatus::kNormal, "r1"),
                                node(2, {20}, NodeStatus::kNormal, "r1"),
                                node(3, {30}, NodeStatus::kNormal, "r2"),
                                node(4, {40}, NodeStatus::kNormal, "r3")},
                               topology_rf(3)).snapshot;
  EXPECT_EQ(s->natural_replicas(Token(5)).to_vector(), ids({1, 3, 4}));
  // Two racks only for RF 3: the third replica comes from a rack already used.
  auto two = RingSnapshot::build({node(1, {10}, NodeStatus::kNormal, "r1"),
                                  node(2, {20}, NodeStatus::kNormal, "r1"),
                                  node(3, {30}, NodeStatus::kNormal, "r2")},
                                 topology_rf(3)).snapshot;
  auto r = two->natural_replicas(Token(5)).to_vector();
  std::sort(r.begin(), r.end());
  EXPECT_EQ(r, ids({1, 2, 3}));
}

TEST(TopologyTest, PerDcFactors) {
  std::string err;
  auto cfg = ReplicationConfig::parse("topology", "east:2,west:1", &err);
  ASSERT_TRUE(cfg) << err;
  EXPECT_EQ(cfg->canonical(), "topology:east=2,west=1");
  auto s = RingSnapshot::build({node(1, {10}, NodeStatus::kNormal, "r1", "east"),
                                node(2, {20}, NodeStatus::kNormal, "r1", "west"),
                                node(3, {30}, NodeStatus::kNormal, "r2", "east"),
                                node(4, {40}, NodeStatus::kNormal, "r2", "west"),
                                node(5, {50}, NodeStatus::kNormal, "r3", "east")},
                               *cfg).snapshot;
  EXPECT_EQ(s->natural_replicas(Token(5)).to_vector(), ids({1, 2, 3}));
  EXPECT_EQ(s->natural_replicas(Token(35)).to_vector(), ids({4, 5, 1}));
}

TEST(ReplicationConfigTest, ParsesFlagsWithClearErrors) {
  std::string err;
  EXPECT_EQ(ReplicationConfig::parse("simple", "3", &err)->canonical(), "simple:3");
  EXPECT_EQ(ReplicationConfig::parse("topology", "2", &err)->canonical(), "topology:*=2");
  EXPECT_FALSE(ReplicationConfig::parse("simple", "dc1:3", &err));
  EXPECT_NE(err.find("topology"), std::string::npos);
  EXPECT_FALSE(ReplicationConfig::parse("random", "3", &err));
  EXPECT_FALSE(ReplicationConfig::parse("simple", "0", &err));
  EXPECT_FALSE(ReplicationConfig::parse("topology", "dc1:2,dc1:3", &err));
  EXPECT_FALSE(ReplicationConfig::parse("topology", "dc1:", &err));
}

}  // namespace
}  // namespace ringkeeper
