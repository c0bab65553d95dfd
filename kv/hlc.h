// HybridClock: the hybrid logical clock that stamps kvd's writes for last-write-wins. A stamp is
// an HlcStamp (<ringkeeper/ring/types.h>): wall-clock milliseconds in the high 48 bits and a
// logical counter in the low 16, so stamps sort by time first and a node never issues the same
// stamp twice, even when its wall clock stands still or steps back.
//
// Bounded skew: a stamp from another node more than `max_ahead_ms` ahead of this node's wall
// clock is refused (observe() answers false), so one node with a clock far in the future cannot
// make every later write lose. Thread-safe: every method may be called from any thread.
//   HybridClock clock([] { return wall_ms(); }, 10'000);
//   uint64_t ts = clock.now();                 // a fresh stamp for a write this node coordinates
//   if (!clock.observe(remote_ts)) refuse();   // a replica checking a coordinator's stamp
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>

namespace ringkeeper::kv {

class HybridClock {
 public:
  using WallClock = std::function<int64_t()>;  // milliseconds since the epoch
  HybridClock(WallClock wall, int64_t max_ahead_ms) : wall_(std::move(wall)), max_ahead_ms_(max_ahead_ms) {}

  // A stamp greater than every stamp this clock issued or observed.
  uint64_t now();
  // Moves the clock past `remote` (a stamp another node issued). False, and the clock unchanged,
  // when `remote` is more than max_ahead_ms ahead of the wall clock.
  bool observe(uint64_t remote);
  // The wall clock's milliseconds (for ages, e.g. tombstone collection).
  int64_t wall_ms() const { return wall_(); }
  int64_t max_ahead_ms() const { return max_ahead_ms_; }

  static uint64_t millis_of(uint64_t stamp) { return stamp >> 16; }
  static uint64_t make(uint64_t millis, uint16_t logical) { return (millis << 16) | logical; }

 private:
  const WallClock wall_;
  const int64_t max_ahead_ms_;
  std::mutex mu_;
  uint64_t last_ = 0;  // guarded by mu_
};

}  // namespace ringkeeper::kv
