// metrics_text (node/metrics.h): the Prometheus text of GET /metrics, section by section.
#include "node/metrics.h"

#include <fmt/format.h>

#include "node/admin_routes.h"
#include "node/driver.h"

namespace ringkeeper {

namespace {

// Appends metrics in the text exposition format.
class Exposition {
 public:
  void counter(std::string_view name, std::string_view help, uint64_t v) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
  }
  // A counter family with labels: its header once, then one line per label set.
  void family(std::string_view name, std::string_view help, std::string_view type = "counter") {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void labelled(std::string_view name, std::string_view labels, uint64_t v) {
    out_ += fmt::format("{}{{{}}} {}\n", name, labels, v);
  }
  void gauge(std::string_view name, std::string_view help, double v) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
  }
  std::string& text() { return out_; }

 private:
  std::string out_;
};

void plain_counters(Exposition& x, const gossip::EngineStats& es, const TransportStats& ts,
                    const RuntimeStats& stats, uint64_t store_writes) {
  struct Counter {
    std::string_view name, help;
    uint64_t value;
  };
  const Counter counters[] = {
      {"ringkeeper_gossip_rounds_total", "Gossip rounds this node started.", es.rounds},
      {"ringkeeper_gossip_exchanges_total", "Exchanges (Syn) this node started.", es.exchanges_started},
      {"ringkeeper_gossip_summaries_equal_total", "Exchanges that ended at once (states equal).", es.summaries_equal},
      {"ringkeeper_gossip_deltas_applied_total", "Entry updates merged from peers.", es.deltas_applied},
      {"ringkeeper_gossip_bytes_in_total", "Gossip bytes received.", ts.bytes_in},
      {"ringkeeper_gossip_bytes_out_total", "Gossip bytes sent.", ts.bytes_out},
      {"ringkeeper_gossip_frames_in_total", "Gossip frames received.", ts.frames_in},
      {"ringkeeper_gossip_frames_out_total", "Gossip frames sent.", ts.frames_out},
      {"ringkeeper_gossip_sends_dropped_total", "Frames dropped before sending (peer in backoff or queue full).",
       ts.dropped_backoff + ts.dropped_queue_full + ts.dropped_unresolvable},
      {"ringkeeper_transport_connect_failures_total", "Outbound connects that failed or timed out.", ts.connect_failures},
      {"ringkeeper_probes_sent_total", "Direct probes sent.", es.probes_sent},
      {"ringkeeper_probes_failed_total", "Probes with no direct or indirect answer.", es.probes_failed},
      {"ringkeeper_refutations_total", "Times this node refuted a suspicion of itself.", es.refutations},
      {"ringkeeper_store_writes_total", "Batches written to the state store.", store_writes},
      {"ringkeeper_admin_requests_total", "Admin API requests.", stats.admin_requests},
      {"ringkeeper_admin_refused_total", "Admin calls refused: not loopback and no token, or a state-changing call without Content-Type application/json or a Host header naming the node.",
       stats.admin_refused},
  };
  for (const Counter& c : counters) x.counter(c.name, c.help, c.value);
}

void refusals(Exposition& x, const gossip::EngineStats& es, const RuntimeStats& stats) {
  constexpr std::string_view rejected = "ringkeeper_gossip_frames_rejected_total";
  x.family(rejected, "Frames dropped (connection closed), by reason.");
  for (size_t r = decode_error_index(gossip::DecodeError::kNone) + 1; r < kDecodeErrorCount; ++r) {
    x.labelled(rejected, fmt::format("reason=\"{}\"", gossip::to_string(static_cast<gossip::DecodeError>(r))),
               stats.frames_rejected[r]);
  }
  constexpr std::string_view refused = "ringkeeper_gossip_messages_refused_total";
  x.family(refused, "Decoded messages refused, by reason.");
  x.labelled(refused, "reason=\"cluster_id\"", es.rejected_cluster);
  x.labelled(refused, "reason=\"replication\"", es.rejected_replication);
  x.labelled(refused, "reason=\"generation_ahead\"", es.rejected_generation);
  x.labelled(refused, "reason=\"clock_ahead\"", es.rejected_clock_ahead);
  x.labelled(refused, "reason=\"bounds\"", es.rejected_bounds);
  x.labelled(refused, "reason=\"malformed_value\"", es.rejected_malformed);
  x.labelled(refused, "reason=\"unknown_node\"", es.rejected_unknown);
  x.labelled(refused, "reason=\"probe_for_another_node\"", es.misdirected_probes);
  x.counter("ringkeeper_token_claims_lost_total",
            "Tokens this node, an established owner, lost to earlier claims (then re-claimed elsewhere).",
            es.claims_lost);
  constexpr std::string_view repairs = "ringkeeper_own_entry_repairs_total";
  x.family(repairs, "Peers held a newer record of this node than it had, by reason.");
  x.labelled(repairs, "reason=\"data_dir_behind\"", es.data_dir_behind);
  x.labelled(repairs, "reason=\"versions_reasserted\"", es.versions_reasserted);
  x.labelled(repairs, "reason=\"newer_generation\"", es.newer_generation_seen);
}

void probe_rtt(Exposition& x, const gossip::ProbeRtt& rtt) {
  x.family("ringkeeper_probe_rtt_seconds", "Round-trip time of answered direct probes.", "histogram");
  uint64_t cumulative = 0;
  for (size_t b = 0; b < gossip::ProbeRtt::kBounds.size(); ++b) {
    cumulative += rtt.buckets[b];
    x.text() += fmt::format("ringkeeper_probe_rtt_seconds_bucket{{le=\"{}\"}} {}\n",
                            gossip::ProbeRtt::kBounds[b] / 1000.0, cumulative);
  }
  x.text() += fmt::format("ringkeeper_probe_rtt_seconds_bucket{{le=\"+Inf\"}} {}\n", rtt.count);
  x.text() += fmt::format("ringkeeper_probe_rtt_seconds_sum {}\n", rtt.sum_ms / 1000.0);
  x.text() += fmt::format("ringkeeper_probe_rtt_seconds_count {}\n", rtt.count);
}

void ring_gauges(Exposition& x, Driver& driver) {
  gossip::GossipEngine& engine = driver.engine();
  const NodeId& self = driver.identity().id;
  const ClusterView view = cluster_view(engine, self);
  const RingNode* me = view.ring->find(self);
  const size_t claimed = engine.claimed_tokens(), owned = me ? me->tokens.size() : 0;
  x.gauge("ringkeeper_tokens_claimed_not_owned", "Tokens this node gossips but does not own (a lost claim being repaired).",
          static_cast<double>(claimed > owned ? claimed - owned : 0));
  x.gauge("ringkeeper_join_waiting_for", "Members a join in progress still waits for.",
          static_cast<double>(engine.join_waiting_for().size()));
  probe_rtt(x, engine.stats().probe_rtt);
  x.family("ringkeeper_nodes", "Members by liveness as this node sees them.", "gauge");
  size_t counts[4] = {0, 0, 0, 0};
  for (const MemberView& m : view.members) {
    if (!m.tombstone) ++counts[static_cast<size_t>(m.liveness)];
  }
  for (size_t l = 0; l < 4; ++l) {
    x.labelled("ringkeeper_nodes", fmt::format("liveness=\"{}\"", gossip::to_string(static_cast<PeerLiveness>(l))),
               counts[l]);
  }
  x.text() += fmt::format("# HELP ringkeeper_ring_digest_info The ring this node routes with.\n"
                          "# TYPE ringkeeper_ring_digest_info gauge\nringkeeper_ring_digest_info{{digest=\"{}\"}} 1\n",
                          view.ring->digest_hex());
  x.gauge("ringkeeper_converged", "1 when every live member gossips this node's ring digest.", engine.converged() ? 1 : 0);
  x.gauge("ringkeeper_ring_tokens", "Tokens in the current ring.", view.ring->current().size());
  x.gauge("ringkeeper_generation", "This node's generation.", static_cast<double>(driver.identity().generation.value()));
}

}  // namespace

// The keyring as gauges (never a key), and plaintext frames still taken in the migration mode.
void encryption(Exposition& x, Driver& driver) {
  const gossip::SealedCodec& sealed = driver.sealed();
  x.gauge("ringkeeper_gossip_encrypted", "1 when this node seals what it sends (it has a primary gossip key).",
          sealed.keyring().primary() ? 1 : 0);
  x.gauge("ringkeeper_gossip_keys", "Keys in this node's gossip keyring.", static_cast<double>(sealed.keyring().keys().size()));
  x.counter("ringkeeper_gossip_plaintext_accepted_total",
            "Plaintext frames taken while this node encrypts (--gossip-accept-plaintext, the migration mode).",
            sealed.plaintext_accepted());
}

std::string metrics_text(Driver& driver, const RuntimeStats& stats) {
  Exposition x;
  const gossip::EngineStats& es = driver.engine().stats();
  plain_counters(x, es, driver.transport_stats(), stats, driver.persister().writes());
  refusals(x, es, stats);
  encryption(x, driver);
  ring_gauges(x, driver);
  std::string text = std::move(x.text());
  if (driver.config().extra_metrics) text += driver.config().extra_metrics();  // NodeConfig: the embedder's
  return text;
}

}  // namespace ringkeeper
