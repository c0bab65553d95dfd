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

// One range a node gains, with the nodes that replicate it before (where to stream it from).
struct RangeTransfer {
  TokenRange range;
  std::vector<NodeId> sources;  // its replicas in the earlier ring, in ring order
  bool operator==(const RangeTransfer&) const = default;
};

// The ranges `node` replicates in ring `after` but not in ring `before` (both over the one node
// table `nodes`), clockwise from the lowest token, each with its replicas in `before`; adjacent
// ranges with the same sources are merged. Pure; any thread.
std::vector<RangeTransfer> transfers_to(const NodeId& node, std::span<const RingNode> nodes, const TokenRing& before,
                                        const TokenRing& after);
// The ranges `node` replicates in `before` but not in `after` (what it gives up), merged.
std::vector<TokenRange> ranges_given_up(const NodeId& node, std::span<const RingNode> nodes, const TokenRing& before,
                                        const TokenRing& after);

}  // namespace ringkeeper
