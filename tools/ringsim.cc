// ringsim — the cluster simulator's driver. Prints one JSON object per line; exits 0 when it ran,
// 2 on a usage error (one line on stderr).
//   ringsim converge --nodes N [--trials T] [--seed S] [--loss P]
//   ringsim steady --nodes N [--rounds R] [--seed S]
//   ringsim detect --nodes N [--loss P] [--stall-every S] [--stall-seconds D] [--minutes M] [--seed S]
//   ringsim chaos --runs K [--nodes N] [--seed S]
//   ringsim partition --nodes N --runs K [--seed S]
//   ringsim change --nodes N --kind join|move|rebalance|decommission|removenode [--trials T] [--seed S]
//   ringsim demo
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "ringkeeper/ring/range_diff.h"
#include "ringkeeper/ring/router.h"
#include "sim/persisted_ring.h"
#include "sim/scenarios.h"
#include "sim/sim.h"

using namespace ringkeeper;
using namespace ringkeeper::sim;

namespace {

// Rounds until a value written by one node is present on every node, per trial.
int cmd_converge(size_t nodes, int trials, uint64_t seed, double loss) {
  SimOptions o;
  o.seed = seed;
  o.loss = loss;
  SimCluster sim(o);
  sim.add_preconverged(nodes);
  sim.run_until(o.gossip_interval);
  std::mt19937_64 rng(seed);
  std::vector<int> rounds;
  const auto started = std::chrono::steady_clock::now();
  for (int t = 0; t < trials; ++t) {
    const size_t writer = rng() % nodes;
    const std::string key = "x.trial";
    const std::string value = std::to_string(t);
    sim.engine(writer).set_local(key, value);
    const NodeId wid = sim.engine(writer).id();
    const Millis t0 = sim.now();
    int r = 0;
    for (;; ++r) {
      size_t have = 0;
      for (size_t i = 0; i < nodes; ++i) {
        const auto* st = sim.engine(i).state().find(wid);
        const auto* v = st ? st->get(key) : nullptr;
        have += v && v->value == value;
      }
      if (have == nodes || r > 200) break;
      sim.run_until(t0 + (r + 1) * o.gossip_interval);
    }
    rounds.push_back(r);
    if (trials >= 10 && (t + 1) % std::max(1, trials / 10) == 0) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "converge: %d/%d trials, %.1f s\n", t + 1, trials, s);
    }
  }
  std::sort(rounds.begin(), rounds.end());
  auto pct = [&](double p) { return rounds[std::min(rounds.size() - 1, static_cast<size_t>(p * rounds.size()))]; };
  const double n = static_cast<double>(nodes);
  const double bound = std::log(n) / std::log(3.0) + std::log(std::log(n)) + 2;
  std::printf("{\"nodes\": %zu, \"trials\": %d, \"rounds_p50\": %d, \"rounds_p99\": %d, \"bound\": %.2f}\n",
              nodes, trials, pct(0.50), pct(0.99), bound);
  return 0;
}

// Time per phase of phased changes (the mover's steps announce -> write_both -> read_new ->
// release -> done, each gated by every member's acknowledgement), one change at a time on a
// preconverged cluster whose embedders acknowledge data at once.
// Follows this node's change to its end, appending the time each step took; false if it did not
// end within two minutes.
bool follow_change(SimCluster& sim, gossip::GossipEngine& e, std::vector<Millis>& phases) {
  gossip::ChangeStep step = e.own_change()->step;
  Millis since = sim.now();
  const Millis deadline = sim.now() + 120'000;
  while (step != gossip::ChangeStep::kDone && sim.now() < deadline) {
    sim.run_until(sim.now() + 10);
    const gossip::ChangeStep now_step = e.own_change()->step;
    if (now_step != step) {
      phases.push_back(sim.now() - since);
      since = sim.now();
      step = now_step;
    }
  }
  const Millis settle = sim.now() + 60'000;  // every member sees the end before the next change
  while (sim.now() < settle && !e.converged()) sim.run_until(sim.now() + 100);
  return step == gossip::ChangeStep::kDone;
}

