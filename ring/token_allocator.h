// TokenAllocator: picks tokens for joining nodes so that ownership stays balanced under the
// cluster's replication strategy (rack- and DC-aware), deterministically: every node that runs it
// on the same ring and the same joiners gets the same tokens. Pure; any thread.
//   auto tokens = allocate_tokens(ring_nodes, {{id, "dc1", "rack1", 16}}, config);
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ringkeeper/ring/replication.h"
#include "ringkeeper/ring/ring_snapshot.h"
#include "ringkeeper/ring/types.h"

namespace ringkeeper {

struct JoinerSpec {
  NodeId id;
  std::string dc = "dc1";
  std::string rack = "rack1";
  uint32_t num_tokens = 16;
};

// Tokens for each joiner, in joiner-id order; each list sorted.
using Allocation = std::vector<std::pair<NodeId, std::vector<Token>>>;

// One joint allocation for a set of joiners. `existing` are the nodes already in the ring (only
// those with statuses that own tokens count). Joiners are taken in id order, each placed by a
// greedy that evaluates every range split exactly under the strategy and minimises the squared
// deviation of ownership from the fair share. On an empty ring the joiners get evenly spaced,
// interleaved tokens (the first nodes of a new cluster).
Allocation allocate_tokens(const std::vector<NodeDescription>& existing,
                           std::vector<JoinerSpec> joiners, const ReplicationConfig& config);

// The node's tokens with as few of them swapped as brings the whole ring's balance to where the
// greedy can take it: round by round, the token whose loss costs least is moved to the greedy's
// best split, while that improves the balance. Moves a fraction of what rebalance_tokens moves.
// Empty for a node that owns no tokens.
std::vector<Token> rebalance_by_swaps(const std::vector<NodeDescription>& existing, const NodeId& node,
                                      const ReplicationConfig& config);

// New tokens for an existing node (ringctl rebalance): the node is taken out and placed again.
std::vector<Token> rebalance_tokens(const std::vector<NodeDescription>& existing, const NodeId& node,
                                    uint32_t num_tokens, const ReplicationConfig& config);

}  // namespace ringkeeper
