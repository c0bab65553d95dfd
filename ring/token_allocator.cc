#include "ring/token_allocator.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ringkeeper {
namespace {

constexpr double kRingFraction = 0x1p-64;
constexpr uint32_t kNoNode = ReplicaPlacer::kNoNode;
// Weight of primary-ownership balance next to replica-ownership balance in the greedy's cost.
constexpr double kPrimaryWeight = 0.25;

uint64_t range_length(uint64_t prev, uint64_t end, uint32_t n) {
  return n == 1 ? std::numeric_limits<uint64_t>::max() : end - prev;
}

// A mutable ring used while placing tokens: sorted tokens with owners, each range's replicas and
// walk reach, and every node's ownership.
class AllocationRing {
 public:
  AllocationRing(const ReplicationConfig& config, LocationIndex index,
                 std::vector<NodeLocation> locations)
      : config_(config), index_(std::move(index)), locations_(std::move(locations)),
        in_ring_(locations_.size(), false) {}

  void add_token(uint64_t token, uint32_t node) {
    auto it = std::lower_bound(tokens_.begin(), tokens_.end(), token);
    const size_t pos = it - tokens_.begin();
    tokens_.insert(it, token);
    owners_.insert(owners_.begin() + pos, node);
    in_ring_[node] = true;
  }
  void mark_in_ring(uint32_t node) { in_ring_[node] = true; }
  void remove_token(uint64_t token) {
    auto it = std::lower_bound(tokens_.begin(), tokens_.end(), token);
    if (it == tokens_.end() || *it != token) return;
    owners_.erase(owners_.begin() + (it - tokens_.begin()));
    tokens_.erase(it);
  }

  // What the greedy minimises, over the whole ring (after refresh()): the squared deviation of
  // every node's ownership from its fair share, plus kPrimaryWeight times the same for primary
  // ownership.
  double cost() const {
    double c = 0;
    for (size_t m = 0; m < locations_.size(); ++m) {
      if (!in_ring_[m]) continue;
      const double e = loads_[m] - targets_[m], p = primary_loads_[m] - primary_targets_[m];
      c += e * e + kPrimaryWeight * p * p;
    }
    return c;
  }

  // Recomputes the placer (node counts may have changed), replicas, reach and loads.
  void refresh() {
    placer_ = std::make_unique<ReplicaPlacer>(config_, index_, locations_, in_ring_);
    stride_ = placer_->replica_count();
    const uint32_t n = size();
    replicas_.assign(static_cast<size_t>(n) * stride_, kNoNode);
    reach_.assign(n, 0);
    max_reach_ = 0;
    full_walks_ = 0;
    auto owner_at = [this](uint32_t i) { return owners_[i]; };
    for (uint32_t i = 0; i < n; ++i) {
      reach_[i] = placer_->place(i, n, owner_at, &replicas_[static_cast<size_t>(i) * stride_]);
      max_reach_ = std::max(max_reach_, reach_[i]);
      if (reach_[i] >= n) ++full_walks_;
    }
    loads_.assign(locations_.size(), 0.0);
    primary_loads_.assign(locations_.size(), 0.0);
    for (uint32_t i = 0; i < n; ++i) {
      const double f = length(i) * kRingFraction;
      primary_loads_[owners_[i]] += f;
      for (uint32_t k = 0; k < stride_; ++k) {
        const uint32_t r = replicas_[static_cast<size_t>(i) * stride_ + k];
        if (r != kNoNode) loads_[r] += f;
      }
    }
    // Fair share: each DC's replicas spread evenly over that DC's nodes.
    std::vector<uint32_t> dc_nodes(index_.dc_count(), 0);
    for (size_t m = 0; m < locations_.size(); ++m) {
      if (in_ring_[m]) ++dc_nodes[locations_[m].dc];
    }
    targets_.assign(locations_.size(), 0.0);
    const uint32_t ring_nodes = static_cast<uint32_t>(std::count(in_ring_.begin(), in_ring_.end(), true));
    primary_targets_.assign(locations_.size(), 0.0);
    for (size_t m = 0; m < locations_.size(); ++m) {
      if (in_ring_[m]) primary_targets_[m] = 1.0 / ring_nodes;
    }
    for (size_t m = 0; m < locations_.size(); ++m) {
      if (!in_ring_[m]) continue;
      if (config_.strategy == StrategyKind::kSimple) {
        targets_[m] = static_cast<double>(std::min(config_.rf, ring_nodes)) / ring_nodes;
      } else {
        const uint32_t d = locations_[m].dc;
        const double need = std::min(config_.rf_for_dc(index_.dc_name(d)), dc_nodes[d]);
        targets_[m] = need / dc_nodes[d];
      }
    }
  }

