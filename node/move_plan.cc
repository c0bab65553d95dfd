// plan_move (node/move_plan.h): a second snapshot with the node's tokens replaced, compared range
// by range with the one the node routes with.
#include "node/move_plan.h"

#include <algorithm>

namespace ringkeeper {

namespace {

bool same_members(std::vector<NodeId> a, std::vector<NodeId> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

std::vector<std::pair<NodeId, double>> ownership_of(const RingSnapshot& ring) {
  std::vector<std::pair<NodeId, double>> out;
  const auto fractions = ring.ownership();
  const auto nodes = ring.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].status == NodeStatus::kLeft || nodes[i].status == NodeStatus::kRemoved) continue;
    out.emplace_back(nodes[i].id, i < fractions.size() ? fractions[i] : 0.0);
  }
  return out;  // nodes() is sorted by id
}

// Every token of either ring, sorted: between two neighbours neither ring changes owners.
std::vector<Token> boundaries(const TokenRing& a, const TokenRing& b) {
  std::vector<Token> out;
  out.reserve(a.size() + b.size());
  for (uint32_t i = 0; i < a.size(); ++i) out.push_back(a.token_at(i));
  for (uint32_t i = 0; i < b.size(); ++i) out.push_back(b.token_at(i));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<RangeMove> changed_ranges(const RingSnapshot& before, const RingSnapshot& after) {
  std::vector<RangeMove> moves;
  const std::vector<Token> bounds = boundaries(before.current(), after.current());
  for (size_t k = 0; k < bounds.size(); ++k) {
    const Token start = bounds[k == 0 ? bounds.size() - 1 : k - 1], end = bounds[k];
    std::vector<NodeId> from = before.natural_replicas(end).to_vector();
    std::vector<NodeId> to = after.natural_replicas(end).to_vector();
    if (same_members(from, to)) continue;
    if (!moves.empty() && moves.back().range.end == start && moves.back().from == from && moves.back().to == to) {
      moves.back().range.end = end;
    } else {
      moves.push_back({{start, end}, std::move(from), std::move(to)});
    }
  }
  // The last range and the first meet at the wrap point.
  if (moves.size() >= 2 && moves.back().range.end == moves.front().range.start &&
      moves.back().from == moves.front().from && moves.back().to == moves.front().to) {
    moves.front().range.start = moves.back().range.start;
    moves.pop_back();
  }
  return moves;
}

}  // namespace

Result<MovePlan> plan_move(const RingSnapshot& ring, const NodeId& node, std::vector<Token> tokens) {
  std::sort(tokens.begin(), tokens.end());
  if (tokens.empty()) return Status::refused("no tokens given");
  if (auto dup = std::adjacent_find(tokens.begin(), tokens.end()); dup != tokens.end()) {
    return Status::refused("token " + dup->to_string() + " is given twice");
  }
  if (!ring.find(node)) return Status::refused("node " + node.to_string() + " is not in the ring yet");
  std::vector<NodeDescription> described;
  for (const RingNode& n : ring.nodes()) {
    NodeDescription d{n.id, n.status, n.tokens, n.pending_tokens, n.dc, n.rack, n.stamp, n.phase};
    if (n.id == node) {
      d.status = NodeStatus::kNormal;
      d.tokens = tokens;
      d.pending_tokens.clear();
    } else {
      for (const auto* list : {&n.tokens, &n.pending_tokens}) {
        for (Token t : *list) {
          if (std::binary_search(tokens.begin(), tokens.end(), t)) {
            return Status::refused("token " + t.to_string() + " is owned by " + n.id.to_string());
          }
        }
      }
    }
    described.push_back(std::move(d));
  }
  auto built = RingSnapshot::build(std::move(described), ring.config(), 0, ring.partitioner());
  if (!built.snapshot) return Status::refused("cannot build the ring after the move: " + built.error);
  MovePlan plan;
  plan.node = node;
  plan.tokens = std::move(tokens);
  plan.moves = changed_ranges(ring, *built.snapshot);
  plan.ownership_before = ownership_of(ring);
  plan.ownership_after = ownership_of(*built.snapshot);
  return plan;
}

MovePlan plan_no_move(const RingSnapshot& ring, const NodeId& node) {
  MovePlan plan;
  plan.node = node;
  plan.ownership_before = ownership_of(ring);
  plan.ownership_after = plan.ownership_before;
  return plan;
}

}  // namespace ringkeeper
