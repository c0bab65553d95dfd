// The seams between the protocol engine and the world: randomness and ring-snapshot sharing.
// Time is passed into every engine call; messages come in and go out as values, so the engine
// never touches a clock, a socket or a disk. Implementations: the runtime (real), the simulator.
// Each engine's owner passes it an Rng and a RingCache and calls them only from that engine's
// thread; a RingCache shared by many engines (the simulator) is shared within one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "ringkeeper/ring/ring_snapshot.h"

namespace ringkeeper::gossip {

// Milliseconds on a monotonic clock owned by the caller (real or simulated).
using Millis = int64_t;

class Rng {
 public:
  virtual ~Rng() = default;
  virtual uint64_t next() = 0;
  // Uniform in [0, n); n > 0.
  uint64_t below(uint64_t n) { return next() % n; }
};

// SplitMix64: small, fast, seedable. Fine for peer selection; not for secrets.
class SplitMixRng final : public Rng {
 public:
  explicit SplitMixRng(uint64_t seed) : state_(seed) {}
  uint64_t next() override {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// Where ring snapshots come from. Keyed by a hash of every ring-relevant value, so holders of
// the same state may share one snapshot (the simulator runs thousands of nodes in one process).
class RingCache {
 public:
  using Build = std::function<std::shared_ptr<const RingSnapshot>()>;
  virtual ~RingCache() = default;
  virtual std::shared_ptr<const RingSnapshot> get(uint64_t key, const Build& build) = 0;
};

// No sharing: every node builds its own (the runtime: one node per process).
class UnsharedRingCache final : public RingCache {
 public:
  std::shared_ptr<const RingSnapshot> get(uint64_t, const Build& build) override { return build(); }
};

}  // namespace ringkeeper::gossip
