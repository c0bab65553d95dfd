#include "kv/hlc.h"

#include <algorithm>

namespace ringkeeper::kv {

uint64_t HybridClock::now() {
  const uint64_t wall = make(static_cast<uint64_t>(std::max<int64_t>(wall_(), 0)), 0);
  std::lock_guard lock(mu_);
  // The logical half counts within one millisecond; past 65535 it carries into the millis, which
  // only runs the clock a little ahead (bounded by the rate of writes).
  last_ = std::max(last_ + 1, wall);
  return last_;
}

bool HybridClock::observe(uint64_t remote) {
  const int64_t wall = wall_();
  if (static_cast<int64_t>(millis_of(remote)) > wall + max_ahead_ms_) return false;
  std::lock_guard lock(mu_);
  last_ = std::max(last_, remote);
  return true;
}

}  // namespace ringkeeper::kv
