// A 64-bit finaliser (SplitMix64's) for the gossip module's incremental hashes: summaries,
// bucket hashes and the ring-input hash. Pure; any thread.
#pragma once

#include <cstdint>

namespace ringkeeper::gossip {

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace ringkeeper::gossip
