#include "tests/sim/scenarios.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>

namespace ringkeeper::sim {

namespace {

// Checks what "converged" means after a heal; returns what failed, or empty.
std::string check_converged(SimCluster& sim, const std::vector<NodeId>& removed) {
  std::optional<uint64_t> summary, digest;
  for (size_t i = 0; i < sim.size(); ++i) {
    if (!sim.alive(i)) continue;
    auto& e = sim.engine(i);
    if (summary && *summary != e.state().summary()) return "cluster states differ";
    summary = e.state().summary();
    const uint64_t d = e.ring()->digest();
    if (digest && *digest != d) return "ring digests differ";
    digest = d;
    for (const NodeId& gone : removed) {
      const RingNode* n = e.ring()->find(gone);
      if (n && !n->tokens.empty()) return "node " + std::to_string(i) + " still routes to a removed node";
    }
    for (size_t j = 0; j < sim.size(); ++j) {
      if (!sim.alive(j)) continue;
      // Every live node's latest token set is what this node's ring has for it.
      const RingNode* in_ring = e.ring()->find(sim.engine(j).id());
      const RingNode* own = sim.engine(j).ring()->find(sim.engine(j).id());
      if (!in_ring || !own || in_ring->tokens != own->tokens) {
        return "node " + std::to_string(i) + " routes with other tokens for node " + std::to_string(j);
      }
      if (j == i) continue;
      const auto view = e.liveness(sim.engine(j).id());
      if (view == gossip::PeerLiveness::kDown || view == gossip::PeerLiveness::kSuspect) {
        return "node " + std::to_string(i) + " sees live node " + std::to_string(j) + " as " +
               std::string(to_string(view));
      }
    }
  }
  return "";
}

}  // namespace

ChaosResult run_chaos(uint64_t seed, size_t nodes) {
  std::mt19937_64 rng(seed);
  SimOptions o;
  o.seed = seed;
  o.loss = (rng() % 4) * 0.05;
  SimCluster sim(o);
  sim.add_preconverged(nodes);
  for (int k = 0; k < 6; ++k) {
    const size_t a = rng() % nodes, b = rng() % nodes;
    if (a == b) continue;
    sim.cut(a, b);
    if (rng() % 2) sim.cut(b, a);
  }
  // A crashed node either restarts (same id, generation + 1) or, once some live node sees it
  // down, is removed by an operator there; in a small cluster it always restarts.
  std::optional<size_t> crashed;
  const bool remove = nodes > 3 && rng() % 2;
  std::vector<NodeId> removed;
  if (rng() % 2) {
    crashed = rng() % nodes;
    sim.crash(*crashed);
  }
  sim.stall(rng() % nodes, 5'000 + rng() % 10'000);
  for (int step = 0; step < 30; ++step) {
    const size_t w = rng() % nodes;
    if (sim.alive(w)) sim.engine(w).set_local("x.k" + std::to_string(rng() % 3), std::to_string(rng()));
    if (crashed && !remove && step == 20) sim.restart(*crashed);
    if (crashed && remove && removed.empty() && step >= 10) {
      const NodeId gone = sim.engine(*crashed).id();
      for (size_t i = 0; i < nodes && removed.empty(); ++i) {
        if (sim.alive(i) && sim.engine(i).remove_node(gone).empty()) removed.push_back(gone);
      }
    }
    sim.run_until(sim.now() + 1'000);
  }
  if (crashed && remove && removed.empty()) sim.restart(*crashed);  // nobody saw it down in time
  sim.heal_all();
  ChaosResult result;
  const Millis deadline = sim.now() + 60'000;
  do {
    sim.run_until(sim.now() + 1'000);
    result.failure = check_converged(sim, removed);
  } while (!result.failure.empty() && sim.now() < deadline);
  result.converged = result.failure.empty();
  result.removed_a_node = !removed.empty();
  return result;
}

DetectResult run_detect(const DetectOptions& opt) {
  SimOptions o;
  o.seed = opt.seed;
  o.loss = opt.loss;
  SimCluster sim(o);
  sim.add_preconverged(opt.nodes);
  std::mt19937_64 rng(opt.seed);
  DetectResult result;
  const size_t stalled = 0;  // node 0 is the one that stalls; crashes pick among the others
  Millis stall_start = opt.stall_every / 2, stall_end = -1;
  constexpr size_t kNoVictim = SIZE_MAX;
  size_t victim = kNoVictim;
  Millis crash_at = opt.crash_every;
  std::set<size_t> marked;  // live nodes that marked the victim down
  // While the victim's old life is being detected, any down mark on another node is false.
  while (sim.now() < opt.duration) {
    const Millis next = sim.now() + 100;
    if (next >= stall_start && stall_end < stall_start) {
      sim.stall(stalled, stall_start + opt.stall_for);
      stall_end = stall_start + opt.stall_for;
      stall_start += opt.stall_every;
    }
    if (victim == kNoVictim && next >= crash_at) {
      victim = 1 + rng() % (opt.nodes - 1);
      sim.run_until(crash_at);
      sim.crash(victim);
      marked.clear();
    }
    sim.run_until(next);
    const bool stalled_now = sim.now() < stall_end;
    for (size_t i = 0; i < sim.size(); ++i) {
      for (const gossip::LivenessRecord& down : sim.engine(i).take_marked_down()) {
        size_t target = sim.size();
        for (size_t j = 0; j < sim.size(); ++j) {
          if (sim.engine(j).id() == down.node) target = j;
        }
        // A mark about an earlier life of a node that has since restarted is old news, not a
        // verdict on the process running now.
        if (target < sim.size() && down.generation < sim.engine(target).config().generation) continue;
        const bool is_victim = target == victim;
        const bool target_stalled = target == stalled && (stalled_now || sim.now() < stall_end + 1'000);
        if (is_victim) {
          if (sim.alive(i)) marked.insert(i);
        } else if (!target_stalled && i != target) {
          ++result.false_downs;
          if (std::getenv("RINGSIM_DEBUG")) {
            std::fprintf(stderr, "false down: t=%lld observer=%zu target=%zu stall_end=%lld victim=%d\n",
                         static_cast<long long>(sim.now()), i, target, static_cast<long long>(stall_end),
                         victim == kNoVictim ? -1 : static_cast<int>(victim));
          }
        }
      }
    }
    if (victim != kNoVictim) {
      size_t live = 0, have = 0;
      for (size_t i = 0; i < sim.size(); ++i) {
        if (i == victim || !sim.alive(i) || (i == stalled && stalled_now)) continue;
        ++live;
        have += marked.count(i);
      }
      const Millis elapsed = sim.now() - crash_at;
      if (have == live || elapsed > 60'000) {
        if (have == live) {
          result.detect_seconds.push_back(elapsed / 1000.0);
        } else {
          ++result.undetected;
        }
        sim.restart(victim);
        victim = kNoVictim;
        crash_at = sim.now() + opt.crash_every;
      }
    }
  }
  return result;
}

}  // namespace ringkeeper::sim
