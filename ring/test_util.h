// Helpers for ring tests only (not part of the library): seeded random rings and seed reporting.
// Pure functions of their seed; any test thread.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ringkeeper/ring/ring_snapshot.h"

namespace ringkeeper::testing {

// How many seeds a randomized test runs: `normal`, or `soak` when RINGKEEPER_SOAK is set.
inline int seed_count(int normal, int soak) {
  return std::getenv("RINGKEEPER_SOAK") ? soak : normal;
}

inline NodeId random_node_id(std::mt19937_64& rng) {
  uint64_t hi = rng();
  uint64_t lo = rng();
  return NodeId::from_random_bits(hi, lo);
}

// A ring of `nodes` NORMAL nodes with `tokens` random tokens each, spread over dcs × racks.
inline std::vector<NodeDescription> random_ring(std::mt19937_64& rng, int nodes, int tokens,
                                                int dcs = 1, int racks = 1) {
  std::vector<NodeDescription> out;
  for (int i = 0; i < nodes; ++i) {
    NodeDescription d;
    d.id = random_node_id(rng);
    d.status = NodeStatus::kNormal;
    d.dc = "dc" + std::to_string(1 + i % dcs);
    d.rack = "rack" + std::to_string(1 + (i / dcs) % racks);
    for (int k = 0; k < tokens; ++k) d.tokens.push_back(Token(rng()));
    out.push_back(std::move(d));
  }
  return out;
}

// Largest ownership over mean ownership, among nodes that own tokens.
inline double max_over_mean(const RingSnapshot& ring) { return ring.balance(); }

inline ReplicationConfig simple_rf(uint32_t rf) {
  ReplicationConfig c;
  c.strategy = StrategyKind::kSimple;
  c.rf = rf;
  return c;
}

inline ReplicationConfig topology_rf(uint32_t rf) {
  ReplicationConfig c;
  c.strategy = StrategyKind::kTopology;
  c.rf = rf;
  return c;
}

}  // namespace ringkeeper::testing