// The fraction of all replica placements (ring × RF) that changed hands between two snapshots.
double moved_fraction(const RingSnapshot& before, const RingSnapshot& after) {
  long double gained = 0;
  for (const NodeRanges& n : diff_snapshots(before, after).nodes) {
    for (const TokenRange& r : n.gained) {
      const uint64_t width = r.end.value() - r.start.value();
      gained += width == 0 ? 18446744073709551616.0L : static_cast<long double>(width);
    }
  }
  return static_cast<double>(gained / (18446744073709551616.0L * std::max<size_t>(1, before.current().replica_count())));
}

// The least fraction of all replica placements any token choice must move to bring `before` to
// a largest-over-mean ownership of `target`: what every node above target × mean must shed.
double min_moved_fraction(const RingSnapshot& before, double target) {
  const auto own = before.ownership();
  double total = 0;
  size_t owners = 0;
  for (size_t i = 0; i < own.size(); ++i) {
    if (before.nodes()[i].tokens.empty()) continue;
    total += own[i];
    ++owners;
  }
  if (owners == 0) return 0;
  const double cap = target * total / static_cast<double>(owners);
  double shed = 0;
  for (double o : own) shed += std::max(0.0, o - cap);
  return shed / std::max(1.0, total);
}

// Rebalance run on each node of an N-node cluster with random tokens, in turn; per trial a new
// cluster. Reports balance before and after, how much of the ring moved (next to the least any
// token choice reaching the same balance would move), and time per phase.
int cmd_rebalance(size_t nodes, int trials, uint64_t seed) {
  std::vector<Millis> phases;
  std::vector<double> before, after, moved, least;
  int incomplete = 0, movers = 0;
  for (int t = 0; t < trials; ++t) {
    SimOptions o;
    o.seed = seed + static_cast<uint64_t>(t);
    SimCluster sim(o);
    sim.add_preconverged(nodes);
    sim.run_until(o.gossip_interval);
    auto start = sim.engine(0).ring();
    before.push_back(start->balance());
    for (size_t i = 0; i < nodes; ++i) {
      std::vector<Token> next = sim.engine(i).rebalance_tokens();
      if (next.empty()) continue;
      if (!sim.engine(i).move_tokens(next, sim.now(), gossip::ChangeKind::kRebalance).empty()) {
        ++incomplete;
        continue;
      }
      ++movers;
      incomplete += !follow_change(sim, sim.engine(i), phases);
    }
    auto end = sim.engine(0).ring();
    after.push_back(end->balance());
    moved.push_back(moved_fraction(*start, *end));
    least.push_back(min_moved_fraction(*start, end->balance()));
  }
  std::sort(phases.begin(), phases.end());
  auto pct = [&](double p) {
    return phases.empty() ? 0.0 : phases[std::min(phases.size() - 1, static_cast<size_t>(p * phases.size()))] / 1000.0;
  };
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0.0 : s / static_cast<double>(v.size());
  };
  std::printf("{\"nodes\": %zu, \"kind\": \"rebalance\", \"trials\": %d, \"phase_p50_s\": %.2f, "
              "\"phase_p99_s\": %.2f, \"phase_p99_rounds\": %.1f, \"max_over_mean_before\": %.3f, "
              "\"max_over_mean_after\": %.3f, \"worst_after\": %.3f, \"moved_fraction\": %.3f, "
              "\"least_moved_fraction\": %.3f, \"nodes_moved_per_trial\": %.1f, \"incomplete\": %d}\n",
              nodes, trials, pct(0.5), pct(0.99), pct(0.99), mean(before), mean(after),
              after.empty() ? 0.0 : *std::max_element(after.begin(), after.end()), mean(moved), mean(least),
              static_cast<double>(movers) / std::max(1, trials), incomplete);
  return 0;
}