  uint32_t size() const { return static_cast<uint32_t>(tokens_.size()); }
  uint64_t length(uint32_t i) const {
    return range_length(tokens_[i == 0 ? size() - 1 : i - 1], tokens_[i], size());
  }

  // The best token to add for `node`: the split (over every range) that minimises the squared
  // deviation of ownership from the fair share. Ties go to the lowest position.
  // The joiner aims at `share` of its fair share for now: placing its k-th of K tokens it aims at
  // k/K, so that each token takes about an equal slice and the greedy spreads the losses over
  // the most loaded nodes instead of grabbing the largest ranges first.
  // Long on purpose: one pass of the greedy's inner loop; its parts share the virtual ring
  // (owner_at), the accumulated load deltas and the cost, which pieces would pass around.
  uint64_t best_token_for(uint32_t node, double share) {
    targets_[node] *= share;
    primary_targets_[node] *= share;
    const uint32_t n = size();
    double best_cost = std::numeric_limits<double>::infinity();
    uint64_t best_token = 0;
    bool found = false;
    std::vector<uint32_t> fresh(stride_);
    for (uint32_t i = 0; i < n; ++i) {
      const uint64_t len = length(i);
      if (len < 2) continue;
      const uint64_t prev = tokens_[i == 0 ? n - 1 : i - 1];
      deltas_.clear();
      // Virtual ring with `node` inserted at position i (before old position i).
      auto owner_at = [&](uint32_t q) -> uint32_t {
        if (q < i) return owners_[q];
        if (q == i) return node;
        return owners_[q - 1];
      };
      // (a) the new range (prev, t]: replicas of a walk from the new token; it replaces, for a
      // length x, the old replicas of range i. Linear in x.
      placer_->place(i, n + 1, owner_at, fresh.data());
      const uint32_t* old_i = &replicas_[static_cast<size_t>(i) * stride_];
      for (uint32_t k = 0; k < stride_; ++k) {
        if (fresh[k] != kNoNode && !contains(old_i, fresh[k])) slope(fresh[k], +1.0);
        if (old_i[k] != kNoNode && !contains(fresh.data(), old_i[k])) slope(old_i[k], -1.0);
      }
      // (b) earlier ranges whose walk passes the insertion point: replicas may change, length not.
      const uint32_t back = full_walks_ > 0 ? n - 1 : std::min(max_reach_, n - 1);
      for (uint32_t s = 1; s <= back; ++s) {
        const uint32_t r = (i + n - s) % n;
        if (reach_[r] <= s && reach_[r] < n) continue;  // walk ends before the insertion point
        const uint32_t vr = r < i ? r : r + 1;
        placer_->place(vr, n + 1, owner_at, fresh.data());
        const uint32_t* old_r = &replicas_[static_cast<size_t>(r) * stride_];
        const double f = length(r) * kRingFraction;
        for (uint32_t k = 0; k < stride_; ++k) {
          if (fresh[k] != kNoNode && !contains(old_r, fresh[k])) offset(fresh[k], f);
          if (old_r[k] != kNoNode && !contains(fresh.data(), old_r[k])) offset(old_r[k], -f);
        }
      }
      offset(node, 0.0);  // the joiner's own deviation always counts
      // New tokens split ranges at their midpoint: range lengths stay within a factor of two of
      // each other, which keeps later splits useful (free split points let slivers and wide
      // ranges pile up, and with them loads the greedy can no longer reach).
      const double x = static_cast<double>(len / 2) * kRingFraction;
      // Cost = change in the sum over touched nodes of (load - fair share)^2, plus
      // kPrimaryWeight times the same for primary (first-replica) ownership, which only the
      // joiner and the split range's owner change. The primary term keeps the layout even when
      // replica ownership cannot tell candidates apart (fewer nodes than RF).
      double cost = 0;
      for (const auto& d : deltas_) {
        const double before = loads_[d.node] - targets_[d.node];
        const double after = before + d.a + d.b * x;
        cost += after * after - before * before;
      }
      const uint32_t donor = owners_[i];
      if (donor != node) {
        const double e_join = primary_loads_[node] - primary_targets_[node];
        const double e_donor = primary_loads_[donor] - primary_targets_[donor];
        cost += kPrimaryWeight * ((e_join + x) * (e_join + x) - e_join * e_join +
                                  (e_donor - x) * (e_donor - x) - e_donor * e_donor);
      }
      if (cost < best_cost) {
        best_cost = cost;
        best_token = prev + len / 2;
        found = true;
      }
    }
    if (!found) best_token = tokens_.empty() ? 0 : tokens_[0] + (uint64_t{1} << 63);
    return best_token;
  }

