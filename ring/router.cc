#include "ringkeeper/ring/router.h"

#include <algorithm>

namespace ringkeeper {

Router::Router(std::shared_ptr<const RingSnapshot> snapshot, const Reachable& reachable)
    : snapshot_(std::move(snapshot)) {
  reachable_.reserve(snapshot_->nodes().size());
  for (const RingNode& n : snapshot_->nodes()) reachable_.push_back(reachable(n.id) ? 1 : 0);
}

std::vector<PreferenceEntry> Router::preference_list(Token t) const {
  std::vector<PreferenceEntry> out;
  const TokenRing& ring = snapshot_->current();
  if (ring.empty()) return out;
  const auto nodes = snapshot_->nodes();
  const uint32_t range = ring.range_index(t);
  const auto natural = ring.replicas(range);
  const size_t want = natural.size();
  std::vector<uint32_t> used;
  used.reserve(want);
  for (uint32_t idx : natural) {
    if (reachable_[idx]) {
      out.push_back({nodes[idx].id, true});
      used.push_back(idx);
    }
  }
  auto is_used_or_natural = [&](uint32_t idx) {
    return std::find(natural.begin(), natural.end(), idx) != natural.end() ||
           std::find(used.begin(), used.end(), idx) != used.end();
  };
  // Fallbacks: keep walking clockwise from the key's range, past the natural replicas.
  for (uint32_t step = 0; step < ring.size() && out.size() < want; ++step) {
    uint32_t pos = range + step;
    if (pos >= ring.size()) pos -= ring.size();
    const uint32_t idx = ring.owner_at(pos);
    if (!reachable_[idx] || is_used_or_natural(idx)) continue;
    out.push_back({nodes[idx].id, false});
    used.push_back(idx);
  }
  return out;
}

}  // namespace ringkeeper
