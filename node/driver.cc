// Driver (node/driver.h): the engine on the node thread, and the persist → publish → send order.
#include "node/driver.h"

#include <fmt/ranges.h>

#include "node/keyring_file.h"

namespace ringkeeper {

namespace {

using gossip::keys::kStatus;
using gossip::keys::kTokens;

// Values of this node's own entry that a restart carries over into its new generation.
bool restorable(std::string_view key) {
  return key != gossip::keys::kAddress && key != gossip::keys::kRingDigest && key != gossip::keys::kPlacement &&
         key != gossip::keys::kWire;
}

gossip::EngineConfig engine_config(const NodeConfig& c, const NodeIdentity& identity, const gossip::ClusterId& cluster_id,
                                   gossip::Millis wall_offset) {
  gossip::EngineConfig ec;
  ec.id = identity.id;
  ec.address = identity.advertised;
  ec.seeds = c.seeds;
  ec.replication = c.replication;
  ec.cluster_id = cluster_id;
  ec.generation = identity.generation;
  ec.gossip_interval = c.gossip_interval_ms;
  ec.liveness.probe_interval = c.probe_interval_ms;
  ec.liveness.probe_timeout = c.probe_timeout_ms;
  ec.join.num_tokens = c.num_tokens;
  ec.join.initial_tokens = c.tokens;
  ec.join.dc = c.dc;
  ec.join.rack = c.rack;
  ec.join.settle = c.settle_ms;
  ec.wall_offset = wall_offset;
  ec.auto_ack_data = !c.streams_data;  // an embedder that streams acknowledges its ranges itself
  if (!c.replace.empty()) ec.join.replace = *NodeId::parse(c.replace);  // checked by Node::open
  return ec;
}

// What a writer answers once the driver is halted (stopping, or stopped by a failure).
Status stopping() { return Status::not_running("the node is stopping"); }

}  // namespace

Driver::Driver(const NodeConfig& config, const NodeIdentity& identity, Deps deps, gossip::Keyring keyring)
    : config_(config),
      identity_(identity),
      d_(deps),
      sealed_(std::move(keyring), {.accept_plaintext = config.gossip_accept_plaintext}, identity.generation) {
  codec_.cluster_name = config.cluster;
}

Driver::~Driver() = default;

Result<std::string> Driver::listen() {
  TransportConfig tc;
  tc.listen = config_.listen;
  tc.max_frame = codec_.max_frame;
  transport_ = d_.env.make_transport(
      tc, [this](std::string_view frame, const std::string& peer) { return on_frame(frame, peer); });
  transport_->on_refused([this](const std::string& address) { on_refused(address); });
  return transport_->listen();
}

void Driver::build_engine(std::vector<std::pair<NodeId, gossip::NodeState>> persisted, uint64_t rng_seed) {
  rng_ = gossip::SplitMixRng(rng_seed);
  gossip::EngineConfig ec =
      engine_config(config_, identity_, d_.persister.cluster_id(), d_.env.wall_ms() - now());
  for (const auto& [eid, st] : persisted) {
    if (eid == identity_.id) {
      ec.data_dir_generation = st.generation;
      ec.data_dir_version = st.max_version;
    }
  }
  engine_ = std::make_unique<gossip::GossipEngine>(ec, rng_, ring_cache_);
  engine_->observe_hlc(d_.persister.hlc());  // never behind a stamp this data dir issued or saw
  d_.persister.remember(persisted);
  // Peers as remembered; this node's own values (tokens, status, claim stamp, dc, rack, embedder
  // values) carried into its new generation. A node that had not finished joining starts again.
  for (auto& [eid, st] : persisted) {
    if (eid != identity_.id) {
      engine_->install(eid, std::make_shared<gossip::NodeState>(std::move(st)));
      continue;
    }
    const gossip::VersionedValue* status = st.get(kStatus);
    const bool joined = status && status->value != to_string(NodeStatus::kJoining) && st.get(kTokens);
    for (const auto& [key, v] : st.values) {
      if (!restorable(key)) continue;
      if (!joined && (key == kStatus || key == kTokens || key == gossip::keys::kStamp)) continue;
      engine_->set_local(key, v.value);
    }
  }
  if (Status s = d_.persister.persist(*engine_); !s.ok()) fail(std::move(s));
  d_.publisher.publish(*engine_);
}

// ---- the node thread -------------------------------------------------------------------------

void Driver::drive() {
  if (halted_) return;
  engine_->set_wall_offset(d_.env.wall_ms() - now());
  auto out = engine_->tick(now());
  after_event();
  send_all(std::move(out));
  for (auto& [address, op] : key_ops_.due_resends(now())) send_message(address, std::move(op));
  if (engine_->state().size() <= 1 && !config_.seeds.empty() && engine_->config().cluster_id.is_nil()) {
    // Still alone and not founding: say so now and then, so an operator sees why.
    const bool first = !seed_log_.ever_logged();
    if (seed_log_.allow(now()) && !first) {
      if (last_refusal_.empty()) {
        d_.log.warn("no seed has answered yet ({}); still retrying", fmt::join(config_.seeds, ","));
      } else {
        d_.log.warn("no seed has accepted this node yet (last refused {}); still retrying", last_refusal_);
      }
    }
  }
  rearm(true);
}

void Driver::rearm(bool force) {
  if (halted_) return;
  const gossip::Millis next = std::max(engine_->next_deadline(), now() + 1);
  if (!force && armed_for_ >= 0 && armed_for_ <= next) return;
  armed_for_ = next;
  d_.env.cancel(timer_);
  timer_ = d_.env.schedule_at(next, [this] { drive(); });
}

void Driver::after_event() {
  if (!d_.failure.failed()) {
    if (Status s = d_.persister.persist(*engine_); !s.ok()) fail(std::move(s));
  }
  d_.publisher.publish(*engine_);
  d_.ownership.update(*engine_);
  for (const std::string& notice : engine_->take_notices()) d_.log.warn("{}", notice);
  if (!engine_->fatal().empty() && !d_.failure.failed()) stop_once_shared();
  if (engine_->removed() && !d_.failure.failed()) {
    // Persisted above: started again on this data dir, the node refuses to run (exit 3). A LEFT
    // node's entry becomes a tombstone too once the others collect it (left_expiry).
    const gossip::NodeState* own = engine_->state().find(identity_.id);
    const gossip::VersionedValue* status = own ? own->get(gossip::keys::kStatus) : nullptr;
    fail(Status::refused("node " + identity_.id.to_string() +
                         (status && status->value == to_string(NodeStatus::kLeft)
                              ? " left the cluster (decommission) and its entry has expired everywhere; stopping"
                              : " was removed from the cluster by an operator (removenode)")));
  }
}

void Driver::stop_once_shared() {
  // The engine gave up (a --replace with nothing to replace): it is LEFT. A peer must hold that
  // before the node stops, or the cluster keeps a JOINING ghost whose barrier holds every change
  // until an operator removes it. The engine's next rounds carry it; stop once a peer has it, or
  // after kGiveUpGraceMs whatever (the shutdown then flushes what is queued).
  if (giving_up_since_ < 0) giving_up_since_ = now();
  const bool shared = engine_->own_entry_shared();
  if (!shared && now() - giving_up_since_ < kGiveUpGraceMs) return;
  if (!shared) {
    d_.log.warn("no peer has confirmed that this node left within {} ms; they may keep it as a JOINING member "
                "until it is removed (ringctl removenode {})", kGiveUpGraceMs, identity_.id.to_string());
  }
  fail(Status::refused(engine_->fatal()));
}

void Driver::send_all(std::vector<gossip::Envelope> out) {
  for (gossip::Envelope& e : out) {
    if (e.to == identity_.advertised || e.to.empty()) continue;
    const uint32_t version = peer_versions_.version_for(e.to, engine_->wire_version_at(e.to));
    transport_->send(e.to, sealed_.encode(e.message, codec_, version, d_.env.wall_ms()));
  }
}

bool Driver::on_frame(std::string_view frame, const std::string& peer) {
  if (halted_) return false;
  gossip::DecodeResult r = sealed_.decode(frame, codec_, d_.env.wall_ms());
  if (r.error != gossip::DecodeError::kNone) {
    if (r.error == gossip::DecodeError::kWrongCluster) {
      on_foreign_cluster(r, peer);
    } else {
      log_rejected_frame(r.error, peer);
    }
    return false;
  }
  const gossip::Message& msg = *r.message;
  if (std::holds_alternative<gossip::KeyOp>(msg.body) || std::holds_alternative<gossip::KeyOpAck>(msg.body)) {
    on_key_message(msg, r.sealed);
    return true;
  }
  log_refused_peer(msg);
  auto out = engine_->on_message(now(), msg);
  // What a peer speaks is learned only from a member the engine accepted, at the address it
  // gossips: a frame cannot set the version written to an address it merely claims.
  if (const gossip::NodeState* st = engine_->state().find(msg.from)) {
    const gossip::VersionedValue* a = st->get(gossip::keys::kAddress);
    if (a && a->value == msg.from_address) peer_versions_.heard(msg.from_address, r.sender_newest);
  }
  after_event();
  send_all(std::move(out));
  rearm(false);
  return true;
}

void Driver::on_foreign_cluster(const gossip::DecodeResult& r, const std::string& peer) {
  const gossip::Message* msg = r.message ? &*r.message : nullptr;
  const bool opening = msg && (std::holds_alternative<gossip::Syn>(msg->body) || std::holds_alternative<gossip::Ping>(msg->body));
  if (msg && !opening) {
    // Another cluster's answer to what this node sent (its refusal, below): the operator's line.
    ++d_.stats.frames_rejected[decode_error_index(gossip::DecodeError::kWrongCluster)];
    last_refusal_ = fmt::format("{} ({}): it belongs to cluster '{}', this node to '{}'", msg->from_address,
                                msg->from.to_string(), r.foreign_cluster, config_.cluster);
    if (refusal_log_.allow(now())) d_.log.error("refused {}; the cluster name must match (--cluster)", last_refusal_);
    return;
  }
  log_rejected_frame(gossip::DecodeError::kWrongCluster, peer,
                     fmt::format(": it names cluster '{}', this node's is '{}'", r.foreign_cluster, config_.cluster));
  if (opening && cluster_refusals_.allow(now())) send_cluster_refusal(msg->from_address);
}

void Driver::send_cluster_refusal(const std::string& to) {
  // The frame carries this node's cluster name; the message says who refused and nothing more —
  // no cluster id, no replication settings, no liveness rumors: less than the engine's answer to
  // other replication settings. A Rumor is never answered, so two refusing nodes cannot ping-pong.
  gossip::Message m;
  m.from = identity_.id;
  m.from_address = identity_.advertised;
  m.body = gossip::Rumor{};
  const uint32_t version = peer_versions_.version_for(to, engine_->wire_version_at(to));
  transport_->send(to, sealed_.encode(m, codec_, version, d_.env.wall_ms()));
}

void Driver::log_rejected_frame(gossip::DecodeError error, const std::string& peer, std::string_view detail) {
  const size_t reason = decode_error_index(error);
  ++d_.stats.frames_rejected[reason];
  if (!reject_logs_[reason].allow(now())) return;
  const uint64_t suppressed = reject_logs_[reason].take_suppressed();
  std::string_view why;
  switch (error) {
    case gossip::DecodeError::kPlaintext:
      why = ": this node encrypts gossip and the peer sent plaintext (give it the cluster's key; "
            "--gossip-accept-plaintext takes plaintext while encryption is being turned on)";
      break;
    case gossip::DecodeError::kBadMac:
      why = sealed_.keyring().empty() ? ": the frame is encrypted and this node holds no gossip key"
                                      : ": no key in this node's keyring opens it (another key, or tampered)";
      break;
    case gossip::DecodeError::kStale: why = ": sent too long ago or ahead (are the clocks synchronised?)"; break;
    default: why = detail; break;
  }
  d_.log.warn("dropped a frame from {} ({}{}) and closed the connection{}", peer, gossip::to_string(error), why,
              suppressed ? fmt::format(" ({} more since the last report)", suppressed) : std::string());
}

// The engine refuses (and counts) a peer of other replication settings or another cluster id;
// the operator hears why here, at most once per 10 s.
void Driver::log_refused_peer(const gossip::Message& msg) {
  const std::string ours = engine_->config().replication.canonical();
  const gossip::ClusterId& cid = engine_->config().cluster_id;
  const bool foreign_cluster = !msg.cluster_id.is_nil() && !cid.is_nil() && msg.cluster_id != cid;
  if ((msg.replication == ours && !foreign_cluster) || !refusal_log_.allow(now())) return;
  if (msg.replication != ours) {
    last_refusal_ = fmt::format("{} ({}): its replication settings {} differ from this node's {}", msg.from_address,
                                msg.from.to_string(), msg.replication, ours);
    d_.log.error("refused {}; they are cluster-wide (--strategy/--rf)", last_refusal_);
  } else {
    d_.log.error("refused {} ({}): it belongs to cluster id {}, this node to {} (same name, a different "
                 "cluster)", msg.from_address, msg.from.to_string(), msg.cluster_id.to_string(), cid.to_string());
  }
}

void Driver::on_refused(const std::string& address) {
  if (halted_) return;
  const gossip::ClusterState& st = engine_->state();
  for (size_t i = 0; i < st.size(); ++i) {
    const gossip::VersionedValue* a = st.state_at(i).get(gossip::keys::kAddress);
    if (a && a->value == address && st.id_at(i) != identity_.id) {
      auto out = engine_->peer_refused(now(), st.id_at(i));
      after_event();
      send_all(std::move(out));
      rearm(false);
      return;
    }
  }
}

void Driver::fail(Status why) {
  halted_ = true;
  const std::string line = why.message();
  if (d_.failure.set(std::move(why))) d_.log.critical("{}; this node stops", line);
}

void Driver::shutdown(std::function<void()> done) {
  if (!d_.failure.failed()) {
    // Peers mark us down at once instead of after a suspicion timeout.
    auto out = engine_->announce_shutdown(now());
    if (Status s = d_.persister.persist(*engine_); !s.ok()) fail(std::move(s));
    send_all(std::move(out));
  }
  d_.env.cancel(timer_);
  halted_ = true;
  finish_shutdown(now() + 1500, std::move(done));
}

void Driver::finish_shutdown(gossip::Millis deadline, std::function<void()> done) {
  // Let the transport flush (the shutdown announcement above all), then sync and stop.
  if (transport_->pending() > 0 && now() < deadline) {
    d_.env.schedule_at(now() + 10, [this, deadline, done = std::move(done)] { finish_shutdown(deadline, done); });
    return;
  }
  if (!d_.failure.failed()) d_.persister.final_sync(identity_.generation);
  transport_->close();
  done();
}

// ---- writers ---------------------------------------------------------------------------------

Status Driver::applied(std::string refusal) {
  if (!refusal.empty()) return Status::refused(std::move(refusal));
  after_event();
  rearm(false);  // a change hurries the next round: the timer may be armed for later
  return {};
}

Status Driver::move_tokens(std::vector<Token> tokens, gossip::ChangeKind kind) {
  if (halted_) return stopping();
  return applied(engine_->move_tokens(std::move(tokens), now(), kind));
}

Status Driver::decommission() {
  if (halted_) return stopping();
  return applied(engine_->decommission(now()));
}

Status Driver::abort_change(const NodeId& change) {
  if (halted_) return stopping();
  return applied(engine_->abort_change(change));
}

Status Driver::acknowledge_data(const NodeId& change) {
  if (halted_) return stopping();
  return applied(engine_->acknowledge_data(change));
}

Status Driver::remove_node(const NodeId& node, bool force) {
  if (halted_) return stopping();
  return applied(engine_->remove_node(node, now(), force));
}

Status Driver::set_application_value(const std::string& name, std::string value) {
  if (halted_) return stopping();
  return applied(engine_->set_application_value(name, std::move(value)));
}

void Driver::set_load(std::string value) {
  if (!halted_) engine_->set_load(std::move(value));
}

// ---- keyring commands ----------------------------------------------------------------------

void Driver::send_message(const std::string& to, gossip::Body body) {
  gossip::Message m;
  m.from = identity_.id;
  m.cluster_id = engine_->config().cluster_id;
  m.replication = config_.replication.canonical();
  m.from_address = identity_.advertised;
  m.body = std::move(body);
  const uint32_t version = peer_versions_.version_for(to, engine_->wire_version_at(to));
  transport_->send(to, sealed_.encode(m, codec_, version, d_.env.wall_ms()));
}

// The KeyOps go out sealed with the keyring as it was: after a `use`, a member that does not hold
// the new key can still open the command and answer why it refuses, instead of going silent.
Result<uint64_t> Driver::start_key_op(gossip::KeyOp op, std::vector<KeyOps::Target> targets) {
  if (halted_) return stopping();
  gossip::Keyring next = sealed_.keyring();
  if (Status refused = apply_key_op(next, op); !refused.ok()) return refused;
  const bool changed = !(next == sealed_.keyring());
  if (changed) {
    if (Status saved = save_keyring(identity_.data_dir, next); !saved.ok()) {
      return Status::io_error("cannot save the keyring: " + saved.message());
    }
  }
  const uint64_t id = d_.env.random_seed() | 1;  // never 0
  op.op = id;
  for (const KeyOps::Target& t : targets) send_message(t.address, op);
  if (changed) {
    install_keyring(std::move(next));
    d_.log.info("keyring: {} {} (operator command); primary key {}", key_op_name(op.kind),
                op.kind == gossip::KeyOpKind::kInstall ? gossip::key_fingerprint(op.key) : op.fingerprint,
                sealed_.keyring().primary_fingerprint());
  }
  key_ops_.begin(op, id, identity_.id, key_op_answer(id, sealed_.keyring(), ""), targets, now());
  return id;
}

void Driver::install_keyring(gossip::Keyring next) {
  sealed_.keyring() = std::move(next);
  d_.cluster_mac.update(sealed_.keyring());
}

// A KeyOp is obeyed from a member of this cluster, and — once this node encrypts — only sealed:
// plaintext is never enough to change the keys of a node that has one in use.
void Driver::on_key_message(const gossip::Message& msg, bool sealed) {
  if (auto* ack = std::get_if<gossip::KeyOpAck>(&msg.body)) {
    key_ops_.on_ack(msg.from, *ack);
    return;
  }
  const auto& op = std::get<gossip::KeyOp>(msg.body);
  std::string refusal;
  const gossip::ClusterId& cid = engine_->config().cluster_id;
  if (!sealed && sealed_.keyring().primary()) {
    refusal = "refused: this node encrypts gossip and takes key commands only when they arrive encrypted";
  } else if (cid.is_nil() || msg.cluster_id != cid || !engine_->state().find(msg.from)) {
    refusal = "refused: the sender is not a member of this node's cluster";
  }
  gossip::Keyring next = sealed_.keyring();
  if (refusal.empty()) refusal = apply_key_op(next, op).message();
  if (refusal.empty() && !(next == sealed_.keyring())) {
    refusal = save_keyring(identity_.data_dir, next).message();
    if (refusal.empty()) {
      install_keyring(std::move(next));
      d_.log.info("keyring: {} {} (asked by {}); primary key {}", key_op_name(op.kind),
                  op.kind == gossip::KeyOpKind::kInstall ? gossip::key_fingerprint(op.key) : op.fingerprint,
                  msg.from.to_string(), sealed_.keyring().primary_fingerprint());
    }
  }
  if (!refusal.empty() && refusal_log_.allow(now())) d_.log.warn("key command from {}: {}", msg.from_address, refusal);
  send_message(msg.from_address, key_op_answer(op.op, sealed_.keyring(), refusal));
}

std::optional<std::string> Driver::application_value(const NodeId& node, const std::string& name) const {
  if (halted_) return std::nullopt;
  const gossip::NodeState* st = engine_->state().find(node);
  const gossip::VersionedValue* v = st ? st->get("x." + name) : nullptr;
  if (!v) return std::nullopt;
  return v->value;
}

}  // namespace ringkeeper