// Starts trial t's change of `kind` (move, decommission or removenode) on one cluster, one change
// after another; returns the coordinator's index, or nothing (with the reason on stderr). A
// decommissioned node stops once LEFT; a removed one was crashed and seen down first (the
// detection is not timed: phases start at the removal's announce).
std::optional<size_t> start_trial_change(SimCluster& sim, const std::string& kind, std::mt19937_64& rng, int t) {
  std::vector<size_t> live;
  for (size_t i = 0; i < sim.size(); ++i) {
    if (sim.alive(i) && sim.engine(i).own_status() == NodeStatus::kNormal) live.push_back(i);
  }
  const size_t pick = live[rng() % live.size()];
  auto& e = sim.engine(pick);
  std::string why;
  size_t coordinator = pick;
  if (kind == "join") {
    // A new node seeded by a live one; its phases start once its claim was agreed on (the claim
    // stage is the join's announce, not timed here).
    const size_t joiner = sim.add_node({pick});
    const Millis deadline = sim.now() + 120'000;
    while (!sim.engine(joiner).own_change() && sim.now() < deadline) sim.run_until(sim.now() + 10);
    if (!sim.engine(joiner).own_change()) {
      std::fprintf(stderr, "change: trial %d: the joiner's claim was not agreed on within 120 s\n", t);
      return std::nullopt;
    }
    return joiner;
  }
  if (kind == "move") {
    std::vector<Token> next;
    for (int k = 0; k < 16; ++k) next.push_back(Token(rng()));
    why = e.move_tokens(next, sim.now());
  } else if (kind == "decommission") {
    why = e.decommission(sim.now());
  } else {
    const NodeId dead = e.id();
    sim.crash(pick);
    coordinator = live[(std::find(live.begin(), live.end(), pick) - live.begin() + 1) % live.size()];
    const Millis deadline = sim.now() + 120'000;
    while (sim.engine(coordinator).liveness(dead) != gossip::PeerLiveness::kDown && sim.now() < deadline) {
      sim.run_until(sim.now() + 100);
    }
    why = sim.engine(coordinator).remove_node(dead, sim.now());
  }
  if (!why.empty()) {
    std::fprintf(stderr, "change: trial %d refused: %s\n", t, why.c_str());
    return std::nullopt;
  }
  return coordinator;
}

int cmd_change(size_t nodes, const std::string& kind, int trials, uint64_t seed) {
  if (kind == "rebalance") return cmd_rebalance(nodes, trials, seed);
  if (kind != "move" && kind != "decommission" && kind != "removenode" && kind != "join") {
    std::fprintf(stderr, "ringsim: change: --kind %s is not one of join|move|rebalance|decommission|removenode\n",
                 kind.c_str());
    return 2;
  }
  SimOptions o;
  o.seed = seed;
  SimCluster sim(o);
  sim.add_preconverged(nodes);
  sim.run_until(o.gossip_interval);
  const size_t rf = sim.engine(0).ring()->current().replica_count();
  if ((kind == "decommission" || kind == "removenode") && static_cast<size_t>(trials) + rf + 1 > nodes) {
    std::fprintf(stderr, "ringsim: change: each %s takes a node out: at most %zu trials on %zu nodes\n", kind.c_str(),
                 nodes > rf + 1 ? nodes - rf - 1 : 0, nodes);
    return 2;
  }
  std::mt19937_64 rng(seed ^ 0xC4A9E5D3B1F20877ULL);  // not the simulator's own stream (its tokens)
  std::vector<Millis> phases;
  int incomplete = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int t = 0; t < trials; ++t) {
    auto coordinator = start_trial_change(sim, kind, rng, t);
    if (!coordinator) {
      ++incomplete;
      continue;
    }
    incomplete += !follow_change(sim, sim.engine(*coordinator), phases);
    if (kind == "decommission") sim.crash(*coordinator);  // LEFT: stopped when convenient
    if (trials >= 10 && (t + 1) % std::max(1, trials / 10) == 0) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "change: %d/%d trials, %.1f s\n", t + 1, trials, secs);
    }
  }
  std::sort(phases.begin(), phases.end());
  auto pct = [&](double p) {
    return phases.empty() ? 0.0 : phases[std::min(phases.size() - 1, static_cast<size_t>(p * phases.size()))] / 1000.0;
  };
  const double round_s = o.gossip_interval / 1000.0;
  std::printf("{\"nodes\": %zu, \"kind\": \"%s\", \"trials\": %d, \"phase_p50_s\": %.2f, \"phase_p99_s\": %.2f, "
              "\"phase_p99_rounds\": %.1f, \"phases\": %zu, \"incomplete\": %d}\n",
              nodes, kind.c_str(), trials, pct(0.5), pct(0.99), pct(0.99) / round_s, phases.size(), incomplete);
  return 0;
}

