// MovePlan: what `ringctl move --dry-run` (and `rebalance --dry-run`) shows before anything is announced — the ranges whose
// natural replicas would change if one node moved to new tokens, from which replicas to which,
// and every node's ownership before and after. A pure function of a ring snapshot; any thread.
//   Result<MovePlan> p = plan_move(*engine.ring(), self, {Token(100), Token(200)});
//   if (!p.ok()) ... p.status().message() ...  else for (const RangeMove& m : p->moves) ...
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ringkeeper/ring/ring_snapshot.h"
#include "ringkeeper/status.h"

namespace ringkeeper {

// One range (start, end] whose natural replicas change; both lists in ring order.
struct RangeMove {
  TokenRange range;
  std::vector<NodeId> from;
  std::vector<NodeId> to;
};

struct MovePlan {
  NodeId node;
  std::vector<Token> tokens;        // the new tokens, sorted
  std::vector<RangeMove> moves;     // clockwise by end token; adjacent ranges alike are merged
  // Fraction of the ring each node holds as a natural replica (LEFT and REMOVED nodes left out),
  // sorted by node id.
  std::vector<std::pair<NodeId, double>> ownership_before;
  std::vector<std::pair<NodeId, double>> ownership_after;
};

// The ring `ring` with `node`'s tokens replaced by `tokens` (and no change of its in flight),
// compared with `ring` as it routes now. kRefused, saying why, for an empty list, a repeated
// token, a token another node owns or moves to, or a node the ring does not know.
Result<MovePlan> plan_move(const RingSnapshot& ring, const NodeId& node, std::vector<Token> tokens);

// What a rebalance of an already balanced node shows: no new tokens, no moves, and every node's
// ownership as it is, before and after alike.
MovePlan plan_no_move(const RingSnapshot& ring, const NodeId& node);

}  // namespace ringkeeper
