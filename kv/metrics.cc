#include "kv/metrics.h"

namespace ringkeeper::kv {

std::string_view to_string(Rejection r) {
  switch (r) {
    case Rejection::kKeyTooLong: return "key_too_long";
    case Rejection::kValueTooLarge: return "value_too_large";
    case Rejection::kHeadTooLarge: return "head_too_large";
    case Rejection::kBadKey: return "bad_key";
    case Rejection::kBadQuorum: return "bad_quorum";
    case Rejection::kBadQuery: return "bad_query";
    case Rejection::kUnknownRoute: return "unknown_route";
    case Rejection::kBadMethod: return "bad_method";
    case Rejection::kBadInternal: return "bad_internal";
    case Rejection::kNotMember: return "not_member";
    case Rejection::kStaleRingVersion: return "stale_ring_version";
    case Rejection::kFutureTimestamp: return "future_timestamp";
    case Rejection::kBadAuth: return "bad_auth";
    case Rejection::kMalformedHttp: return "malformed_http";
    case Rejection::kNodeLeft: return "node_left";
    case Rejection::kReadTimeout: return "read_timeout";
  }
  return "unknown";
}

namespace {
void counter(std::string& out, std::string_view name, std::string_view help, uint64_t value,
             std::string_view labels = "") {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += " counter\n";
  out += name;
  out += labels;
  out += ' ' + std::to_string(value) + '\n';
}
void sample(std::string& out, std::string_view name, std::string_view labels, uint64_t value) {
  out += name;
  out += labels;
  out += ' ' + std::to_string(value) + '\n';
}
}  // namespace

std::string KvMetrics::text() const {
  std::string out;
  static constexpr std::string_view kOps[] = {"put", "get", "delete"};
  out += "# HELP kv_requests_total Client requests (PUT, GET, DELETE on /kv/).\n# TYPE kv_requests_total counter\n";
  for (size_t i = 0; i < kOpCount; ++i) sample(out, "kv_requests_total", "{op=\"" + std::string(kOps[i]) + "\"}", requests[i]);
  out += "# HELP kv_unavailable_total Requests answered 503: fewer than W or R replicas answered.\n"
         "# TYPE kv_unavailable_total counter\n";
  for (size_t i = 0; i < kOpCount; ++i) {
    sample(out, "kv_unavailable_total", "{op=\"" + std::string(kOps[i]) + "\"}", unavailable[i]);
  }
  out += "# HELP kv_rejected_total Requests refused with a 4xx (read_timeout: closed), by reason.\n# TYPE kv_rejected_total counter\n";
  for (size_t i = 0; i < kRejectionCount; ++i) {
    sample(out, "kv_rejected_total", "{reason=\"" + std::string(to_string(static_cast<Rejection>(i))) + "\"}",
           rejected[i]);
  }
  counter(out, "kv_internal_requests_total", "Replica requests served under /internal/.", internal_requests);
  counter(out, "kv_fenced_retries_total", "Coordinator retries after a replica answered with a newer ring version.",
          fenced_retries);
  counter(out, "kv_streamed_keys_total", "Records received while streaming gained ranges.", streamed_keys);
  counter(out, "kv_streamed_bytes_total", "Bytes of records received while streaming gained ranges.", streamed_bytes);
  counter(out, "kv_streamed_ranges_total", "Gained ranges streamed completely.", streamed_ranges);
  counter(out, "kv_stream_failures_total", "Stream attempts that failed (retried from another source).", stream_failures);
  counter(out, "kv_ranges_dropped_total", "Released or cancelled ranges deleted.", ranges_dropped);
  counter(out, "kv_read_repairs_total", "Replicas sent the winning record after a read.", read_repairs);
  counter(out, "kv_hints_stored_total", "Hints stored for an unreachable natural replica.", hints_stored);
  counter(out, "kv_hints_replayed_total", "Hints delivered to their replica.", hints_replayed);
  counter(out, "kv_hints_refused_total", "Hints not kept: the hint store was full.", hints_refused);
  counter(out, "kv_hints_dropped_total", "Hints dropped: their node left or was removed.", hints_dropped);
  counter(out, "kv_antientropy_ranges_compared_total", "Range hash trees compared with a replica.", ae_ranges_compared);
  counter(out, "kv_antientropy_ranges_differing_total", "Comparisons that found differing leaves.", ae_ranges_differing);
  counter(out, "kv_antientropy_keys_repaired_total", "Records merged here or pushed to a replica by anti-entropy.",
          ae_keys_repaired);
  counter(out, "kv_antientropy_bytes_total", "Bytes of trees and records moved by anti-entropy.", ae_bytes);
  counter(out, "kv_antientropy_failures_total", "Comparisons that could not finish (retried next cycle).", ae_failures);
  counter(out, "kv_antientropy_cycles_total", "Cycles that compared every range with every replica.",
          ae_cycles_completed);
  counter(out, "kv_outside_passes_total", "Passes over the ranges this node does not replicate (view settled).",
          outside_passes);
  counter(out, "kv_outside_found_total", "Records met outside the ranges this node replicates.", outside_found);
  counter(out, "kv_outside_pushed_total", "Outside records acknowledged by one of their natural replicas.",
          outside_pushed);
  counter(out, "kv_outside_collected_total", "Outside records deleted once every natural replica held them.",
          outside_collected);
  counter(out, "kv_outside_kept_total", "Outside records kept for a later pass (a natural replica did not take them).",
          outside_kept);
  counter(out, "kv_auth_unsigned_accepted_total",
          "Unsigned /internal/ requests taken in the migration mode (--gossip-accept-plaintext).",
          auth_unsigned_accepted);
  counter(out, "kv_request_nanoseconds_total", "Time spent coordinating client requests, start to answer.", request_ns);
  counter(out, "kv_routing_nanoseconds_total", "Of which routing: ring snapshot, token and replica lookups.", routing_ns);
  out += "# HELP kv_hints_pending Hints waiting for their replica.\n# TYPE kv_hints_pending gauge\n";
  out += "kv_hints_pending " + std::to_string(hints_pending.load()) + "\n";
  return out;
}

}  // namespace ringkeeper::kv
