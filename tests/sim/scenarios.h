// Scenarios shared by the simulator tests and `ringsim`: randomized faults then heal, and
// failure detection under loss and stalls. Single-threaded; deterministic for a seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/sim/sim.h"

namespace ringkeeper::sim {

struct ChaosResult {
  bool converged = false;
  bool removed_a_node = false;  // the crashed node was removed (not restarted)
  std::string failure;          // what did not hold, when !converged
};

// Random cuts (one- and two-way), loss, a stall, a crash followed by a restart or a removenode,
// and writes for 30 s; then heal everything. Converged means: within 60 s every live node has the
// identical cluster state and ring digest, every live node's tokens are in every ring, no removed
// node owns anything anywhere, and no live node sees another live node as down or suspect.
ChaosResult run_chaos(uint64_t seed, size_t nodes);

struct DetectOptions {
  size_t nodes = 10;
  double loss = 0.0;
  Millis stall_every = 60'000;
  Millis stall_for = 5'000;
  Millis duration = 10 * 60'000;
  Millis crash_every = 30'000;
  uint64_t seed = 1;
};

struct DetectResult {
  std::vector<double> detect_seconds;  // per crash: until every live node marked it down
  uint64_t undetected = 0;             // crashes not detected by everyone within 60 s
  uint64_t false_downs = 0;            // healthy nodes (neither crashed nor stalled) marked down
};

// Crashes a random node every crash_every (restarting it once everyone marked it down), stalls
// another node for stall_for every stall_every, under `loss`.
DetectResult run_detect(const DetectOptions& options);

}  // namespace ringkeeper::sim
