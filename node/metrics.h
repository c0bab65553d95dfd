// The runtime's own counters (RuntimeStats) and the Prometheus text of GET /metrics, which adds
// the engine's and the transport's counters and a few gauges read from the engine. Counters are
// bumped on the node thread and may be read from any; metrics_text runs on the node thread.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "gossip/codec.h"

namespace ringkeeper {

class Driver;

// Every gossip::DecodeError as an array index. The switch names each value, so a new one fails
// to compile here (-Werror=switch below) until it gets an index and kDecodeErrorCount grows.
#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wswitch"
constexpr size_t decode_error_index(gossip::DecodeError e) {
  switch (e) {
    case gossip::DecodeError::kNone: return 0;
    case gossip::DecodeError::kTruncated: return 1;
    case gossip::DecodeError::kOversized: return 2;
    case gossip::DecodeError::kBadMac: return 3;
    case gossip::DecodeError::kWrongVersion: return 4;
    case gossip::DecodeError::kWrongCluster: return 5;
    case gossip::DecodeError::kMalformed: return 6;
    case gossip::DecodeError::kPlaintext: return 7;
    case gossip::DecodeError::kReplayed: return 8;
    case gossip::DecodeError::kStale: return 9;
  }
  return 10;
}
#pragma GCC diagnostic pop
inline constexpr size_t kDecodeErrorCount = decode_error_index(gossip::DecodeError::kStale) + 1;
static_assert(kDecodeErrorCount == 10, "a DecodeError was added: give it an index above and a metric label");
static_assert(decode_error_index(gossip::DecodeError::kStale) == static_cast<size_t>(gossip::DecodeError::kStale),
              "the index is the enum's value, as the metric labels assume");

struct RuntimeStats {
  std::array<std::atomic<uint64_t>, kDecodeErrorCount> frames_rejected{};  // by decode_error_index
  std::atomic<uint64_t> admin_requests{0}, admin_refused{0};
};

// The Prometheus text exposition (version 0.0.4) of everything the node counts. Node thread.
std::string metrics_text(Driver& driver, const RuntimeStats& stats);

}  // namespace ringkeeper
