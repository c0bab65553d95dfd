// AdminRoutes (node/admin_routes.h): one function per endpoint, found in a table.
#include "node/admin_routes.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "node/address.h"
#include "gossip/hash.h"
#include "node/move_plan.h"
#include "ringkeeper/version.h"

namespace ringkeeper {

namespace {

using json = nlohmann::json;

AdminResponse reply(int status, const json& body) { return {status, "application/json", body.dump() + "\n"}; }
AdminResponse error(int status, std::string message) { return reply(status, json{{"error", std::move(message)}}); }
// A write the Driver did not apply, or a plan not made: 409 with its message, whatever the code
// (refused by the engine or the planner, the node stopping, the keyring not saved).
AdminResponse refused(const Status& s) { return error(409, s.message()); }

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

json ids(const std::vector<NodeId>& v) {
  json a = json::array();
  for (const NodeId& n : v) a.push_back(n.to_string());
  return a;
}

// One request on its way through the table; the cluster view is decoded on first use.
struct Call {
  Driver& driver;
  const AdminRequest& request;
  std::string_view query;
  std::optional<ClusterView> decoded;
  const ClusterView& view() {
    if (!decoded) decoded = cluster_view(driver.engine(), driver.identity().id);
    return *decoded;
  }
};

AdminResponse metrics(Call& c, RuntimeStats& stats) {
  return {200, "text/plain; version=0.0.4", metrics_text(c.driver, stats)};
}

AdminResponse info(Call& c) {
  const NodeConfig& config = c.driver.config();
  const NodeIdentity& me = c.driver.identity();
  const gossip::ClusterId& cluster_id = c.driver.engine().config().cluster_id;
  return reply(200, json{{"id", me.id.to_string()},
                         {"cluster", config.cluster},
                         {"cluster_id", cluster_id.is_nil() ? "" : cluster_id.to_string()},
                         {"address", me.advertised},
                         {"admin", me.admin_bound},
                         {"generation", me.generation.value()},
                         {"data_dir", me.data_dir},
                         {"version", std::string(kVersion)},
                         {"replication", config.replication.canonical()}});
}

AdminResponse health(Call& c) {
  size_t live = 0, down = 0;
  std::map<std::string, size_t> digests;
  for (const MemberView& m : c.view().members) {
    if (m.gone) continue;
    (m.reachable ? live : down)++;
    if (m.reachable) ++digests[m.ring_digest];
  }
  json d = json::object();
  for (const auto& [k, n] : digests) d[k] = n;
  return reply(200, json{{"converged", c.driver.engine().converged()}, {"live", live}, {"down", down}, {"ring_digests", d}});
}

// A join in flight. Its id is the same on every node (from the joiner's id and claim stamp);
// only the joiner knows whom it waits for.
json join_change(Call& c, const MemberView& m) {
  if (m.gone || !m.status_gossiped || m.status != "JOINING" || !m.has_claim) return nullptr;
  const NodeId change_id = gossip::join_change_id(m.id, m.stamp);
  json waiting = json::array();
  if (m.self) {
    for (const NodeId& w : c.driver.engine().join_waiting_for()) waiting.push_back(w.to_string());
  }
  return json{{"id", change_id.to_string()}, {"kind", "join"}, {"phase", "announce"}, {"waiting_for", waiting}};
}

// Whom a change still waits for: only its coordinator (the mover) knows; empty elsewhere and
// once the change ended.
json change_waiting_for(Call& c, const MemberView& m) {
  if (!m.self || !m.change || !gossip::in_flight(m.change->step)) return json::array();
  return ids(c.driver.engine().change_waiting_for());
}

// status's per-node "change": a gossiped change in flight, else a removal of it in flight, else a
// join in flight, else null.
json change_in_flight(Call& c, const MemberView& m) {
  const bool coordinates_own = m.change && gossip::in_flight(m.change->step) &&
                               m.change->kind != gossip::ChangeKind::kRemoveNode;  // a removal shows on its subject
  if (m.gone || !coordinates_own) {
    if (auto removal = m.gone ? std::nullopt : c.driver.engine().removal_of(m.id)) {
      const bool coordinating = removal->first == c.driver.identity().id;
      return json{{"id", removal->second.id.to_string()},
                  {"kind", std::string(gossip::to_string(removal->second.kind))},
                  {"phase", std::string(gossip::to_string(removal->second.step))},
                  {"coordinator", removal->first.to_string()},
                  {"waiting_for", coordinating ? ids(c.driver.engine().change_waiting_for()) : json::array()}};
    }
    return join_change(c, m);
  }
  return json{{"id", m.change->id.to_string()},
              {"kind", std::string(gossip::to_string(m.change->kind))},
              {"phase", std::string(gossip::to_string(m.change->step))},
              {"waiting_for", change_waiting_for(c, m)}};
}

// The answer of every change command, and of /v1/change: {"change", "kind", "node", "phase"};
// `node` is the node whose ownership changes (a removal's subject), `coordinator` who drives it.
json change_answer(const NodeId& coordinator, const gossip::ChangeRecord& change) {
  return json{{"change", change.id.to_string()},
              {"kind", std::string(gossip::to_string(change.kind))},
              {"node", (change.on_behalf() ? change.subject : coordinator).to_string()},
              {"coordinator", coordinator.to_string()},
              {"phase", std::string(gossip::to_string(change.step))}};
}

// An embedder's streaming progress, as it gossips it in the application value "stream" (a JSON
// object: change, ranges_done, ranges, keys, bytes — kvd publishes it); null when none.
json streaming_of(const MemberView& m, const std::optional<NodeId>& active) {
  const gossip::VersionedValue* v = m.gone ? nullptr : m.state->get("x.stream");
  if (!v) return nullptr;
  json j = json::parse(v->value, nullptr, false);
  if (!j.is_object() || !j.contains("change") || !j["change"].is_string()) return nullptr;
  // Only while that change is still in flight: afterwards the progress is history.
  auto id = NodeId::parse(j["change"].get<std::string>());
  return id && active == *id ? j : json(nullptr);
}

// A joiner's claimed tokens that reads do not use yet: all of them until its join reaches
// read_new (`ring` lists them as pending); 0 for every other node.
size_t pending_tokens(const RingNode* rn) {
  const bool pending = rn && rn->status == NodeStatus::kJoining && rn->phase < ChangePhase::kReadNew;
  return pending ? rn->tokens.size() : 0;
}

// One member of /v1/status. A tombstone (a removed id, or a LEFT entry that expired) has no
// generation and is nobody's to probe: generation 0, liveness unknown.
json status_node(Call& c, const MemberView& m, const RingSnapshot& ring, const std::vector<double>& own,
                 const std::optional<NodeId>& active) {
  const RingNode* rn = ring.find(m.id);
  double ownership = 0;
  if (auto idx = ring.index_of(m.id); idx && *idx < own.size()) ownership = own[*idx];
  return json{{"id", m.id.to_string()},
              {"self", m.self},
              {"address", m.address},
              {"status", rn && rn->status == NodeStatus::kLeaving ? std::string("LEAVING") : m.status},
              {"liveness", std::string(gossip::to_string(m.liveness))},
              {"tokens", rn ? rn->tokens.size() : 0},
              {"pending_tokens", pending_tokens(rn)},
              {"claimed_tokens", m.claimed_tokens},
              {"change", change_in_flight(c, m)},
              {"streaming", streaming_of(m, active)},
              {"ownership", ownership},
              {"dc", m.dc},
              {"rack", m.rack},
              {"generation", m.tombstone ? 0 : m.state->generation.value()},
              {"tombstone", m.tombstone}};
}

AdminResponse status(Call& c) {
  const ClusterView& view = c.view();
  std::optional<NodeId> active;
  if (auto a = c.driver.engine().active_change()) active = a->second.id;
  const RingSnapshot& ring = *view.ring;
  const auto own = ring.ownership();
  json nodes = json::array();
  for (const MemberView& m : view.members) nodes.push_back(status_node(c, m, ring, own, active));
  return reply(200, json{{"cluster", c.driver.config().cluster},
                         {"ring_digest", ring.digest_hex()},
                         {"ring_version", ring.version()},
                         {"converged", c.driver.engine().converged()},
                         {"rf", ring.current().replica_count()},
                         {"nodes", nodes}});
}

AdminResponse ring(Call& c) {
  auto snapshot = c.driver.engine().ring();
  json tokens = json::array();
  const TokenRing& cur = snapshot->current();
  const auto nodes = snapshot->nodes();
  for (uint32_t i = 0; i < cur.size(); ++i) {
    tokens.push_back(json{{"token", cur.token_at(i).to_string()}, {"node", nodes[cur.owner_at(i)].id.to_string()}});
  }
  // Tokens on their way in: a MOVING node's new tokens, a JOINING node's claim.
  std::vector<std::pair<Token, NodeId>> incoming;
  for (const RingNode& n : nodes) {
    const std::vector<Token>* list = n.status == NodeStatus::kMoving    ? &n.pending_tokens
                                     : n.status == NodeStatus::kJoining ? &n.tokens
                                                                        : nullptr;
    if (list) {
      for (Token t : *list) incoming.emplace_back(t, n.id);
    }
  }
  std::sort(incoming.begin(), incoming.end());
  json pending = json::array();
  for (const auto& [t, id] : incoming) pending.push_back(json{{"token", t.to_string()}, {"node", id.to_string()}});
  return reply(200, json{{"ring_digest", snapshot->digest_hex()}, {"tokens", tokens}, {"pending", pending}});
}

AdminResponse owners(Call& c) {
  auto key = query_param(c.query, "key");
  if (!key) return error(400, "owners needs ?key=KEY");
  auto snapshot = c.driver.engine().ring();
  const Token t = snapshot->token_of(*key);
  json reachable = json::array();
  for (const PreferenceEntry& e : c.driver.publisher().current()->router->preference_list(t)) {
    reachable.push_back(e.node.to_string());
  }
  return reply(200, json{{"key", *key},
                         {"token", t.to_string()},
                         {"replicas", ids(snapshot->natural_replicas(t).to_vector())},
                         {"reachable", reachable},
                         {"pending", ids(snapshot->pending_replicas(t))}});
}

AdminResponse gossipinfo(Call& c) {
  const gossip::ClusterState& st = c.driver.engine().state();
  json nodes = json::array();
  for (size_t i = 0; i < st.size(); ++i) {
    const gossip::NodeState& ns = st.state_at(i);
    json values = json::object();
    for (const auto& [k, v] : ns.values) values[k] = json{{"value", v.value}, {"version", v.version.value()}};
    nodes.push_back(json{{"id", st.id_at(i).to_string()},
                         {"generation", ns.generation.value()},
                         {"version", ns.max_version.value()},
                         {"values", values}});
  }
  return reply(200, json{{"nodes", nodes}});
}

json token_list(const std::vector<Token>& tokens) {
  json out = json::array();
  for (Token t : tokens) out.push_back(t.to_string());
  return out;
}

json fractions(const std::vector<std::pair<NodeId, double>>& ownership) {
  json out = json::object();
  for (const auto& [id, f] : ownership) out[id.to_string()] = f;
  return out;
}

// A dry run's answer (move, rebalance): {"node", "tokens", "moves", "ownership_before",
// "ownership_after"}; the caller adds what its command adds.
json plan_json(const MovePlan& plan) {
  json moves = json::array();
  for (const RangeMove& m : plan.moves) {
    moves.push_back(json{{"start", m.range.start.to_string()}, {"end", m.range.end.to_string()},
                         {"from", ids(m.from)}, {"to", ids(m.to)}});
  }
  return json{{"node", plan.node.to_string()},
              {"tokens", token_list(plan.tokens)},
              {"moves", moves},
              {"ownership_before", fractions(plan.ownership_before)},
              {"ownership_after", fractions(plan.ownership_after)}};
}

// The request's body as a JSON object (an empty body reads as {}); discarded if it is not one.
json body_object(Call& c) {
  if (c.request.body.empty()) return json::object();
  json body = json::parse(c.request.body, nullptr, false);
  return body.is_object() ? body : json(json::value_t::discarded);
}

// The body's "dry_run" (false when absent); nullopt when it is not a boolean.
std::optional<bool> dry_run_in(const json& body) {
  const json dry_run = body.value("dry_run", json(false));
  if (!dry_run.is_boolean()) return std::nullopt;
  return dry_run.get<bool>();
}

// The answer of a command that just started (or aborted) this node's change: its record as this
// node now gossips it — {"change", "kind", "node", "phase"} — with the command's own fields.
AdminResponse own_change_reply(Call& c, std::string_view done, const json& extra = json::object()) {
  const auto change = c.driver.engine().own_change();
  if (!change) return error(500, std::string(done) + " but this node gossips no change record");
  json out = change_answer(c.driver.identity().id, *change);
  out.update(extra);
  return reply(200, out);
}

AdminResponse move(Call& c) {
  const json body = body_object(c);
  if (body.is_discarded() || !body.contains("tokens") || !body["tokens"].is_array()) {
    return error(400, "move needs {\"tokens\": [\"T1\", ...]}");
  }
  // Refused before anything is planned or written: a token list over the cap would not fit in
  // the value every peer bounds (dry runs too: they plan what the move would do).
  if (std::string why = gossip::token_count_refusal(body["tokens"].size()); !why.empty()) {
    return error(400, "move refused: " + why);
  }
  std::vector<Token> tokens;
  for (const json& t : body["tokens"]) {
    auto parsed = t.is_string() ? Token::parse(t.get<std::string>()) : std::nullopt;
    if (!parsed) return error(400, "not a token (an unsigned 64-bit decimal string): " + t.dump());
    tokens.push_back(*parsed);
  }
  const auto dry_run = dry_run_in(body);
  if (!dry_run) return error(400, "dry_run is true or false");
  const NodeId& self = c.driver.identity().id;
  if (*dry_run) {
    // The plan, nothing announced.
    Result<MovePlan> plan = plan_move(*c.driver.engine().ring(), self, std::move(tokens));
    if (!plan.ok()) return refused(plan.status());
    json out = plan_json(*plan);
    out["dry_run"] = true;
    return reply(200, out);
  }
  if (Status s = c.driver.move_tokens(tokens); !s.ok()) return refused(s);
  std::sort(tokens.begin(), tokens.end());
  return own_change_reply(c, "the move was announced",
                          json{{"id", self.to_string()}, {"tokens", token_list(tokens)}, {"announced", true}});
}

// Moves this node to the tokens the allocator gives it against every other node's, as a change
// of kind rebalance; with "dry_run" the plan only. An already balanced node (the move would not
// lower the cluster's largest ownership over its mean by 1 %) gets an empty plan, balanced: true,
// and nothing starts.
AdminResponse rebalance(Call& c) {
  const json body = body_object(c);
  if (body.is_discarded()) return error(400, "rebalance takes {} or {\"dry_run\": true}");
  const auto dry_run = dry_run_in(body);
  if (!dry_run) return error(400, "dry_run is true or false");
  const NodeId& self = c.driver.identity().id;
  const auto ring = c.driver.engine().ring();
  const RingNode* me = ring->find(self);
  if (!me || me->tokens.empty() || me->status == NodeStatus::kLeft || me->status == NodeStatus::kRemoved) {
    return error(409, "this node owns no tokens (it is joining, or it left the cluster): nothing to rebalance");
  }
  std::vector<Token> tokens = c.driver.engine().rebalance_tokens();
  if (tokens.empty()) {
    json out = plan_json(plan_no_move(*ring, self));
    out["dry_run"] = *dry_run;
    out["balanced"] = true;
    return reply(200, out);
  }
  if (*dry_run) {
    Result<MovePlan> plan = plan_move(*ring, self, tokens);
    if (!plan.ok()) return refused(plan.status());
    json out = plan_json(*plan);
    out["dry_run"] = true;
    out["balanced"] = false;
    return reply(200, out);
  }
  if (Status s = c.driver.move_tokens(tokens, gossip::ChangeKind::kRebalance); !s.ok()) return refused(s);
  std::sort(tokens.begin(), tokens.end());
  return own_change_reply(c, "the rebalance was announced", json{{"tokens", token_list(tokens)}});
}

// Hands every range of this node to its next owners as a phased change; at done it is LEFT,
// owns nothing, and keeps answering here until stopped.
AdminResponse decommission(Call& c) {
  if (body_object(c).is_discarded()) return error(400, "decommission takes {}");
  const NodeId& self = c.driver.identity().id;
  const auto ring = c.driver.engine().ring();
  const auto owners = ring->nodes();
  const bool others_own = std::any_of(owners.begin(), owners.end(), [&](const RingNode& n) {
    return n.id != self && !n.tokens.empty() && n.status != NodeStatus::kLeft && n.status != NodeStatus::kRemoved;
  });
  if (!others_own) return error(409, "no other node owns tokens: the last node of a cluster cannot hand its ranges to anyone");
  if (Status s = c.driver.decommission(); !s.ok()) return refused(s);
  return own_change_reply(c, "the decommission was announced");
}

std::optional<NodeId> change_id_in(const json& body) {
  if (!body.is_object() || !body.contains("change") || !body["change"].is_string()) return std::nullopt;
  return NodeId::parse(body["change"].get<std::string>());
}

AdminResponse abort_change(Call& c) {
  auto id = change_id_in(json::parse(c.request.body, nullptr, false));
  if (!id) return error(400, "abort needs {\"change\": \"<change id>\"}");
  if (Status s = c.driver.abort_change(*id); !s.ok()) return refused(s);
  return own_change_reply(c, "the change was aborted");
}

// A removal that ended at once (forced, or of a node that had left) has no change record to
// follow; its id is derived from the removed node's, so /v1/change on any member that holds the
// tombstone answers it as done.
NodeId immediate_removal_id(const NodeId& removed) {
  return NodeId::from_random_bits(removed.hi() ^ 0x72656d6f76656421ULL, removed.lo());
}

// The answer for such a removal; the coordinator is the answering node when it wrote the
// tombstone, absent when only the tombstone is known (who wrote it is not gossiped).
json immediate_removal_answer(const NodeId& removed, const std::optional<NodeId>& coordinator) {
  json out{{"change", immediate_removal_id(removed).to_string()},
           {"kind", "removenode"},
           {"node", removed.to_string()},
           {"phase", "done"},
           {"removed", removed.to_string()}};
  if (coordinator) out["coordinator"] = coordinator->to_string();
  return out;
}

// A change as the answering node sees it (what `ringctl --wait` polls): found by id among the
// change records members gossip, in flight or ended.
AdminResponse change_status(Call& c) {
  auto text = query_param(c.query, "id");
  auto id = text ? NodeId::parse(*text) : std::nullopt;
  if (!id) return error(400, "change needs ?id=<change id>");
  for (const MemberView& m : c.view().members) {
    if (m.change && m.change->id == *id) {
      json out = change_answer(m.id, *m.change);
      out["waiting_for"] = change_waiting_for(c, m);
      return reply(200, out);
    }
    // A removal that ended at once: its id names the removed node (immediate_removal_id).
    if ((m.tombstone || m.status == "REMOVED") && immediate_removal_id(m.id) == *id) {
      json out = immediate_removal_answer(m.id, std::nullopt);
      out["waiting_for"] = json::array();
      return reply(200, out);
    }
  }
  return error(404, "no change " + id->to_string() + " is known here");
}

// Removes a dead node: a phased change this node coordinates, or with "force" while another
// change is in flight, its tombstone at once (answered as a change already done).
AdminResponse removenode(Call& c) {
  json body = json::parse(c.request.body, nullptr, false);
  auto nid = body.is_object() && body.contains("node") && body["node"].is_string()
                 ? NodeId::parse(body["node"].get<std::string>())
                 : std::nullopt;
  if (!nid) return error(400, "removenode needs {\"node\": \"<node id>\"[, \"force\": true]}");
  const json force = body.value("force", json(false));
  if (!force.is_boolean()) return error(400, "force is true or false");
  if (Status s = c.driver.remove_node(*nid, force.get<bool>()); !s.ok()) return refused(s);
  if (auto removal = c.driver.engine().removal_of(*nid)) {
    json out = change_answer(removal->first, removal->second);
    if (removal->first == c.driver.identity().id) out["waiting_for"] = ids(c.driver.engine().change_waiting_for());
    out["removed"] = nid->to_string();
    return reply(200, out);
  }
  // Removed at once (forced, or it had left), or removed before: nothing is left to follow.
  return reply(200, immediate_removal_answer(*nid, c.driver.identity().id));
}

// ---- keys (ringctl keys; node/key_ops.h) ----
// Each command answers at once with {"op": ID, ...}; GET /v1/keys/op?id=ID follows it until
// "done": every live member answered, or the deadline passed.

std::string op_hex(uint64_t id) { return fmt::format("{:016x}", id); }

std::vector<KeyOps::Target> live_peers(Call& c) {
  std::vector<KeyOps::Target> out;
  for (const MemberView& m : c.view().members) {
    if (!m.self && !m.gone && m.reachable && !m.address.empty()) out.push_back({m.id, m.address});
  }
  return out;
}

AdminResponse start_key_op(Call& c, gossip::KeyOp op) {
  Result<uint64_t> id = c.driver.start_key_op(op, live_peers(c));
  if (!id.ok()) return refused(id.status());
  return reply(200, json{{"op", op_hex(*id)}, {"kind", std::string(key_op_name(op.kind))}, {"done", false}});
}

AdminResponse keys_list(Call& c) { return start_key_op(c, gossip::KeyOp{0, gossip::KeyOpKind::kList, "", ""}); }

// install, use, remove: {"key": "<base64 key>"}.
AdminResponse keys_change(Call& c, gossip::KeyOpKind kind) {
  const json body = body_object(c);
  Result<std::string> raw = Status::invalid_argument("expects {\"key\": \"<base64-encoded 32-byte key>\"}");
  if (!body.is_discarded() && body.contains("key") && body["key"].is_string()) {
    raw = gossip::decode_key_base64(body["key"].get<std::string>());
  }
  if (!raw.ok()) return error(400, std::string("keys ") + std::string(key_op_name(kind)) + ": " + raw.status().message());
  const std::string fingerprint = gossip::key_fingerprint(*raw);
  if (kind != gossip::KeyOpKind::kInstall && !c.driver.keyring().holds(*raw)) {
    return error(409, "key " + fingerprint + " is not installed on this node (keys install it first)");
  }
  return start_key_op(c, gossip::KeyOp{0, kind, kind == gossip::KeyOpKind::kInstall ? *raw : "", fingerprint});
}
AdminResponse keys_install(Call& c) { return keys_change(c, gossip::KeyOpKind::kInstall); }
AdminResponse keys_use(Call& c) { return keys_change(c, gossip::KeyOpKind::kUse); }
AdminResponse keys_remove(Call& c) { return keys_change(c, gossip::KeyOpKind::kRemove); }

// list: {"primary", "keys": [{"fingerprint", "nodes"}]}; the others: {"key"}; both with "nodes",
// "acked", "failed" and "errors" ({id: reason}).
AdminResponse keys_op(Call& c) {
  auto text = query_param(c.query, "id");
  uint64_t id = 0;
  const char* end = text ? text->data() + text->size() : nullptr;
  if (!text || text->size() != 16 || std::from_chars(text->data(), end, id, 16).ptr != end) {
    return error(400, "keys/op needs ?id=<the 16 hex digits a keys command answered>");
  }
  const auto s = c.driver.key_op_status(id);
  if (!s) return error(404, "no keys command " + *text + " is known here (it was long ago, or on another node)");
  json failed = json::array(), errors = json::object();
  for (const NodeId& n : s->failed) failed.push_back(n.to_string());
  for (const auto& [n, why] : s->errors) errors[n.to_string()] = why;
  json out{{"op", *text}, {"kind", std::string(key_op_name(s->op.kind))}, {"done", s->done}, {"nodes", s->nodes},
           {"acked", s->acked}, {"failed", failed}, {"errors", errors}};
  if (s->op.kind != gossip::KeyOpKind::kList) {
    out["key"] = s->op.fingerprint;
    return reply(200, out);
  }
  std::map<std::string, size_t> holders;
  for (const gossip::KeyOpAck& a : s->answers) {
    if (!a.error.empty()) continue;
    for (const std::string& f : a.fingerprints) ++holders[f];
  }
  json keys = json::array();
  for (const auto& [f, n] : holders) keys.push_back(json{{"fingerprint", f}, {"nodes", n}});
  const std::string primary = c.driver.keyring().primary_fingerprint();
  out["primary"] = primary.empty() ? json(nullptr) : json(primary);
  out["keys"] = keys;
  return reply(200, out);
}

struct Route {
  bool post;  // POST (state-changing) or GET
  std::string_view path;
  AdminResponse (*answer)(Call&);
};

constexpr Route kRoutes[] = {
    {false, "/v1/info", info},
    {false, "/v1/status", status},
    {false, "/v1/health", health},
    {false, "/v1/ring", ring},
    {false, "/v1/owners", owners},
    {false, "/v1/gossipinfo", gossipinfo},
    {false, "/v1/change", change_status},
    {true, "/v1/move", move},
    {true, "/v1/abort", abort_change},
    {true, "/v1/removenode", removenode},
    {true, "/v1/rebalance", rebalance},
    {true, "/v1/decommission", decommission},
    {false, "/v1/keys", keys_list},
    {false, "/v1/keys/op", keys_op},
    {true, "/v1/keys/install", keys_install},
    {true, "/v1/keys/use", keys_use},
    {true, "/v1/keys/remove", keys_remove},
};

}  // namespace

bool admin_call_allowed(const AdminRequest& req, const std::string& admin_token, bool reads_need_token) {
  if (req.method == "GET" && !reads_need_token) return true;
  if (req.loopback) return true;
  if (admin_token.empty()) return false;
  const std::string want = "Bearer " + admin_token;
  // Constant-time comparison: the token is a secret.
  if (req.authorization.size() != want.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) diff |= static_cast<unsigned char>(req.authorization[i] ^ want[i]);
  return diff == 0;
}

ClusterView cluster_view(gossip::GossipEngine& engine, const NodeId& self) {
  ClusterView view;
  view.ring = engine.ring();
  const gossip::ClusterState& st = engine.state();
  view.members.reserve(st.size());
  for (size_t i = 0; i < st.size(); ++i) {
    MemberView m;
    m.id = st.id_at(i);
    m.self = m.id == self;
    m.state = &st.state_at(i);
    gossip::EntryView entry = gossip::EntryView::read(*m.state);
    m.tombstone = entry.tombstone;
    m.gone = m.tombstone || entry.status == NodeStatus::kLeft || entry.status == NodeStatus::kRemoved;
    m.status = entry.status_text ? std::string(*entry.status_text) : (m.tombstone ? "REMOVED" : "JOINING");
    m.status_gossiped = entry.status_text.has_value();
    // A tombstone is nobody's to probe: whatever the table last held about that id means nothing.
    m.liveness = m.self ? PeerLiveness::kUp : m.tombstone ? PeerLiveness::kUnknown : engine.liveness(m.id);
    m.reachable = m.liveness != PeerLiveness::kSuspect && m.liveness != PeerLiveness::kDown;
    m.address = entry.address;
    m.dc = entry.dc.value_or("");
    m.rack = entry.rack.value_or("");
    m.ring_digest = entry.ring_digest;
    m.has_claim = entry.has_claim;
    if (!m.gone) m.claimed_tokens = entry.tokens.size();
    m.stamp = entry.stamp;
    m.change = std::move(entry.change);
    view.members.push_back(std::move(m));
  }
  return view;
}

namespace {

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Whether a host is an IP address written out (not a name) and which kind: a DNS-rebound page
// can never send one of these as its Host, since its origin is a name.
enum class IpLiteral : uint8_t { kNone, kLoopback, kOther };
IpLiteral ip_literal(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  std::string bare = host;
  if (bare.size() > 2 && bare.front() == '[' && bare.back() == ']') bare = bare.substr(1, bare.size() - 2);
  if (inet_pton(AF_INET, bare.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127 ? IpLiteral::kLoopback : IpLiteral::kOther;
  }
  if (inet_pton(AF_INET6, bare.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) ? IpLiteral::kLoopback : IpLiteral::kOther;
  }
  return IpLiteral::kNone;
}

bool loopback_name(const std::string& host) { return host == "localhost" || ip_literal(host) == IpLiteral::kLoopback; }

// Every POST takes a JSON body (or none): 400 saying where one does not parse, before its
// route reads it.
std::optional<AdminResponse> malformed_json(const AdminRequest& req) {
  if (req.method != "POST" || req.body.empty()) return std::nullopt;
  try {
    [[maybe_unused]] const json parsed = json::parse(req.body);
  } catch (const json::parse_error& e) {
    const std::string why = e.what();  // "[json.exception.parse_error.101] parse error at ..."
    const size_t tag_end = why.find("] ");
    return error(400, "malformed JSON: " + (tag_end == std::string::npos ? why : why.substr(tag_end + 2)));
  }
  return std::nullopt;
}

}  // namespace

Status state_change_allowed(const AdminRequest& req, const std::string& admin_bound, const std::string& advertised) {
  // A browser tricked into posting here (a form, DNS rebinding) cannot send JSON without a
  // preflight, nor a Host header that names this node.
  std::string_view type = req.content_type;
  type = type.substr(0, std::min(type.find(';'), type.size()));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (lowercase(type) != "application/json") {
    return Status::invalid_argument("state-changing calls need Content-Type: application/json");
  }
  auto named = parse_host_port(req.host);
  auto bound = parse_host_port(admin_bound);
  if (!named || !bound) return Status::refused("state-changing calls need a Host header naming this node (HOST:PORT)");
  const std::string host = lowercase(named->host);
  auto advertised_hp = parse_host_port(advertised);
  // Bound to every address, any of this host's addresses may name it — an IP literal; a name
  // only if it is the one the node advertises.
  const bool wildcard = bound->host == "0.0.0.0" || bound->host == "::";
  const bool ours = (wildcard && ip_literal(host) != IpLiteral::kNone) || host == lowercase(bound->host) ||
                    loopback_name(host) || (advertised_hp && host == lowercase(advertised_hp->host));
  if (named->port != bound->port || !ours) {
    return Status::refused("the Host header '" + req.host + "' does not name this node (" + admin_bound + ")");
  }
  return {};
}

AdminResponse AdminRoutes::handle(const AdminRequest& req) {
  ++stats_.admin_requests;
  std::string_view target = req.target;
  std::string_view query;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    query = target.substr(q + 1);
    target = target.substr(0, q);
  }
  if (driver_.halted()) return error(503, "the node is stopping");
  const bool post = req.method == "POST";
  if (!post && req.method != "GET") return error(405, "use GET or POST");
  // State-changing calls: loopback callers, or callers presenting the admin token.
  // With --admin-token-reads, reads too.
  const std::string& token = driver_.config().admin_token;
  if (!admin_call_allowed(req, token, driver_.config().admin_token_reads)) {
    ++stats_.admin_refused;
    const std::string calls = post ? "state-changing calls" : "calls (--admin-token-reads)";
    return error(403, token.empty() ? calls + " are accepted from loopback only (no admin token is configured)"
                                    : calls + " from other hosts need the admin token (Authorization: Bearer)");
  }
  if (post) {
    if (Status s = state_change_allowed(req, driver_.identity().admin_bound, driver_.identity().advertised); !s.ok()) {
      ++stats_.admin_refused;
      return error(s.code() == StatusCode::kInvalidArgument ? 415 : 403, s.message());
    }
  }
  Call call{driver_, req, query, std::nullopt};
  if (!post && target == "/metrics") return metrics(call, stats_);
  for (const Route& r : kRoutes) {
    if (r.post != post || r.path != target) continue;
    if (std::optional<AdminResponse> bad = malformed_json(req)) return *bad;
    return r.answer(call);
  }
  return error(404, "no such endpoint: " + req.method + " " + std::string(target));
}

}  // namespace ringkeeper
