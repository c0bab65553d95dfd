// Writes a data dir holding an N-node ring as a node of that cluster would have persisted it
// (ringsim persist, the startup benchmark): node 0 is the dir's own node, every node NORMAL with
// random tokens. Returns what a correct `owners` answer must say for a few keys. One call owns the
// store it opens for its duration; call it while no node runs on that dir (any thread).
#pragma once

#include <string>
#include <vector>

#include "ringkeeper/ring/types.h"

namespace ringkeeper::sim {

struct PersistedRing {
  NodeId self;
  std::string error;  // non-empty: could not write
  struct Owners {
    std::string key;
    std::vector<NodeId> replicas;
  };
  std::vector<Owners> keys;
};

PersistedRing write_persisted_ring(const std::string& data_dir, size_t nodes, uint32_t tokens_per_node,
                                   uint64_t seed);

}  // namespace ringkeeper::sim
