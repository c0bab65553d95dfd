// The admin API's answers (what ringctl prints) and the Prometheus metrics. Node thread only.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gossip/hash.h"
#include "node/node_impl.h"
#include "ringkeeper/version.h"

namespace ringkeeper {

namespace {

using json = nlohmann::json;

AdminResponse reply(int status, const json& body) { return {status, "application/json", body.dump() + "\n"}; }
AdminResponse error(int status, std::string message) { return reply(status, json{{"error", std::move(message)}}); }

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view part = query.substr(pos, amp - pos);
    if (part.starts_with(name) && part.size() > name.size() && part[name.size()] == '=') {
      return url_decode(part.substr(name.size() + 1));
    }
    pos = amp + 1;
  }
  return std::nullopt;
}

const std::string* value_of(const gossip::NodeState& st, std::string_view key) {
  const gossip::VersionedValue* v = st.get(key);
  return v ? &v->value : nullptr;
}

json ids(const std::vector<NodeId>& v) {
  json a = json::array();
  for (const NodeId& n : v) a.push_back(n.to_string());
  return a;
}

}  // namespace

bool admin_call_allowed(const AdminRequest& req, const std::string& admin_token) {
  if (req.method == "GET") return true;
  if (req.loopback) return true;
  if (admin_token.empty()) return false;
  const std::string want = "Bearer " + admin_token;
  // Constant-time comparison: the token is a secret.
  if (req.authorization.size() != want.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned char>(req.authorization[i] ^ want[i]);
  return diff == 0;
}

AdminResponse Node::Impl::handle_admin(const AdminRequest& req) {
  ++stats.admin_requests;
  std::string_view target = req.target;
  std::string_view query;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    query = target.substr(q + 1);
    target = target.substr(0, q);
  }
  if (halted) return error(503, "the node is stopping");
  const bool get = req.method == "GET";
  if (!get) {
    if (req.method != "POST") return error(405, "use GET or POST");
    // State-changing calls: loopback callers, or callers presenting the admin token.
    if (!admin_call_allowed(req, config.admin_token)) {
      ++stats.admin_refused;
      return error(403, config.admin_token.empty()
                            ? "state-changing calls are accepted from loopback only (no admin token is configured)"
                            : "state-changing calls from other hosts need the admin token (Authorization: Bearer)");
    }
  }
  auto ring = engine->ring();
  const gossip::ClusterState& st = engine->state();

  if (get && target == "/metrics") return {200, "text/plain; version=0.0.4", metrics_text()};
  if (get && target == "/v1/info") {
    return reply(200, json{{"id", id.to_string()},
                           {"cluster", config.cluster},
                           {"cluster_id", engine->config().cluster_id.is_nil() ? "" : engine->config().cluster_id.to_string()},
                           {"address", advertised},
                           {"admin", admin_bound},
                           {"generation", generation},
                           {"data_dir", data_dir},
                           {"version", std::string(kVersion)},
                           {"replication", config.replication.canonical()}});
  }
  if (get && (target == "/v1/status" || target == "/v1/health")) {
    const auto own = ring->ownership();
    json nodes = json::array();
    size_t live = 0, down = 0;
    std::map<std::string, size_t> digests;
    for (size_t i = 0; i < st.size(); ++i) {
      const NodeId& nid = st.id_at(i);
      const gossip::NodeState& ns = st.state_at(i);
      const std::string* status = value_of(ns, gossip::keys::kStatus);
      const PeerLiveness l = nid == id ? PeerLiveness::kUp : engine->liveness(nid);
      const bool gone = ns.is_tombstone() || (status && (*status == "LEFT" || *status == "REMOVED"));
      if (!gone) {
        const bool reachable = l != PeerLiveness::kSuspect && l != PeerLiveness::kDown;
        (reachable ? live : down)++;
        if (reachable) {
          const std::string* d = value_of(ns, gossip::keys::kRingDigest);
          ++digests[d ? *d : std::string()];
        }
      }
      if (target == "/v1/health") continue;
      const RingNode* rn = ring->find(nid);
      double ownership = 0;
      if (auto idx = ring->index_of(nid); idx && *idx < own.size()) ownership = own[*idx];
      const std::string* address = value_of(ns, gossip::keys::kAddress);
      const std::string* dc = value_of(ns, gossip::keys::kDc);
      const std::string* rack = value_of(ns, gossip::keys::kRack);
      const std::string* claimed = value_of(ns, gossip::keys::kTokens);
      json change = nullptr;
      if (!gone && status && *status == "JOINING" && claimed && !claimed->empty()) {
        // A join in flight. Its id is the same on every node (from the joiner's id and claim
        // stamp); only the joiner knows whom it waits for.
        const std::string* stamp = value_of(ns, gossip::keys::kStamp);
        const uint64_t s = stamp ? std::strtoull(stamp->c_str(), nullptr, 10) : 0;
        const NodeId change_id = NodeId::from_random_bits(nid.hi() ^ gossip::mix64(s), nid.lo() ^ gossip::mix64(s + 1));
        json waiting = json::array();
        if (nid == id) {
          for (const NodeId& w : engine->join_waiting_for()) waiting.push_back(w.to_string());
        }
        change = json{{"id", change_id.to_string()}, {"kind", "join"}, {"phase", "announce"}, {"waiting_for", waiting}};
      }
      nodes.push_back(json{{"id", nid.to_string()},
                           {"self", nid == id},
                           {"address", address ? *address : ""},
                           {"status", ns.is_tombstone() ? std::string(status ? *status : "REMOVED") : (status ? *status : "JOINING")},
                           {"liveness", std::string(gossip::to_string(l))},
                           {"tokens", rn ? rn->tokens.size() : 0},
                           {"claimed_tokens", gone || !claimed ? 0 : gossip::parse_token_list(*claimed).value_or(std::vector<Token>{}).size()},
                           {"change", change},
                           {"ownership", ownership},
                           {"dc", dc ? *dc : ""},
                           {"rack", rack ? *rack : ""},
                           {"generation", ns.generation}});
    }
    const bool converged = engine->converged();
    if (target == "/v1/health") {
      json d = json::object();
      for (const auto& [k, n] : digests) d[k] = n;
      return reply(200, json{{"converged", converged}, {"live", live}, {"down", down}, {"ring_digests", d}});
    }
    return reply(200, json{{"cluster", config.cluster},
                           {"ring_digest", ring->digest_hex()},
                           {"converged", converged},
                           {"rf", ring->current().replica_count()},
                           {"nodes", nodes}});
  }
  if (get && target == "/v1/ring") {
    json tokens = json::array();
    const TokenRing& cur = ring->current();
    const auto nodes = ring->nodes();
    for (uint32_t i = 0; i < cur.size(); ++i) {
      tokens.push_back(json{{"token", cur.token_at(i).to_string()}, {"node", nodes[cur.owner_at(i)].id.to_string()}});
    }
    return reply(200, json{{"ring_digest", ring->digest_hex()}, {"tokens", tokens}});
  }
  if (get && target == "/v1/owners") {
    auto key = query_param(query, "key");
    if (!key) return error(400, "owners needs ?key=KEY");
    const Token t = ring->token_of(*key);
    auto v = current_view();
    json reachable = json::array();
    for (const PreferenceEntry& e : v->router->preference_list(t)) reachable.push_back(e.node.to_string());
    return reply(200, json{{"key", *key},
                           {"token", t.to_string()},
                           {"replicas", ids(ring->natural_replicas(t).to_vector())},
                           {"reachable", reachable},
                           {"pending", ids(ring->pending_replicas(t))}});
  }
  if (get && target == "/v1/gossipinfo") {
    json nodes = json::array();
    for (size_t i = 0; i < st.size(); ++i) {
      const gossip::NodeState& ns = st.state_at(i);
      json values = json::object();
      for (const auto& [k, v] : ns.values) values[k] = json{{"value", v.value}, {"version", v.version}};
      nodes.push_back(json{{"id", st.id_at(i).to_string()},
                           {"generation", ns.generation},
                           {"version", ns.max_version},
                           {"values", values}});
    }
    return reply(200, json{{"nodes", nodes}});
  }
  if (!get && target == "/v1/move") {
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.contains("tokens") || !body["tokens"].is_array()) {
      return error(400, "move needs {\"tokens\": [\"T1\", ...]}");
    }
    std::vector<Token> tokens;
    for (const json& t : body["tokens"]) {
      auto parsed = t.is_string() ? Token::parse(t.get<std::string>()) : std::nullopt;
      if (!parsed) return error(400, "not a token (an unsigned 64-bit decimal string): " + t.dump());
      tokens.push_back(*parsed);
    }
    std::string err = move_tokens(tokens);
    if (!err.empty()) return error(409, err);
    json out = json::array();
    std::sort(tokens.begin(), tokens.end());
    for (Token t : tokens) out.push_back(t.to_string());
    return reply(200, json{{"id", id.to_string()}, {"tokens", out}, {"announced", true}});
  }
  if (!get && target == "/v1/removenode") {
    json body = json::parse(req.body, nullptr, false);
    auto nid = body.is_object() && body.contains("node") && body["node"].is_string()
                   ? NodeId::parse(body["node"].get<std::string>())
                   : std::nullopt;
    if (!nid) return error(400, "removenode needs {\"node\": \"<node id>\"}");
    std::string err = engine->remove_node(*nid);
    if (!err.empty()) return error(409, err);
    after_event();
    return reply(200, json{{"removed", nid->to_string()}});
  }
  if (!get && (target == "/v1/rebalance" || target == "/v1/decommission")) {
    return error(501, std::string(target.substr(4)) + " is not in this build");
  }
  return error(404, "no such endpoint: " + req.method + " " + std::string(target));
}

