// RangeDiff: the exact ranges each node gains and loses between two rings — what a KV server
// streams by when ownership changes. Pure function of its inputs; any thread.
//   RangeDiff d = diff_snapshots(*old_snap, *new_snap);
//   for (const NodeRanges& n : d.nodes) stream(n.node, n.gained);
#pragma once

#include <vector>

#include "ringkeeper/ring/ring_snapshot.h"
#include "ringkeeper/ring/types.h"

namespace ringkeeper {

struct NodeRanges {
  NodeId node;
  std::vector<TokenRange> gained;  // ranges it replicates after but not before, coalesced
  std::vector<TokenRange> lost;    // ranges it replicates before but not after, coalesced
};

struct RangeDiff {
  std::vector<NodeRanges> nodes;  // sorted by node id; only nodes whose ranges changed
  bool empty() const { return nodes.empty(); }
  const NodeRanges* find(const NodeId& id) const;
};

// Replica changes from ring `before` (whose node indices refer to before_nodes) to ring `after`.
RangeDiff diff_rings(std::span<const RingNode> before_nodes, const TokenRing& before,
                     std::span<const RingNode> after_nodes, const TokenRing& after);

// Natural-replica changes between two snapshots (for ownership-change events).
RangeDiff diff_snapshots(const RingSnapshot& before, const RingSnapshot& after);

// What in-flight changes will move: current owners → owners once they complete.
RangeDiff streaming_plan(const RingSnapshot& snapshot);

}  // namespace ringkeeper
