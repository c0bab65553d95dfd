// KvMetrics: kvd's counters (requests, rejections by reason, quorum failures, streaming, read
// repair, hints) and their Prometheus text, served at GET /metrics on the kv port (the node's
// own counters stay on the admin port). Counters are atomics: bumped and read on any thread.
//   metrics.reject(Rejection::kValueTooLarge);
//   std::string text = metrics.text();
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringkeeper::kv {

// Why a request got a 4xx (or, for a read timeout, its connection closed). Each has a counter:
// kv_rejected_total{reason="..."}.
enum class Rejection : uint8_t {
  kKeyTooLong,        // a key over 1 KiB
  kValueTooLarge,     // a body over 1 MiB
  kHeadTooLarge,      // a request line and headers over the server's limit
  kBadKey,            // empty, several path segments, or a malformed escape
  kBadQuorum,         // w or r not an integer in 1..N, or on the wrong method
  kBadQuery,          // a malformed query string or an unknown parameter
  kUnknownRoute,      // no such path
  kBadMethod,         // a known path with a method it does not take
  kBadInternal,       // a malformed /internal/ request (missing or bad headers, bad range)
  kNotMember,         // an /internal/ caller that is not a member's kv address
  kStaleRingVersion,  // an /internal/ coordinator behind a ring step this replica passed
  kFutureTimestamp,   // a write stamped too far ahead of this node's clock
  kBadAuth,           // an /internal/ request without a valid cluster MAC (internal_auth.h)
  kMalformedHttp,     // bytes that are not an HTTP/1.1 request
  kNodeLeft,          // a client request to a node that left the cluster (503)
  kReadTimeout,       // a request whose head and body did not arrive within the read timeout (closed)
};
constexpr size_t kRejectionCount = static_cast<size_t>(Rejection::kReadTimeout) + 1;
std::string_view to_string(Rejection r);

struct KvMetrics {
  enum Op : uint8_t { kPut, kGet, kDelete, kOpCount };
  std::array<std::atomic<uint64_t>, kOpCount> requests{};     // client requests per op
  std::array<std::atomic<uint64_t>, kOpCount> unavailable{};  // 503: too few replicas answered
  std::array<std::atomic<uint64_t>, kRejectionCount> rejected{};
  std::atomic<uint64_t> internal_requests{0};
  std::atomic<uint64_t> fenced_retries{0};   // coordinator retries after a replica's newer ring
  std::atomic<uint64_t> streamed_keys{0};    // records received while streaming ranges
  std::atomic<uint64_t> streamed_bytes{0};
  std::atomic<uint64_t> streamed_ranges{0};  // ranges completely streamed
  std::atomic<uint64_t> stream_failures{0};  // a source that failed mid-range (retried)
  std::atomic<uint64_t> ranges_dropped{0};   // ranges released or cancelled and deleted
  std::atomic<uint64_t> read_repairs{0};     // replicas sent a newer record after a read
  std::atomic<uint64_t> hints_stored{0};
  std::atomic<uint64_t> hints_replayed{0};
  std::atomic<uint64_t> hints_refused{0};    // a hint over the store's bound (not kept)
  std::atomic<uint64_t> hints_dropped{0};    // hints for a node that left or was removed
  std::atomic<int64_t> hints_pending{0};     // gauge
  // Anti-entropy (anti_entropy.h).
  std::atomic<uint64_t> ae_ranges_compared{0};   // (range, replica) hash-tree comparisons
  std::atomic<uint64_t> ae_ranges_differing{0};  // comparisons that found differing leaves
  std::atomic<uint64_t> ae_keys_repaired{0};     // records merged here or pushed to a replica
  std::atomic<uint64_t> ae_bytes{0};             // tree, pulled and pushed bytes
  std::atomic<uint64_t> ae_failures{0};          // comparisons that could not finish (retried next cycle)
  std::atomic<uint64_t> ae_cycles_completed{0};  // cycles that compared every range with every replica
  // Records outside this node's ranges (outside_collector.h).
  std::atomic<uint64_t> outside_passes{0};     // passes over the ranges this node does not replicate
  std::atomic<uint64_t> outside_found{0};      // records met there
  std::atomic<uint64_t> outside_pushed{0};     // copies a natural replica acknowledged
  std::atomic<uint64_t> outside_collected{0};  // deleted here once every natural replica acknowledged
  std::atomic<uint64_t> outside_kept{0};       // kept for a later pass (a replica down or not answering)
  // Unsigned /internal/ requests taken because kvd runs in the migration mode.
  std::atomic<uint64_t> auth_unsigned_accepted{0};

  // Where coordinated client requests spend their time: the whole request (input checked to
  // answer ready) and its routing step (ring snapshot, token, replicas; docs/benchmarks.md).
  std::atomic<uint64_t> request_ns{0};
  std::atomic<uint64_t> routing_ns{0};
  void add_request_time(std::chrono::nanoseconds d) { request_ns.fetch_add(d.count(), std::memory_order_relaxed); }
  void add_routing_time(std::chrono::nanoseconds d) { routing_ns.fetch_add(d.count(), std::memory_order_relaxed); }

  void reject(Rejection r) { rejected[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
  uint64_t rejections(Rejection r) const { return rejected[static_cast<size_t>(r)].load(); }
  std::string text() const;
};

}  // namespace ringkeeper::kv