std::string Node::Impl::metrics_text() {
  std::string out;
  auto counter = [&](std::string_view name, std::string_view help, uint64_t v, std::string_view labels = {}) {
    if (labels.empty()) {
      out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help, name);
      out += fmt::format("{} {}\n", name, v);
    } else {
      out += fmt::format("{}{{{}}} {}\n", name, labels, v);
    }
  };
  auto gauge = [&](std::string_view name, std::string_view help, double v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
  };
  const gossip::EngineStats& es = engine->stats();
  const gossip::TransportStats& ts = transport->stats();
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
      {"ringkeeper_store_writes_total", "Batches written to the state store.", stats.store_writes},
      {"ringkeeper_admin_requests_total", "Admin API requests.", stats.admin_requests},
      {"ringkeeper_admin_refused_total", "State-changing admin calls refused (not loopback, no token).",
       stats.admin_refused},
  };
  for (const Counter& c : counters) counter(c.name, c.help, c.value);
  out += "# HELP ringkeeper_gossip_frames_rejected_total Frames dropped (connection closed), by reason.\n"
         "# TYPE ringkeeper_gossip_frames_rejected_total counter\n";
  for (size_t r = 1; r < stats.frames_rejected.size(); ++r) {
    counter("ringkeeper_gossip_frames_rejected_total", "", stats.frames_rejected[r],
            fmt::format("reason=\"{}\"", gossip::to_string(static_cast<gossip::DecodeError>(r))));
  }
  out += "# HELP ringkeeper_gossip_messages_refused_total Decoded messages refused, by reason.\n"
         "# TYPE ringkeeper_gossip_messages_refused_total counter\n";
  counter("ringkeeper_gossip_messages_refused_total", "", es.rejected_cluster, "reason=\"cluster_id\"");
  counter("ringkeeper_gossip_messages_refused_total", "", es.rejected_replication, "reason=\"replication\"");
  counter("ringkeeper_gossip_messages_refused_total", "", es.rejected_generation, "reason=\"generation_ahead\"");
  counter("ringkeeper_gossip_messages_refused_total", "", es.rejected_clock_ahead, "reason=\"clock_ahead\"");
  counter("ringkeeper_gossip_messages_refused_total", "", es.rejected_bounds, "reason=\"bounds\"");
  counter("ringkeeper_gossip_messages_refused_total", "", es.rejected_malformed, "reason=\"malformed_value\"");
  counter("ringkeeper_gossip_messages_refused_total", "", es.rejected_unknown, "reason=\"unknown_node\"");
  counter("ringkeeper_gossip_messages_refused_total", "", es.misdirected_probes, "reason=\"probe_for_another_node\"");
  counter("ringkeeper_token_claims_lost_total",
          "Tokens this node, an established owner, lost to earlier claims (then re-claimed elsewhere).",
          es.claims_lost);
  out += "# HELP ringkeeper_own_entry_repairs_total Peers held a newer record of this node than it had, by reason.\n"
         "# TYPE ringkeeper_own_entry_repairs_total counter\n";
  counter("ringkeeper_own_entry_repairs_total", "", es.data_dir_behind, "reason=\"data_dir_behind\"");
  counter("ringkeeper_own_entry_repairs_total", "", es.versions_reasserted, "reason=\"versions_reasserted\"");
  counter("ringkeeper_own_entry_repairs_total", "", es.newer_generation_seen, "reason=\"newer_generation\"");
  {
    const auto self_ring = engine->ring();
    const RingNode* me = self_ring->find(id);
    const size_t claimed = engine->claimed_tokens(), owned = me ? me->tokens.size() : 0;
    gauge("ringkeeper_tokens_claimed_not_owned",
          "Tokens this node gossips but does not own (a lost claim being repaired).",
          static_cast<double>(claimed > owned ? claimed - owned : 0));
    gauge("ringkeeper_join_waiting_for", "Members a join in progress still waits for.",
          static_cast<double>(engine->join_waiting_for().size()));
  }
  const gossip::ProbeRtt& rtt = es.probe_rtt;
  out += "# HELP ringkeeper_probe_rtt_seconds Round-trip time of answered direct probes.\n"
         "# TYPE ringkeeper_probe_rtt_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t b = 0; b < gossip::ProbeRtt::kBounds.size(); ++b) {
    cumulative += rtt.buckets[b];
    out += fmt::format("ringkeeper_probe_rtt_seconds_bucket{{le=\"{}\"}} {}\n", gossip::ProbeRtt::kBounds[b] / 1000.0,
                       cumulative);
  }
  out += fmt::format("ringkeeper_probe_rtt_seconds_bucket{{le=\"+Inf\"}} {}\n", rtt.count);
  out += fmt::format("ringkeeper_probe_rtt_seconds_sum {}\n", rtt.sum_ms / 1000.0);
  out += fmt::format("ringkeeper_probe_rtt_seconds_count {}\n", rtt.count);
  out += "# HELP ringkeeper_nodes Members by liveness as this node sees them.\n# TYPE ringkeeper_nodes gauge\n";
  size_t counts[4] = {0, 0, 0, 0};
  const gossip::ClusterState& st = engine->state();
  for (size_t i = 0; i < st.size(); ++i) {
    if (st.state_at(i).is_tombstone()) continue;
    const NodeId& nid = st.id_at(i);
    ++counts[static_cast<size_t>(nid == id ? PeerLiveness::kUp : engine->liveness(nid))];
  }
  for (size_t l = 0; l < 4; ++l) {
    out += fmt::format("ringkeeper_nodes{{liveness=\"{}\"}} {}\n", gossip::to_string(static_cast<PeerLiveness>(l)), counts[l]);
  }
  auto ring = engine->ring();
  out += fmt::format("# HELP ringkeeper_ring_digest_info The ring this node routes with.\n"
                     "# TYPE ringkeeper_ring_digest_info gauge\nringkeeper_ring_digest_info{{digest=\"{}\"}} 1\n",
                     ring->digest_hex());
  gauge("ringkeeper_converged", "1 when every live member gossips this node's ring digest.", engine->converged() ? 1 : 0);
  gauge("ringkeeper_ring_tokens", "Tokens in the current ring.", ring->current().size());
  gauge("ringkeeper_generation", "This node's generation.", static_cast<double>(generation));
  return out;
}

}  // namespace ringkeeper