// Bytes per node per second once nothing changes, next to a Cassandra-style round that sends
// every node's digest to one peer per second.
int cmd_steady(size_t nodes, int rounds, uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  SimCluster sim(o);
  sim.add_preconverged(nodes);
  sim.run_until(2 * o.gossip_interval);
  const uint64_t before = sim.bytes_sent();
  const Millis t0 = sim.now();
  const auto started = std::chrono::steady_clock::now();
  sim.run_until(t0 + rounds * o.gossip_interval);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double seconds = rounds * o.gossip_interval / 1000.0;
  const double ours = (sim.bytes_sent() - before) / seconds / nodes;
  // The full-digest baseline, through our own codec: one Digests frame listing every node.
  gossip::Message m;
  m.from = sim.engine(0).id();
  m.cluster_id = sim.engine(0).config().cluster_id;
  m.replication = o.replication.canonical();
  m.from_address = sim.engine(0).config().address;
  m.body = gossip::Digests{{}, sim.engine(0).state().all_digests()};
  const double full = static_cast<double>(gossip::encode(m, o.codec).size());
  std::printf("{\"nodes\": %zu, \"bytes_per_node_per_s\": %.1f, \"full_digest_bytes_per_node_per_s\": %.1f, "
              "\"ratio\": %.5f, \"sim_wall_s\": %.2f, \"rounds\": %d}\n",
              nodes, ours, full, ours / full, wall, rounds);
  return 0;
}

// Failure detection: crashes every 30 s, one node stalled for a while every so often, loss.
int cmd_detect(const DetectOptions& d) {
  DetectResult r = run_detect(d);
  std::vector<double> t = r.detect_seconds;
  std::sort(t.begin(), t.end());
  auto pct = [&](double p) { return t.empty() ? -1.0 : t[std::min(t.size() - 1, static_cast<size_t>(p * t.size()))]; };
  std::printf("{\"nodes\": %zu, \"detect_p50_s\": %.2f, \"detect_p99_s\": %.2f, \"false_downs\": %llu, "
              "\"crashes\": %zu, \"undetected\": %llu, \"loss\": %.2f, \"minutes\": %.1f}\n",
              d.nodes, pct(0.5), pct(0.99), static_cast<unsigned long long>(r.false_downs), t.size(),
              static_cast<unsigned long long>(r.undetected), d.loss, d.duration / 60000.0);
  return 0;
}

// Seeded chaos runs (seed, seed + 1, ...). A run counts once under each check it failed, so the
// kinds may add up to more than invariant_failures. Replay one with --runs 1 --seed S.
int cmd_chaos(int runs, size_t nodes, uint64_t seed) {
  int converged = 0, failures = 0, removals = 0, removed_talking = 0;
  std::string failed;
  std::map<std::string, int> by_kind;
  for (int k = 0; k < runs; ++k) {
    const uint64_t s = seed + k;
    ChaosResult r = run_chaos(s, nodes);
    removals += r.removed_a_node;
    converged += r.converged;
    removed_talking += r.removed_node_messages > 0;
    if (!r.ok()) {
      ++failures;
      for (const std::string& kind : r.kinds) ++by_kind[kind];
      failed += (failed.empty() ? "" : ", ") + std::to_string(s);
      std::fprintf(stderr, "chaos: seed %llu failed: %s\n", static_cast<unsigned long long>(s), r.failure.c_str());
    }
    if (runs >= 10 && (k + 1) % std::max(1, runs / 10) == 0) std::fprintf(stderr, "chaos: %d/%d runs\n", k + 1, runs);
  }
  std::string kinds;
  for (const auto& [kind, count] : by_kind) {
    kinds += (kinds.empty() ? "" : ", ") + ("\"" + kind + "\": ") + std::to_string(count);
  }
  std::printf(
      "{\"runs\": %d, \"nodes\": %zu, \"converged\": %d, \"invariant_failures\": %d, \"failed_seeds\": [%s], "
      "\"failures_by_kind\": {%s}, \"removals\": %d, \"removed_still_gossiping\": %d}\n",
      runs, nodes, converged, failures, failed.c_str(), kinds.c_str(), removals, removed_talking);
  return 0;
}

