// Property tests over seeded random rings. Each failure names its seed; RINGKEEPER_SOAK=1 runs
// thousands of seeds instead of dozens.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "ring/test_util.h"
#include "ringkeeper/ring/range_diff.h"
#include "ringkeeper/ring/ring_snapshot.h"

namespace ringkeeper {
namespace {

using testing::random_ring;

ReplicationConfig random_config(std::mt19937_64& rng) {
  return rng() % 2 ? testing::simple_rf(1 + rng() % 4) : testing::topology_rf(1 + rng() % 4);
}

std::vector<NodeDescription> random_cluster(std::mt19937_64& rng) {
  const int nodes = 1 + static_cast<int>(rng() % 20);
  return random_ring(rng, nodes, 1 + static_cast<int>(rng() % 16), 1 + rng() % 2, 1 + rng() % 4);
}

// Reference lookup: upper_bound over all tokens, then the owner list.
uint32_t brute_range(const TokenRing& ring, Token t) {
  for (uint32_t i = 0; i < ring.size(); ++i) {
    if (ring.token_at(i) >= t) return i;
  }
  return 0;
}

TEST(RingPropertiesTest, DigestIgnoresOrderOfNodesAndTokens) {
  for (int seed = 1; seed <= testing::seed_count(100, 5000); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto nodes = random_cluster(rng);
    auto cfg = random_config(rng);
    auto shuffled = nodes;
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    for (auto& d : shuffled) std::shuffle(d.tokens.begin(), d.tokens.end(), rng);
    auto a = RingSnapshot::build(nodes, cfg).snapshot;
    auto b = RingSnapshot::build(shuffled, cfg).snapshot;
    ASSERT_EQ(a->digest(), b->digest());
    ASSERT_EQ(a->current().size(), b->current().size());
    for (uint32_t i = 0; i < a->current().size(); ++i) {
      ASSERT_EQ(a->current().token_at(i), b->current().token_at(i));
      ASSERT_EQ(a->natural_replicas(a->current().token_at(i)).to_vector(),
                b->natural_replicas(b->current().token_at(i)).to_vector());
    }
    // Changing any one token changes the digest.
    if (!nodes.empty() && !nodes[0].tokens.empty()) {
      nodes[0].tokens[0] = Token(nodes[0].tokens[0].value() + 1);
      ASSERT_NE(RingSnapshot::build(nodes, cfg).snapshot->digest(), a->digest());
    }
  }
}

TEST(RingPropertiesTest, EveryRangeHasRfDistinctReplicas) {
  for (int seed = 1; seed <= testing::seed_count(100, 5000); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto nodes = random_cluster(rng);
    auto cfg = random_config(rng);
    auto s = RingSnapshot::build(nodes, cfg).snapshot;
    std::map<std::string, std::set<NodeId>> per_dc;
    std::map<std::string, std::set<std::string>> racks;
    for (auto& d : nodes) {
      per_dc[d.dc].insert(d.id);
      racks[d.dc].insert(d.rack);
    }
    size_t expected = 0;
    if (cfg.strategy == StrategyKind::kSimple) {
      expected = std::min<size_t>(cfg.rf, nodes.size());
    } else {
      for (auto& [dc, members] : per_dc) expected += std::min<size_t>(cfg.rf_for_dc(dc), members.size());
    }
    const TokenRing& ring = s->current();
    for (uint32_t i = 0; i < ring.size(); ++i) {
      auto reps = ring.replicas(i);
      ASSERT_EQ(reps.size(), expected);
      std::set<uint32_t> distinct(reps.begin(), reps.end());
      ASSERT_EQ(distinct.size(), reps.size());
      ASSERT_EQ(reps[0], ring.owner_at(i)) << "the range's own token owner comes first";
      if (cfg.strategy == StrategyKind::kTopology) {
        // Distinct racks within a DC until every rack of the DC holds a replica.
        std::map<std::string, std::vector<std::string>> used;
        for (uint32_t r : reps) used[s->nodes()[r].dc].push_back(s->nodes()[r].rack);
        for (auto& [dc, rs] : used) {
          std::set<std::string> d(rs.begin(), rs.end());
          ASSERT_EQ(d.size(), std::min(rs.size(), racks[dc].size()));
        }
      }
    }
    // The fast lookup agrees with a linear scan.
    for (int k = 0; k < 100 && !ring.empty(); ++k) {
      Token t(rng());
      if (k % 4 == 0) {
        t = ring.token_at(static_cast<uint32_t>(rng() % ring.size()));
      }
      ASSERT_EQ(ring.range_index(t), brute_range(ring, t));
    }
    // Ownership sums to the replica count.
    double sum = 0;
    for (double o : s->ownership()) sum += o;
    if (!ring.empty()) {
      ASSERT_NEAR(sum, static_cast<double>(ring.replica_count()), 1e-9);
    }
  }
}

TEST(RingPropertiesTest, WriteTargetsContainNaturalReplicas) {
  for (int seed = 1; seed <= testing::seed_count(100, 5000); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto nodes = random_cluster(rng);
    for (auto& d : nodes) {
      switch (rng() % 5) {
        case 0: d.status = NodeStatus::kJoining; break;
        case 1: d.status = NodeStatus::kLeaving; break;
        case 2:
          d.status = NodeStatus::kMoving;
          for (int k = 0; k < 3; ++k) d.pending_tokens.push_back(Token(rng()));
          break;
        default: break;
      }
    }
    auto s = RingSnapshot::build(nodes, random_config(rng)).snapshot;
    for (int k = 0; k < 100; ++k) {
      Token t(rng());
      auto natural = s->natural_replicas(t).to_vector();
      auto targets = s->write_targets(t);
      std::set<NodeId> tset(targets.begin(), targets.end());
      ASSERT_EQ(tset.size(), targets.size()) << "no duplicates";
      for (const NodeId& n : natural) ASSERT_TRUE(tset.count(n));
      // Every future owner is a write target.
      if (!s->future().empty()) {
        for (uint32_t idx : s->future().replicas(s->future().range_index(t))) {
          ASSERT_TRUE(tset.count(s->nodes()[idx].id));
        }
      }
    }
  }
}

// One change, phase by phase (before, announce, write_both, read_new, release, after): between
// any two adjacent steps — the most that members of a cluster can be apart — each step's write
// targets hold every node either step reads from, so a write made under one is seen by a read
// made under the other. And the phases route as documented: announce reads and writes the old
// owners only; write_both adds the new ones as write targets; read_new reads the new owners.
TEST(RingPropertiesTest, AdjacentPhasesOfAChangeWriteToEveryOwnerEitherReadsFrom) {
  const ChangePhase phases[] = {ChangePhase::kAnnounce, ChangePhase::kWriteBoth, ChangePhase::kReadNew,
                                ChangePhase::kRelease};
  for (int seed = 1; seed <= testing::seed_count(100, 5000); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    const auto base = random_cluster(rng);
    const ReplicationConfig config = random_config(rng);
    const int kind = static_cast<int>(rng() % 4);  // 0 join, 1 move, 2 leave, 3 replace
    SCOPED_TRACE("kind " + std::to_string(kind));
    std::vector<Token> fresh;
    for (int k = 0; k < 1 + static_cast<int>(rng() % 8); ++k) fresh.push_back(Token(rng()));
    const size_t subject = rng() % base.size();
    // The cluster with the subject at a step: -1 before, 0..3 a phase, 4 after.
    auto at = [&](int step) {
      std::vector<NodeDescription> nodes = base;
      if (kind == 0) {
        NodeDescription d;
        d.id = NodeId(0xFFFF, 1);  // the same joiner at every step
        d.tokens = fresh;
        d.status = step >= 4 ? NodeStatus::kNormal : NodeStatus::kJoining;
        if (step >= 0) nodes.push_back(d);
      } else if (kind == 1) {
        NodeDescription& d = nodes[subject];
        if (step >= 4) d.tokens = fresh;
        if (step >= 0 && step < 4) {
          d.status = NodeStatus::kMoving;
          d.pending_tokens = fresh;
        }
      } else if (kind == 2) {
        NodeDescription& d = nodes[subject];
        if (step >= 0) d.status = step >= 4 ? NodeStatus::kLeft : NodeStatus::kLeaving;
      } else {
        // A new node takes over the subject's tokens: the subject leaves, the replacement joins
        // with the same tokens, then the subject is gone.
        NodeDescription r;
        r.id = NodeId(0xFFFF, 2);
        r.tokens = nodes[subject].tokens;
        r.dc = nodes[subject].dc;
        r.rack = nodes[subject].rack;
        r.status = step >= 4 ? NodeStatus::kNormal : NodeStatus::kJoining;
        if (step >= 0 && step < 4) r.replaces = nodes[subject].id;
        if (step >= 0 && step < 4) nodes[subject].status = NodeStatus::kLeaving;
        if (step >= 4) nodes[subject].status = NodeStatus::kRemoved;
        if (step >= 0) nodes.push_back(r);
      }
      if (step >= 0 && step < 4) {
        for (auto& d : nodes) {
          if (d.status != NodeStatus::kNormal) d.phase = phases[step];
        }
      }
      return RingSnapshot::build(nodes, config).snapshot;
    };
    std::vector<std::shared_ptr<const RingSnapshot>> steps;
    for (int step = -1; step <= 4; ++step) steps.push_back(at(step));
    if (kind == 3) {  // the replacement's claim of the subject's tokens is no conflict
      const RingNode* r = steps[2]->find(NodeId(0xFFFF, 2));
      const RingNode* x = steps[0]->find(base[subject].id);
      ASSERT_TRUE(r && x);
      ASSERT_EQ(r->tokens, x->tokens);
      ASSERT_EQ(steps[2]->find(base[subject].id)->tokens, x->tokens);
    }
    std::vector<Token> probes;
    for (int k = 0; k < 64; ++k) probes.push_back(Token(rng()));
    for (size_t i = 0; i + 1 < steps.size(); ++i) {
      for (Token t : probes) {
        std::set<NodeId> reads;
        for (size_t j : {i, i + 1}) {
          for (const NodeId& n : steps[j]->natural_replicas(t)) reads.insert(n);
        }
        for (size_t j : {i, i + 1}) {
          const auto targets = steps[j]->write_targets(t);
          const std::set<NodeId> w(targets.begin(), targets.end());
          for (const NodeId& r : reads) {
            ASSERT_TRUE(w.count(r)) << "steps " << i << "," << i + 1 << ": a reader's owner is not written at step " << j;
          }
        }
      }
    }
    // announce routes exactly as before; read_new reads as after.
    for (Token t : probes) {
      ASSERT_EQ(steps[1]->write_targets(t), steps[0]->write_targets(t));
      ASSERT_EQ(steps[1]->natural_replicas(t).to_vector(), steps[0]->natural_replicas(t).to_vector());
      ASSERT_EQ(steps[3]->natural_replicas(t).to_vector(), steps[5]->natural_replicas(t).to_vector());
      ASSERT_EQ(steps[4]->write_targets(t), steps[5]->write_targets(t));
    }
  }
}

TEST(RingPropertiesTest, RangeDiffMatchesPointwiseReplicaChanges) {
  for (int seed = 1; seed <= testing::seed_count(100, 5000); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto a_nodes = random_cluster(rng);
    auto b_nodes = a_nodes;
    // Mutate: drop a node, add one, move a token.
    if (!b_nodes.empty() && rng() % 2) b_nodes.erase(b_nodes.begin() + rng() % b_nodes.size());
    if (rng() % 2) b_nodes.push_back(random_ring(rng, 1, 1 + rng() % 8)[0]);
    if (!b_nodes.empty() && !b_nodes[0].tokens.empty()) b_nodes[0].tokens[0] = Token(rng());
    auto cfg = random_config(rng);
    auto a = RingSnapshot::build(a_nodes, cfg).snapshot;
    auto b = RingSnapshot::build(b_nodes, cfg).snapshot;
    RangeDiff d = diff_snapshots(*a, *b);
    auto in_any = [](const std::vector<TokenRange>& rs, Token t) {
      return std::any_of(rs.begin(), rs.end(), [&](const TokenRange& r) { return r.contains(t); });
    };
    std::vector<Token> probes;
    for (int k = 0; k < 200; ++k) probes.push_back(Token(rng()));
    for (uint32_t i = 0; i < a->current().size(); ++i) probes.push_back(a->current().token_at(i));
    for (uint32_t i = 0; i < b->current().size(); ++i) probes.push_back(b->current().token_at(i));
    std::set<NodeId> all;
    for (auto& n : a_nodes) all.insert(n.id);
    for (auto& n : b_nodes) all.insert(n.id);
    for (Token t : probes) {
      auto before = a->natural_replicas(t);
      auto after = b->natural_replicas(t);
      for (const NodeId& n : all) {
        const bool gained = !before.contains(n) && after.contains(n);
        const bool lost = before.contains(n) && !after.contains(n);
        const NodeRanges* nr = d.find(n);
        ASSERT_EQ(gained, nr && in_any(nr->gained, t)) << n.to_string() << " at " << t.value();
        ASSERT_EQ(lost, nr && in_any(nr->lost, t)) << n.to_string() << " at " << t.value();
      }
    }
    // The reverse diff swaps gained and lost.
    RangeDiff back = diff_snapshots(*b, *a);
    ASSERT_EQ(back.nodes.size(), d.nodes.size());
    for (size_t i = 0; i < d.nodes.size(); ++i) {
      ASSERT_EQ(back.nodes[i].gained, d.nodes[i].lost);
      ASSERT_EQ(back.nodes[i].lost, d.nodes[i].gained);
    }
  }
}

// transfers_to and ranges_given_up agree, token by token, with the replicas of the two rings of a
// snapshot with a change in flight (a node moving to fresh tokens, or leaving): every range a
// node gains is named with exactly its replicas before, as sources.
TEST(RingPropertiesTest, TransfersNameEveryGainedRangeWithItsEarlierReplicas) {
  for (int seed = 1; seed <= testing::seed_count(100, 5000); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    auto nodes = random_cluster(rng);
    const ReplicationConfig config = random_config(rng);
    NodeDescription& subject = nodes[rng() % nodes.size()];
    subject.status = rng() % 2 ? NodeStatus::kMoving : NodeStatus::kLeaving;
    if (subject.status == NodeStatus::kMoving) {
      for (int k = 0; k < 1 + static_cast<int>(rng() % 8); ++k) subject.pending_tokens.push_back(Token(rng()));
    }
    auto snap = RingSnapshot::build(nodes, config).snapshot;
    ASSERT_TRUE(snap);
    const TokenRing& before = snap->current();
    const TokenRing& after = snap->future();
    std::vector<Token> probes;
    for (int k = 0; k < 200; ++k) probes.push_back(Token(rng()));
    for (uint32_t i = 0; i < before.size(); ++i) probes.push_back(before.token_at(i));
    for (uint32_t i = 0; i < after.size(); ++i) probes.push_back(after.token_at(i));
    auto ids_at = [&](const TokenRing& ring, Token t) {
      std::vector<NodeId> out;
      for (uint32_t idx : ring.replicas(ring.range_index(t))) out.push_back(snap->nodes()[idx].id);
      return out;
    };
    for (const RingNode& n : snap->nodes()) {
      const auto gains = transfers_to(n.id, snap->nodes(), before, after);
      const auto gives = ranges_given_up(n.id, snap->nodes(), before, after);
      for (Token t : probes) {
        const auto was = ids_at(before, t), will = ids_at(after, t);
        const bool gained = std::find(will.begin(), will.end(), n.id) != will.end() &&
                            std::find(was.begin(), was.end(), n.id) == was.end();
        const bool lost = std::find(was.begin(), was.end(), n.id) != was.end() &&
                          std::find(will.begin(), will.end(), n.id) == will.end();
        const RangeTransfer* hit = nullptr;
        for (const RangeTransfer& g : gains) {
          if (g.range.contains(t)) hit = &g;
        }
        ASSERT_EQ(gained, hit != nullptr) << n.id.to_string() << " at " << t.value();
        if (hit) ASSERT_EQ(hit->sources, was) << n.id.to_string() << " at " << t.value();
        const bool in_given = std::any_of(gives.begin(), gives.end(), [&](const TokenRange& r) { return r.contains(t); });
        ASSERT_EQ(lost, in_given) << n.id.to_string() << " at " << t.value();
      }
    }
  }
}

}  // namespace
}  // namespace ringkeeper
