// Membership in the simulator: forming a cluster, joining, token conflicts, removal and LEFT
// collection — each through the real engine and codec.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "ring/test_util.h"
#include "sim/sim.h"

namespace ringkeeper::sim {
namespace {

using testing::max_over_mean;

bool formed(SimCluster& sim) {
  std::optional<uint64_t> digest;
  for (size_t i = 0; i < sim.size(); ++i) {
    if (!sim.alive(i)) continue;
    auto& e = sim.engine(i);
    if (e.own_status() != NodeStatus::kNormal || !e.converged()) return false;
    if (digest && *digest != e.ring()->digest()) return false;
    digest = e.ring()->digest();
  }
  return true;
}

bool run_until_formed(SimCluster& sim, Millis within) {
  const Millis deadline = sim.now() + within;
  while (!formed(sim) && sim.now() < deadline) sim.run_until(sim.now() + 250);
  return formed(sim);
}

// A fresh cluster: node 0 founds it, nodes 1..n-1 know only node 0; formed within 10 s.
void start_cluster(SimCluster& sim, size_t n) {
  sim.add_node({SimCluster::kSelf});
  for (size_t i = 1; i < n; ++i) sim.add_node({0});
  ASSERT_TRUE(run_until_formed(sim, 10'000)) << n << " nodes did not form within 10 s";
}

SimOptions seeded(uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  return o;
}

TEST(MembershipTest, NodesStartedTogetherFormOneBalancedCluster) {
  for (size_t n : {5u, 10u}) {
    SimCluster sim(seeded(100 + n));
    start_cluster(sim, n);
    auto ring = sim.engine(0).ring();
    EXPECT_EQ(ring->current().size(), n * 16);
    EXPECT_LE(max_over_mean(*ring), 1.0 + 1e-9) << "one joint allocation";
    for (size_t i = 0; i < n; ++i) {
      EXPECT_EQ(sim.engine(i).config().cluster_id, sim.engine(0).config().cluster_id);
      EXPECT_FALSE(sim.engine(i).config().cluster_id.is_nil());
    }
  }
}

TEST(MembershipTest, NodesAddedOneByOneStayBalanced) {
  SimCluster sim(seeded(7));
  start_cluster(sim, 1);
  for (int i = 1; i < 12; ++i) {
    sim.add_node({0});
    ASSERT_TRUE(run_until_formed(sim, 20'000)) << "node " << i << " did not join";
  }
  EXPECT_LE(max_over_mean(*sim.engine(0).ring()), 1.10);
}

TEST(MembershipTest, ConflictingClaimsEndWithOneOwnerAndTheLoserRepicks) {
  SimCluster sim(seeded(3));
  start_cluster(sim, 1);
  // Two joiners given the same tokens (as with a copy-pasted --tokens); odd 64ths of the ring,
  // so they clash with each other and not with the founder's tokens (at even 64ths).
  gossip::JoinSettings same;
  for (uint64_t t = 1; t <= 16; ++t) same.initial_tokens.push_back(Token((2 * t + 1) << 57 << 1));
  sim.add_node({0}, same);
  sim.add_node({0}, same);
  ASSERT_TRUE(run_until_formed(sim, 30'000));
  auto ring = sim.engine(0).ring();
  const RingNode* a = ring->find(sim.engine(1).id());
  const RingNode* b = ring->find(sim.engine(2).id());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->tokens.size(), 16u);
  EXPECT_EQ(b->tokens.size(), 16u);
  std::vector<Token> both;
  std::set_intersection(a->tokens.begin(), a->tokens.end(), b->tokens.begin(), b->tokens.end(),
                        std::back_inserter(both));
  EXPECT_TRUE(both.empty());
  EXPECT_EQ(sim.engine(1).stats().token_repicks + sim.engine(2).stats().token_repicks, 1u);
}

// A joiner given --tokens with a token a NORMAL node owns keeps the documented rule (the owner
// keeps it, the joiner re-picks from the allocator) and says so in one line naming the token,
// its owner and what it claims instead — it used to switch to allocator tokens silently.
TEST(MembershipTest, AJoinerWhoseGivenTokenIsTakenSaysSoAndClaimsAllocatorTokens) {
  SimCluster sim(seeded(5));
  start_cluster(sim, 1);
  (void)sim.engine(0).take_notices();
  const Token taken = sim.engine(0).ring()->find(sim.engine(0).id())->tokens.front();
  gossip::JoinSettings given;
  given.initial_tokens = {taken, Token(taken.value() + 12345)};
  const size_t joiner = sim.add_node({0}, given);
  ASSERT_TRUE(run_until_formed(sim, 30'000));
  const RingNode* owner = sim.engine(0).ring()->find(sim.engine(0).id());
  EXPECT_TRUE(std::binary_search(owner->tokens.begin(), owner->tokens.end(), taken)) << "the owner keeps it";
  EXPECT_EQ(sim.engine(0).ring()->find(sim.engine(joiner).id())->tokens.size(), 16u) << "allocator tokens";
  std::vector<std::string> notices = sim.engine(joiner).take_notices();
  const std::string want = "--tokens: token " + taken.to_string() + " (held by node " + sim.engine(0).id().to_string() +
                           ") is already claimed by another node";
  const auto line = std::find_if(notices.begin(), notices.end(), [&](const std::string& n) { return n.starts_with(want); });
  ASSERT_NE(line, notices.end()) << (notices.empty() ? "no notice" : notices.front());
  EXPECT_NE(line->find("claims 16 tokens from the allocator instead"), std::string::npos) << *line;
}

TEST(MembershipTest, RemovedNodeIsNoOwnerAnywhereAndCannotComeBack) {
  SimCluster sim(seeded(11));
  start_cluster(sim, 6);
  const NodeId gone = sim.engine(4).id();
  sim.crash(4);
  EXPECT_FALSE(sim.engine(0).remove_node(gone, sim.now()).empty()) << "refused while it is not down";
  const Millis deadline = sim.now() + 20'000;
  while (sim.engine(0).liveness(gone) != gossip::PeerLiveness::kDown && sim.now() < deadline) {
    sim.run_until(sim.now() + 250);
  }
  ASSERT_EQ(sim.engine(0).remove_node(gone, sim.now()), "");
  EXPECT_FALSE(sim.engine(0).remove_node(sim.engine(0).id(), sim.now()).empty());
  ASSERT_TRUE(run_until_formed(sim, 20'000));
  // Restarted with its old tokens, it still owns nothing anywhere.
  sim.restart(4);
  sim.run_until(sim.now() + 20'000);
  for (size_t i = 0; i < sim.size(); ++i) {
    if (i == 4) continue;
    auto ring = sim.engine(i).ring();
    const RingNode* n = ring->find(gone);
    EXPECT_TRUE(n == nullptr || n->tokens.empty()) << "node " << i << " still routes to it";
    EXPECT_TRUE(sim.engine(i).state().find(gone)->is_tombstone());
  }
}

// Node 3 of 4 leaves (LEFT) and stops; with `restart_survivors`, every other node restarts before
// the entry expires, loading it from its "data dir". Either way it ends a bare tombstone everywhere.
void expect_left_entry_collected(uint64_t seed, bool restart_survivors) {
  SimOptions o = seeded(seed);
  o.left_expiry = 10'000;
  SimCluster sim(o);
  start_cluster(sim, 4);
  const NodeId leaver = sim.engine(3).id();
  sim.engine(3).set_local(gossip::keys::kStatus, "LEFT");
  sim.run_until(sim.now() + 5'000);
  sim.crash(3);
  for (size_t i = 0; restart_survivors && i < 3; ++i) {
    sim.crash(i);
    sim.restart(i);
  }
  sim.run_until(sim.now() + 30'000);
  for (size_t i = 0; i < 3; ++i) {
    const gossip::NodeState* st = sim.engine(i).state().find(leaver);
    ASSERT_NE(st, nullptr);
    EXPECT_TRUE(st->is_tombstone()) << "node " << i;
    EXPECT_EQ(st->values.size(), 1u) << "payload collected";
    EXPECT_EQ(st->get(gossip::keys::kTokens), nullptr);
  }
  EXPECT_EQ(sim.engine(0).state().summary(), sim.engine(1).state().summary());
}

TEST(MembershipTest, LeftEntriesBecomeBareTombstones) { expect_left_entry_collected(12, false); }

// Restored from disk, a LEFT entry's expiry starts at the next tick (it once never expired).
TEST(MembershipTest, LeftEntriesRestoredFromDiskStillExpire) { expect_left_entry_collected(13, true); }

}  // namespace
}  // namespace ringkeeper::sim