  const std::vector<double>& loads() const { return loads_; }

 private:
  struct Delta {
    uint32_t node;
    double a;  // change independent of the split point
    double b;  // change per unit of split length
  };
  bool contains(const uint32_t* set, uint32_t node) const {
    for (uint32_t k = 0; k < stride_; ++k) {
      if (set[k] == node) return true;
    }
    return false;
  }
  Delta& touch(uint32_t node) {
    for (auto& d : deltas_) {
      if (d.node == node) return d;
    }
    deltas_.push_back({node, 0, 0});
    return deltas_.back();
  }
  void slope(uint32_t node, double b) { touch(node).b += b; }
  void offset(uint32_t node, double a) { touch(node).a += a; }

  ReplicationConfig config_;
  LocationIndex index_;
  std::vector<NodeLocation> locations_;
  std::vector<bool> in_ring_;
  std::unique_ptr<ReplicaPlacer> placer_;
  uint32_t stride_ = 0;
  std::vector<uint64_t> tokens_;
  std::vector<uint32_t> owners_;
  std::vector<uint32_t> replicas_;
  std::vector<uint32_t> reach_;
  uint32_t max_reach_ = 0;
  uint32_t full_walks_ = 0;
  std::vector<double> loads_;
  std::vector<double> targets_;
  std::vector<double> primary_loads_;
  std::vector<double> primary_targets_;
  std::vector<Delta> deltas_;
};

// Joiners grouped by what the strategy balances independently: under the topology strategy each
// (dc, rack) is its own group, under the simple strategy all joiners form one group.
std::vector<std::vector<size_t>> balance_groups(const std::vector<JoinerSpec>& joiners,
                                                StrategyKind strategy) {
  std::vector<std::pair<std::string, std::vector<size_t>>> groups;
  for (size_t j = 0; j < joiners.size(); ++j) {
    std::string key = strategy == StrategyKind::kSimple ? "" : joiners[j].dc + '\0' + joiners[j].rack;
    auto it = std::find_if(groups.begin(), groups.end(), [&](auto& g) { return g.first == key; });
    if (it == groups.end()) {
      groups.push_back({key, {}});
      it = groups.end() - 1;
    }
    it->second.push_back(j);
  }
  std::sort(groups.begin(), groups.end());
  std::vector<std::vector<size_t>> out;
  for (auto& g : groups) out.push_back(std::move(g.second));
  return out;
}

}  // namespace

Allocation allocate_tokens(const std::vector<NodeDescription>& existing,
                           std::vector<JoinerSpec> joiners, const ReplicationConfig& config) {
  std::sort(joiners.begin(), joiners.end(),
            [](const JoinerSpec& a, const JoinerSpec& b) { return a.id < b.id; });
  Allocation result;
  for (const auto& j : joiners) result.push_back({j.id, {}});
  if (joiners.empty()) return result;

  // Existing owners, sorted by id so that node indices are the same on every machine.
  std::vector<const NodeDescription*> owners;
  for (const auto& d : existing) {
    if (owns_current_tokens(d.status) && !d.tokens.empty()) owners.push_back(&d);
  }
  std::sort(owners.begin(), owners.end(), [](auto* a, auto* b) { return a->id < b->id; });

  if (owners.empty()) {
    const bool uniform = std::all_of(joiners.begin(), joiners.end(), [&](const JoinerSpec& j) {
      return j.num_tokens == joiners[0].num_tokens && j.num_tokens > 0;
    });
    if (uniform) {
      // A new cluster: each balance group gets evenly spaced tokens dealt round-robin over its
      // members; groups are offset from each other so that their tokens interleave.
      const auto groups = balance_groups(joiners, config.strategy);
      const unsigned __int128 ring = static_cast<unsigned __int128>(1) << 64;
      for (size_t g = 0; g < groups.size(); ++g) {
        const uint64_t total = uint64_t{joiners[0].num_tokens} * groups[g].size();
        for (uint64_t p = 0; p < total; ++p) {
          // Position (p + (g + 0.5) / G) / total of the ring.
          const unsigned __int128 num = ring * (p * 2 * groups.size() + 2 * g + 1);
          const uint64_t token = static_cast<uint64_t>(num / (2 * groups.size() * total));
          result[groups[g][p % groups[g].size()]].second.push_back(Token(token));
        }
      }
      for (auto& [_, ts] : result) std::sort(ts.begin(), ts.end());
      return result;
    }
  }

  LocationIndex index;
  std::vector<NodeLocation> locations;
  for (const auto* d : owners) locations.push_back(index.locate(d->dc, d->rack));
  for (const auto& j : joiners) locations.push_back(index.locate(j.dc, j.rack));
  AllocationRing ring(config, index, locations);
  for (uint32_t i = 0; i < owners.size(); ++i) {
    for (Token t : owners[i]->tokens) ring.add_token(t.value(), i);
  }
  for (size_t j = 0; j < joiners.size(); ++j) {
    const uint32_t node = static_cast<uint32_t>(owners.size() + j);
    ring.mark_in_ring(node);
    for (uint32_t k = 0; k < joiners[j].num_tokens; ++k) {
      ring.refresh();
      const double share = static_cast<double>(k + 1) / joiners[j].num_tokens;
      uint64_t token = ring.size() == 0 ? (uint64_t{1} << 63) : ring.best_token_for(node, share);
      ring.add_token(token, node);
      result[j].second.push_back(Token(token));
    }
    std::sort(result[j].second.begin(), result[j].second.end());
  }
  return result;
}

