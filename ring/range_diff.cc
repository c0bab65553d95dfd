#include "ringkeeper/ring/range_diff.h"

#include <algorithm>
#include <map>

namespace ringkeeper {

const NodeRanges* RangeDiff::find(const NodeId& id) const {
  auto it = std::lower_bound(nodes.begin(), nodes.end(), id,
                             [](const NodeRanges& n, const NodeId& v) { return n.node < v; });
  return it != nodes.end() && it->node == id ? &*it : nullptr;
}

namespace {

// Appends (start, end] to a list of ranges built in clockwise order, merging adjacent ones.
void append_range(std::vector<TokenRange>& list, Token start, Token end) {
  if (!list.empty() && list.back().end == start) {
    list.back().end = end;
  } else {
    list.push_back({start, end});
  }
}

// The first and last ranges of a clockwise list meet at the wrap point: join them.
void close_wrap(std::vector<TokenRange>& list) {
  if (list.size() >= 2 && list.back().end == list.front().start) {
    list.front().start = list.back().start;
    list.pop_back();
  }
}

std::vector<uint64_t> merged_boundaries(const TokenRing& a, const TokenRing& b) {
  std::vector<uint64_t> out;
  out.reserve(a.size() + b.size());
  uint32_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    uint64_t v;
    if (j == b.size() || (i < a.size() && a.token_at(i) < b.token_at(j))) {
      v = a.token_at(i++).value();
    } else {
      v = b.token_at(j++).value();
    }
    if (out.empty() || out.back() != v) out.push_back(v);
  }
  return out;
}

}  // namespace

RangeDiff diff_rings(std::span<const RingNode> before_nodes, const TokenRing& before,
                     std::span<const RingNode> after_nodes, const TokenRing& after) {
  std::map<NodeId, NodeRanges> changes;
  const std::vector<uint64_t> bounds = merged_boundaries(before, after);
  std::vector<NodeId> old_set, new_set;
  for (size_t k = 0; k < bounds.size(); ++k) {
    const Token end(bounds[k]);
    const Token start(bounds[k == 0 ? bounds.size() - 1 : k - 1]);
    old_set.clear();
    new_set.clear();
    if (!before.empty()) {
      for (uint32_t idx : before.replicas(before.range_index(end))) old_set.push_back(before_nodes[idx].id);
    }
    if (!after.empty()) {
      for (uint32_t idx : after.replicas(after.range_index(end))) new_set.push_back(after_nodes[idx].id);
    }
    for (const NodeId& id : new_set) {
      if (std::find(old_set.begin(), old_set.end(), id) == old_set.end()) {
        auto& entry = changes[id];
        entry.node = id;
        append_range(entry.gained, start, end);
      }
    }
    for (const NodeId& id : old_set) {
      if (std::find(new_set.begin(), new_set.end(), id) == new_set.end()) {
        auto& entry = changes[id];
        entry.node = id;
        append_range(entry.lost, start, end);
      }
    }
  }
  RangeDiff diff;
  diff.nodes.reserve(changes.size());
  for (auto& [_, entry] : changes) {
    close_wrap(entry.gained);
    close_wrap(entry.lost);
    diff.nodes.push_back(std::move(entry));
  }
  return diff;
}

RangeDiff diff_snapshots(const RingSnapshot& before, const RingSnapshot& after) {
  return diff_rings(before.nodes(), before.current(), after.nodes(), after.current());
}

RangeDiff streaming_plan(const RingSnapshot& snapshot) {
  if (!snapshot.has_pending_changes()) return {};
  return diff_rings(snapshot.nodes(), snapshot.current(), snapshot.nodes(), snapshot.future());
}

namespace {

bool replicates(std::span<const RingNode> nodes, const TokenRing& ring, Token end, const NodeId& node) {
  if (ring.empty()) return false;
  for (uint32_t idx : ring.replicas(ring.range_index(end))) {
    if (nodes[idx].id == node) return true;
  }
  return false;
}

}  // namespace

std::vector<RangeTransfer> transfers_to(const NodeId& node, std::span<const RingNode> nodes, const TokenRing& before,
                                        const TokenRing& after) {
  std::vector<RangeTransfer> out;
  const std::vector<uint64_t> bounds = merged_boundaries(before, after);
  for (size_t k = 0; k < bounds.size(); ++k) {
    const Token end(bounds[k]);
    const Token start(bounds[k == 0 ? bounds.size() - 1 : k - 1]);
    if (!replicates(nodes, after, end, node) || replicates(nodes, before, end, node)) continue;
    std::vector<NodeId> sources;
    if (!before.empty()) {
      for (uint32_t idx : before.replicas(before.range_index(end))) sources.push_back(nodes[idx].id);
    }
    if (!out.empty() && out.back().range.end == start && out.back().sources == sources) {
      out.back().range.end = end;
    } else {
      out.push_back({{start, end}, std::move(sources)});
    }
  }
  if (out.size() >= 2 && out.back().range.end == out.front().range.start && out.back().sources == out.front().sources) {
    out.front().range.start = out.back().range.start;
    out.pop_back();
  }
  return out;
}

std::vector<TokenRange> ranges_given_up(const NodeId& node, std::span<const RingNode> nodes, const TokenRing& before,
                                        const TokenRing& after) {
  std::vector<TokenRange> out;
  const std::vector<uint64_t> bounds = merged_boundaries(before, after);
  for (size_t k = 0; k < bounds.size(); ++k) {
    const Token end(bounds[k]);
    const Token start(bounds[k == 0 ? bounds.size() - 1 : k - 1]);
    if (replicates(nodes, before, end, node) && !replicates(nodes, after, end, node)) append_range(out, start, end);
  }
  close_wrap(out);
  return out;
}

}  // namespace ringkeeper