// A majority|minority split held until each side marks the other down, then healed: healthy
// nodes marked down while healing, and gossip rounds until every node agrees again.
int cmd_partition(size_t nodes, int runs, uint64_t seed) {
  const Millis interval = SimOptions{}.gossip_interval;
  std::vector<double> seconds;
  uint64_t healthy_marked_down = 0;
  int not_converged = 0, runs_with_marks = 0, split_not_seen = 0;
  for (int k = 0; k < runs; ++k) {
    const uint64_t s = seed + k;
    PartitionHealResult r = run_partition_heal(s, nodes);
    healthy_marked_down += r.healthy_marked_down;
    runs_with_marks += r.healthy_marked_down > 0;
    split_not_seen += !r.split_seen;
    if (r.converged) {
      seconds.push_back(r.heal_ms / 1000.0);
    } else {
      ++not_converged;
      std::fprintf(stderr, "partition: seed %llu did not converge within 120 s of the heal\n",
                   static_cast<unsigned long long>(s));
    }
  }
  std::sort(seconds.begin(), seconds.end());
  auto pct = [&](double p) {
    return seconds.empty() ? -1.0 : seconds[std::min(seconds.size() - 1, static_cast<size_t>(p * seconds.size()))];
  };
  const double per_round = interval / 1000.0;
  std::printf(
      "{\"nodes\": %zu, \"runs\": %d, \"healthy_marked_down\": %llu, \"runs_with_healthy_marked_down\": %d, "
      "\"heal_rounds_p50\": %.1f, \"heal_rounds_p99\": %.1f, \"heal_s_p50\": %.2f, \"heal_s_p99\": %.2f, "
      "\"not_converged\": %d, \"split_not_seen\": %d}\n",
      nodes, runs, static_cast<unsigned long long>(healthy_marked_down), runs_with_marks, pct(0.5) / per_round,
      pct(0.99) / per_round, pct(0.5), pct(0.99), not_converged, split_not_seen);
  return 0;
}

// What the ring core and the gossip engine do today, shown on a simulated 5-node cluster.
// Longer than 60 lines on purpose: a narrated script, read top to bottom like its output; each
// numbered step prints what the lines under it just did.
// The demo's table: every node as node 0 sees it.
void print_demo_status(SimCluster& sim) {
  auto r = sim.engine(0).ring();
  auto own = r->ownership();
  std::printf("   %-3s %-38s %6s %10s\n", "", "node (as node 0 sees it)", "tokens", "ownership");
  for (size_t i = 0; i < r->nodes().size(); ++i) {
    const RingNode& n = r->nodes()[i];
    const auto live = sim.engine(0).liveness(n.id);
    const char state = live == gossip::PeerLiveness::kDown ? 'D' : 'U';
    const char status = n.status == NodeStatus::kNormal ? 'N' : n.status == NodeStatus::kJoining ? 'J' : '?';
    std::printf("   %c%c  %-38s %6zu %9.1f%%\n", state, status, n.id.to_string().c_str(), n.tokens.size(), own[i] * 100);
  }
}