std::vector<Token> rebalance_by_swaps(const std::vector<NodeDescription>& existing, const NodeId& node,
                                      const ReplicationConfig& config) {
  std::vector<const NodeDescription*> owners;
  const NodeDescription* self = nullptr;
  for (const auto& d : existing) {
    if (d.id == node) self = &d;
    if (owns_current_tokens(d.status) && !d.tokens.empty()) owners.push_back(&d);
  }
  if (!self || self->tokens.empty() || !owns_current_tokens(self->status)) return {};
  std::sort(owners.begin(), owners.end(), [](auto* a, auto* b) { return a->id < b->id; });
  LocationIndex index;
  std::vector<NodeLocation> locations;
  uint32_t me = 0;
  for (uint32_t i = 0; i < owners.size(); ++i) {
    locations.push_back(index.locate(owners[i]->dc, owners[i]->rack));
    if (owners[i] == self) me = i;
  }
  AllocationRing ring(config, index, locations);
  for (uint32_t i = 0; i < owners.size(); ++i) {
    for (Token t : owners[i]->tokens) ring.add_token(t.value(), i);
  }
  std::vector<uint64_t> mine;
  for (Token t : self->tokens) mine.push_back(t.value());
  ring.refresh();
  double current = ring.cost();
  // Each round: take out the token whose loss hurts least, put one back where the greedy would,
  // and keep the swap only if the whole ring is better balanced for it. At most one swap per token.
  for (size_t round = 0; round < mine.size(); ++round) {
    size_t drop = mine.size();
    double drop_cost = std::numeric_limits<double>::infinity();
    for (size_t k = 0; k < mine.size(); ++k) {
      ring.remove_token(mine[k]);
      ring.refresh();
      if (const double c = ring.cost(); c < drop_cost) drop_cost = c, drop = k;
      ring.add_token(mine[k], me);
    }
    ring.remove_token(mine[drop]);
    ring.refresh();
    const uint64_t put = ring.best_token_for(me, 1.0);
    ring.add_token(put, me);
    ring.refresh();
    const double after = ring.cost();
    // No real gain (under a tenth of an average node's share of the cost): undo, done.
    if (put == mine[drop] || after >= current * (1 - 0.1 / static_cast<double>(owners.size()))) {
      ring.remove_token(put);
      ring.add_token(mine[drop], me);
      break;
    }
    mine[drop] = put;
    current = after;
  }
  std::vector<Token> out;
  for (uint64_t t : mine) out.push_back(Token(t));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Token> rebalance_tokens(const std::vector<NodeDescription>& existing, const NodeId& node,
                                    uint32_t num_tokens, const ReplicationConfig& config) {
  std::vector<NodeDescription> others;
  JoinerSpec self{node, "dc1", "rack1", num_tokens};
  for (const auto& d : existing) {
    if (d.id == node) {
      self.dc = d.dc;
      self.rack = d.rack;
    } else {
      others.push_back(d);
    }
  }
  Allocation a = allocate_tokens(others, {self}, config);
  return a.front().second;
}

}  // namespace ringkeeper