int cmd_demo() {
  std::printf("ringkeeper demo (a simulated cluster)\n\n");
  SimOptions o;
  o.seed = 2026;
  SimCluster sim(o);
  sim.add_node({SimCluster::kSelf});
  for (int i = 1; i < 5; ++i) sim.add_node({0});
  std::printf("1. Five fresh nodes start at once; node 0 is the seed, the others know only it.\n");
  auto all = [&](auto pred) {
    for (size_t i = 0; i < sim.size(); ++i) {
      if (sim.alive(i) && !pred(sim.engine(i))) return false;
    }
    return true;
  };
  auto wait = [&](auto pred, Millis limit) {
    const Millis start = sim.now();
    while (!all(pred) && sim.now() - start < limit) sim.run_until(sim.now() + 100);
    return (sim.now() - start) / 1000.0;
  };
  double t = wait([](auto& e) { return e.state().size() == 5; }, 30'000);
  std::printf("   after %.1f s every node knows all 5.\n", t);
  t += wait([](auto& e) { return e.own_status() == NodeStatus::kNormal && e.converged(); }, 30'000);
  auto ring = sim.engine(0).ring();
  std::printf("2. Each computed the same joint token allocation (16 tokens, RF 3), claimed its share,\n"
              "   and turned NORMAL once all routed with one ring: converged after %.1f s,\n"
              "   ring digest %s on every node.\n\n", t, ring->digest_hex().c_str());
  auto print_status = [&]() { print_demo_status(sim); };
  print_status();
  std::printf("\n3. Owners of a few keys (natural replicas, ring order):\n");
  for (const char* key : {"user:1", "user:2", "cart:42"}) {
    std::printf("   %-8s token %-20s ->", key, ring->token_of(key).to_string().c_str());
    for (const NodeId& id : ring->natural_replicas(key)) std::printf(" %.8s", id.to_string().c_str());
    std::printf("\n");
  }
  const NodeId first = ring->natural_replicas("user:1")[0];
  size_t victim = 0;
  for (size_t i = 0; i < sim.size(); ++i) {
    if (sim.engine(i).id() == first) victim = i;
  }
  std::printf("\n4. Node %.8s (first replica of user:1) crashes.\n", first.to_string().c_str());
  sim.crash(victim);
  t = wait([&](auto& e) { return e.id() == first || e.liveness(first) == gossip::PeerLiveness::kDown; }, 30'000);
  std::printf("   every live node marks it down after %.1f s; the preference list falls back clockwise:\n   user:1  ->", t);
  Router router(sim.engine(0).ring(), [&](const NodeId& id) {
    return sim.engine(0).liveness(id) != gossip::PeerLiveness::kDown;
  });
  for (const auto& e : router.preference_list("user:1")) {
    std::printf(" %.8s(%s)", e.node.to_string().c_str(), e.natural ? "natural" : "fallback");
  }
  std::printf("\n\n5. It restarts from its state (same id, generation %llu -> ",
              static_cast<unsigned long long>(sim.engine(victim).config().generation.value()));
  sim.restart(victim);
  std::printf("%llu) and is back up everywhere", static_cast<unsigned long long>(sim.engine(victim).config().generation.value()));
  t = wait([&](auto& e) { return e.liveness(first) == gossip::PeerLiveness::kUp && e.converged(); }, 30'000);
  std::printf(" after %.1f s, with the same tokens.\n\n", t);
  print_status();
  std::printf("\nDone. Real processes: tools/dev demo (ringd, ringctl, kvd on loopback).\n");
  return 0;
}

int cmd_persist(const std::string& dir, size_t nodes, uint32_t tokens, uint64_t seed) {
  if (std::filesystem::exists(std::filesystem::path(dir) / "state")) {
    std::fprintf(stderr, "ringsim: %s already holds a store; give a new dir\n", dir.c_str());
    return 2;
  }
  auto r = sim::write_persisted_ring(dir, nodes, tokens, seed);
  if (!r.error.empty()) {
    std::fprintf(stderr, "ringsim: %s\n", r.error.c_str());
    return 1;
  }
  std::printf("{\"dir\": \"%s\", \"nodes\": %zu, \"self\": \"%s\", \"owners\": {", dir.c_str(), nodes,
              r.self.to_string().c_str());
  for (size_t i = 0; i < r.keys.size(); ++i) {
    std::printf("%s\"%s\": [", i ? ", " : "", r.keys[i].key.c_str());
    for (size_t j = 0; j < r.keys[i].replicas.size(); ++j) {
      std::printf("%s\"%s\"", j ? ", " : "", r.keys[i].replicas[j].to_string().c_str());
    }
    std::printf("]");
  }
  std::printf("}}\n");
  return 0;
}

}  // namespace

// Longer than 60 lines on purpose: the CLI's declaration, one option a line, then a dispatch;
// each subcommand's work is in its cmd_* function.
int main(int argc, char** argv) {
  CLI::App app{"ringsim: the ringkeeper cluster simulator; prints one JSON object per line"};
  app.require_subcommand(1);
  size_t nodes = 100;
  int trials = 100, rounds = 100;
  uint64_t seed = 1;
  double loss = 0.0;
  auto* converge = app.add_subcommand("converge", "rounds for one change to reach all N nodes");
  converge->add_option("--nodes", nodes, "cluster size")->required()->check(CLI::Range(2, 100000));
  converge->add_option("--trials", trials, "number of changes measured")->check(CLI::Range(1, 100000));
  converge->add_option("--seed", seed, "random seed");
  converge->add_option("--loss", loss, "message loss probability")->check(CLI::Range(0.0, 0.9));
  auto* steady = app.add_subcommand("steady", "gossip bytes per node per second when nothing changes");
  steady->add_option("--nodes", nodes, "cluster size")->required()->check(CLI::Range(2, 100000));
  steady->add_option("--rounds", rounds, "gossip rounds measured")->check(CLI::Range(1, 100000));
  steady->add_option("--seed", seed, "random seed");
  auto* demo = app.add_subcommand("demo", "show the ring core and gossip on a simulated cluster");
  DetectOptions dopt;
  double stall_every_s = 60, stall_seconds = 5, minutes = 10;
  auto* detect = app.add_subcommand("detect", "time to mark a crashed node down; healthy nodes marked down");
  detect->add_option("--nodes", dopt.nodes, "cluster size")->required()->check(CLI::Range(3, 100000));
  detect->add_option("--loss", dopt.loss, "message loss probability")->check(CLI::Range(0.0, 0.9));
  detect->add_option("--stall-every", stall_every_s, "seconds between stalls of one node");
  detect->add_option("--stall-seconds", stall_seconds, "how long each stall lasts");
  detect->add_option("--minutes", minutes, "simulated minutes");
  detect->add_option("--seed", dopt.seed, "random seed");
  int runs = 100;
  auto* chaos = app.add_subcommand("chaos", "random faults, then heal: does every run converge?");
  chaos->add_option("--runs", runs, "number of seeded runs")->required()->check(CLI::Range(1, 1000000));
  chaos->add_option("--nodes", nodes, "cluster size")->check(CLI::Range(2, 1000));
  chaos->add_option("--seed", seed, "first seed");
  auto* partition =
      app.add_subcommand("partition", "a majority|minority split, then heal: false downs, rounds to agree");
  partition->add_option("--nodes", nodes, "cluster size")->required()->check(CLI::Range(2, 10000));
  partition->add_option("--runs", runs, "number of seeded runs")->required()->check(CLI::Range(1, 1000000));
  partition->add_option("--seed", seed, "first seed");
  std::string change_kind = "move";
  auto* change = app.add_subcommand("change", "time per phase of phased ownership changes");
  change->add_option("--nodes", nodes, "cluster size")->required()->check(CLI::Range(2, 100000));
  change->add_option("--kind", change_kind, "join|move|rebalance|decommission|removenode")
      ->required();
  change->add_option("--trials", trials, "changes measured, one after another")->check(CLI::Range(1, 100000));
  change->add_option("--seed", seed, "random seed");
  std::string persist_dir;
  uint32_t tokens_per_node = 16;
  auto* persist = app.add_subcommand("persist", "write a data dir holding an N-node ring (node 0 is the dir's own)");
  persist->add_option("--dir", persist_dir, "data dir to create (must not hold a store yet)")->required();
  persist->add_option("--nodes", nodes, "ring size")->required()->check(CLI::Range(1, 100000));
  persist->add_option("--tokens", tokens_per_node, "tokens per node")->check(CLI::Range(1, 4096));
  persist->add_option("--seed", seed, "random seed");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {  // usage errors exit 2, as --kind nope does (not CLI11's own codes)
    std::fprintf(stderr, "ringsim: %s (see ringsim --help)\n", e.what());
    return 2;
  }
  if (persist->parsed()) return cmd_persist(persist_dir, nodes, tokens_per_node, seed);
  if (converge->parsed()) return cmd_converge(nodes, trials, seed, loss);
  if (change->parsed()) return cmd_change(nodes, change_kind, trials, seed);
  if (steady->parsed()) return cmd_steady(nodes, rounds, seed);
  if (demo->parsed()) return cmd_demo();
  if (detect->parsed()) {
    dopt.stall_every = static_cast<Millis>(stall_every_s * 1000);
    dopt.stall_for = static_cast<Millis>(stall_seconds * 1000);
    dopt.duration = static_cast<Millis>(minutes * 60'000);
    return cmd_detect(dopt);
  }
  if (partition->parsed()) return cmd_partition(nodes, runs, seed);
  if (chaos->parsed()) {
    if (!chaos->count("--nodes")) nodes = 10;
    return cmd_chaos(runs, nodes, seed);
  }
  return 2;
}
