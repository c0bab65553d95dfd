// The node runtime: opens the store, drives the gossip engine on the node thread, persists every
// change before it is sent, and publishes an immutable view for readers on any thread.
#include "node/node_impl.h"

#include <filesystem>
#include <fstream>
#include <future>

#include <fmt/ranges.h>

#include "node/address.h"
#include "node/state_records.h"
#include "storage/rocks_store.h"

namespace ringkeeper {

namespace {

using gossip::keys::kStatus;
using gossip::keys::kTokens;


// Values of this node's own entry that a restart carries over into its new generation.
bool restorable(std::string_view key) {
  return key != gossip::keys::kAddress && key != gossip::keys::kRingDigest && key != gossip::keys::kPlacement &&
         key != gossip::keys::kWire;
}

Node::OpenResult refused(int exit_code, std::string message) {
  Node::OpenResult r;
  r.exit_code = exit_code;
  r.message = std::move(message);
  return r;
}

}  // namespace

// ---- open ----------------------------------------------------------------------------------

Node::OpenResult Node::open(NodeConfig config) {
  if (config.data_dir.empty()) return refused(2, "a data dir is required (--data-dir)");
  auto env = make_real_env(config.log_sink);
  auto opened = storage::open_rocks_store(config.data_dir + "/state");
  if (!opened.store) return refused(3, opened.error.message);
  for (const std::string& step : opened.error.migrated) {
    env->log(LogLevel::kInfo, fmt::format("data dir {}: migrated {}", config.data_dir, step));
  }
  return open(std::move(config), std::move(opened.store), std::move(env));
}

Node::OpenResult Node::open(NodeConfig config, std::unique_ptr<storage::StateStore> store) {
  auto env = make_real_env(config.log_sink);
  return open(std::move(config), std::move(store), std::move(env));
}

Node::OpenResult Node::open(NodeConfig config, std::unique_ptr<storage::StateStore> store_in,
                            std::unique_ptr<Env> env) {
  if (config.data_dir.empty()) return refused(2, "a data dir is required (--data-dir)");
  if (!gossip::parse_host_port(config.listen)) return refused(2, "--listen: not host:port: " + config.listen);
  if (!config.admin.empty() && !gossip::parse_host_port(config.admin)) {
    return refused(2, "--admin: not host:port: " + config.admin);
  }
  if (!config.advertise.empty()) {
    auto hp = gossip::parse_host_port(config.advertise);
    if (!hp || hp->port == 0) return refused(2, "--advertise: not host:port with a port: " + config.advertise);
  }
  for (const std::string& s : config.seeds) {
    if (!gossip::parse_host_port(s)) return refused(2, "--seeds: not host:port: " + s);
  }
  std::error_code dir_error;
  std::filesystem::create_directories(config.data_dir, dir_error);
  if (dir_error) return refused(3, "cannot create data dir " + config.data_dir + ": " + dir_error.message());
  storage::OpenError format = storage::check_format(*store_in);
  if (format.reason != storage::OpenError::Reason::kNone) {
    return refused(3, "data dir " + config.data_dir + ": " + format.message);
  }
  for (const std::string& step : format.migrated) {
    env->log(LogLevel::kInfo, fmt::format("data dir {}: migrated {}", config.data_dir, step));
  }
  auto impl = std::make_unique<Impl>(std::move(env));
  impl->store = std::move(store_in);
  auto& store = *impl->store;
  try {
    auto random64 = [&] { return impl->env->random_seed(); };
    impl->rng = gossip::SplitMixRng(random64());
    storage::WriteBatch identity;
    const auto stored_id = store.get_meta(storage::meta::kNodeId);
    if (stored_id) {
      auto parsed = NodeId::parse(*stored_id);
      if (!parsed) return refused(3, "data dir " + config.data_dir + " is corrupt: bad node id '" + *stored_id + "'");
      impl->id = *parsed;
    } else {
      impl->id = NodeId::from_random_bits(random64(), random64());
      identity.put_meta(storage::meta::kNodeId, impl->id.to_string());
    }
    if (auto name = store.get_meta(storage::meta::kClusterName); name && *name != config.cluster) {
      return refused(2, "data dir " + config.data_dir + " belongs to cluster '" + *name + "', not '" + config.cluster + "'");
    }
    identity.put_meta(storage::meta::kClusterName, config.cluster);
    const std::string replication = config.replication.canonical();
    if (auto rep = store.get_meta(storage::meta::kReplication); rep && *rep != replication) {
      return refused(2, "replication settings " + replication + " differ from the cluster's " + *rep +
                           " recorded in " + config.data_dir + " (they are cluster-wide)");
    }
    identity.put_meta(storage::meta::kReplication, replication);
    if (auto cid = store.get_meta(storage::meta::kClusterId)) {
      auto parsed = NodeId::parse(*cid);
      if (!parsed) return refused(3, "data dir " + config.data_dir + " is corrupt: bad cluster id '" + *cid + "'");
      impl->cluster_id = *parsed;
    }
    if (auto h = store.get_meta(storage::meta::kHlc)) impl->persisted_hlc = std::strtoull(h->c_str(), nullptr, 10);
    uint64_t persisted_generation = 0;
    if (auto g = store.get_meta(storage::meta::kGeneration)) {
      persisted_generation = std::strtoull(g->c_str(), nullptr, 10);
    }
    const uint64_t now_s = static_cast<uint64_t>(impl->env->wall_ms() / 1000);
    impl->generation = config.reset_generation ? now_s : std::max(persisted_generation + 1, now_s);
    identity.put_meta(storage::meta::kGeneration, std::to_string(impl->generation));

    // The persisted cluster state.
    bool corrupt = false;
    std::vector<std::pair<NodeId, gossip::NodeState>> entries;
    store.scan(storage::RecordKind::kEntry, [&](std::string_view k, std::string_view v) {
      auto id = gossip::entry_id(k);
      auto st = gossip::decode_node_state(v);
      if (!id || !st) {
        corrupt = true;
        return;
      }
      entries.emplace_back(*id, std::move(*st));
    });
    if (corrupt) return refused(3, "data dir " + config.data_dir + " is corrupt: an unreadable cluster-state record");
    for (const auto& [eid, st] : entries) {
      if (eid != impl->id) continue;
      if (st.is_tombstone()) {
        return refused(3, "data dir " + config.data_dir + ": node " + impl->id.to_string() +
                              " was removed from the cluster (removenode); a new node needs a fresh data dir");
      }
      const gossip::VersionedValue* tokens = st.get(kTokens);
      const gossip::VersionedValue* status = st.get(kStatus);
      if (tokens && status && status->value != to_string(NodeStatus::kJoining) && !config.tokens.empty() &&
          tokens->value != gossip::format_token_list(config.tokens)) {
        return refused(2, "this node already owns tokens " + tokens->value +
                             "; a restart keeps them (use `ringctl move --tokens` to change them)");
      }
    }
    // The generation bump is on disk before the node says anything.
    store.write(identity, true);
    impl->persisted_entries = std::move(entries);
  } catch (const storage::StoreError& e) {
    return refused(3, "data dir " + config.data_dir + ": " + e.what());
  }
  impl->data_dir = config.data_dir;
  impl->codec.cluster_name = config.cluster;
  impl->codec.secret = config.secret;
  impl->config = std::move(config);
  Node::OpenResult r;
  r.node = std::unique_ptr<Node>(new Node(std::move(impl)));
  return r;
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() { stop(); }

// ---- start / stop ----------------------------------------------------------------------------

std::string Node::start() {
  Impl& m = *impl_;
  if (m.running || m.engine) return "already started";
  gossip::TransportConfig tc;
  tc.listen = m.config.listen;
  tc.max_frame = m.codec.max_frame;
  m.transport = m.env->make_transport(
      tc, [&m](std::string_view frame, const std::string& peer) { return m.on_frame(frame, peer); });
  m.transport->on_refused([&m](const std::string& address) { m.on_refused(address); });
  try {
    m.listen_bound = m.transport->listen();
    if (!m.config.admin.empty()) {
      m.admin = m.env->make_admin_listener(m.config.admin,
                                           [&m](const AdminRequest& req) { return m.handle_admin(req); });
      m.admin_bound = m.admin->start();
    }
  } catch (const std::exception& e) {
    return e.what();
  }
  m.advertised = m.config.advertise.empty() ? m.listen_bound : m.config.advertise;
  if (auto hp = gossip::parse_host_port(m.advertised); hp && (hp->host == "0.0.0.0" || hp->host == "::")) {
    return "listening on a wildcard address needs --advertise HOST:PORT (the address peers should use)";
  }

  gossip::EngineConfig ec;
  ec.id = m.id;
  ec.address = m.advertised;
  ec.seeds = m.config.seeds;
  ec.replication = m.config.replication;
  ec.cluster_id = m.cluster_id;
  ec.generation = m.generation;
  ec.gossip_interval = m.config.gossip_interval_ms;
  ec.liveness.probe_interval = m.config.probe_interval_ms;
  ec.liveness.probe_timeout = m.config.probe_timeout_ms;
  ec.join.num_tokens = m.config.num_tokens;
  ec.join.initial_tokens = m.config.tokens;
  ec.join.dc = m.config.dc;
  ec.join.rack = m.config.rack;
  ec.join.settle = m.config.settle_ms;
  ec.wall_offset = m.wall_offset();
  for (const auto& [eid, st] : m.persisted_entries) {
    if (eid == m.id) {
      ec.data_dir_generation = st.generation;
      ec.data_dir_version = st.max_version;
    }
  }
  m.engine = std::make_unique<gossip::GossipEngine>(ec, m.rng, m.ring_cache);
  m.engine->observe_hlc(m.persisted_hlc);  // never behind a stamp this data dir issued or saw

  // Routes from the persisted ring before hearing from anyone: peers as remembered, this node's
  // own values (tokens, status, claim stamp, dc, rack, embedder values) carried into its new
  // generation. A node that had not finished joining starts its join again.
  for (auto& [eid, st] : m.persisted_entries) {
    m.persisted[eid] = {st.generation, st.max_version};
    if (eid != m.id) {
      m.engine->install(eid, std::make_shared<gossip::NodeState>(std::move(st)));
      continue;
    }
    const gossip::VersionedValue* status = st.get(kStatus);
    const bool joined = status && status->value != to_string(NodeStatus::kJoining) && st.get(kTokens);
    for (const auto& [key, v] : st.values) {
      if (!restorable(key)) continue;
      if (!joined && (key == kStatus || key == kTokens || key == gossip::keys::kStamp)) continue;
      m.engine->set_local(key, v.value);
    }
  }
  m.persisted_entries.clear();
  m.persist();
  m.publish();
  m.write_addresses_file();
  m.log.info("node {} generation {} gossip {} admin {} data {}", m.id.to_string(), m.generation, m.advertised,
               m.admin_bound.empty() ? "-" : m.admin_bound, m.data_dir);
  if (m.engine->state().size() <= 1 && !m.config.seeds.empty()) {
    m.log.info("contacting seeds {}", fmt::join(m.config.seeds, ","));
  } else if (m.engine->state().size() > 1) {
    m.log.info("remembers {} peers; routing from the persisted ring", m.engine->state().size() - 1);
  }
  m.running = true;
  m.env->post([&m] { m.drive(); });
  m.env->start([&m](std::string_view what) { m.fail("node thread: " + std::string(what)); });
  return "";
}

void Node::stop() {
  Impl& m = *impl_;
  if (!m.running.exchange(false)) return;
  m.env->post([&m] {
    if (!m.failed) {
      // Peers mark us down at once instead of after a suspicion timeout.
      auto out = m.engine->announce_shutdown(m.now());
      m.persist();
      m.send_all(std::move(out));
    }
    m.env->cancel(m.timer);
    m.halted = true;
    m.finish_stop(m.now() + 1500);
  });
  m.env->join();
  m.log.info("node {} stopped", m.id.to_string());
}

void Node::Impl::finish_stop(gossip::Millis deadline) {
  // Let the transport flush (the shutdown announcement above all), then sync and stop.
  if (transport->pending() > 0 && now() < deadline) {
    env->schedule_at(now() + 10, [this, deadline] { finish_stop(deadline); });
    return;
  }
  if (!failed) {
    try {
      storage::WriteBatch b;
      b.put_meta(storage::meta::kGeneration, std::to_string(generation));
      store->write(b, true);  // syncs everything written before it
    } catch (const storage::StoreError& e) {
      log.error("final store flush failed: {}", e.what());
    }
  }
  transport->close();
  if (admin) admin->close();
  env->stop();
}

bool Node::failed() const { return impl_->failed; }
std::string Node::failure() const {
  std::lock_guard lock(impl_->failure_mu);
  return impl_->failure;
}

void Node::Impl::fail(const std::string& why) {
  {
    std::lock_guard lock(failure_mu);
    if (failed) return;
    failure = why;
  }
  failed = true;
  halted = true;
  log.critical("{}; this node stops", why);
}

void Node::Impl::write_addresses_file() {
  std::string json = "{\"listen\": \"" + advertised + "\", \"admin\": \"" + admin_bound + "\"";
  for (const auto& [k, v] : config.extra_addresses) json += ", \"" + k + "\": \"" + v + "\"";
  json += "}\n";
  const std::string path = data_dir + "/addresses.json";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << json;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) log.warn("cannot write {}: {}", path, ec.message());
}

// ---- the node thread -------------------------------------------------------------------------

void Node::Impl::drive() {
  if (halted) return;
  engine->set_wall_offset(wall_offset());
  auto out = engine->tick(now());
  after_event();
  send_all(std::move(out));
  if (engine->state().size() <= 1 && !config.seeds.empty() && engine->config().cluster_id.is_nil()) {
    // Still alone and not founding: say so now and then, so an operator sees why.
    const bool first = !seed_log.ever_logged();
    if (seed_log.allow(now()) && !first) {
      log.warn("no seed has answered yet ({}); still retrying", fmt::join(config.seeds, ","));
    }
  }
  rearm(true);
}

void Node::Impl::rearm(bool force) {
  if (halted) return;
  const gossip::Millis next = std::max(engine->next_deadline(), now() + 1);
  if (!force && armed_for >= 0 && armed_for <= next) return;
  armed_for = next;
  env->cancel(timer);
  timer = env->schedule_at(next, [this] { drive(); });
}

void Node::Impl::send_all(std::vector<gossip::Envelope> out) {
  for (gossip::Envelope& e : out) {
    if (e.to == advertised || e.to.empty()) continue;
    transport->send(e.to, gossip::encode(e.message, codec, peer_versions.version_for(e.to, engine->wire_version_at(e.to))));
  }
}

bool Node::Impl::on_frame(std::string_view frame, const std::string& peer) {
  if (halted) return false;
  gossip::DecodeResult r = gossip::decode(frame, codec);
  if (r.error != gossip::DecodeError::kNone) {
    const auto reason = static_cast<size_t>(r.error);
    ++stats.frames_rejected[reason];
    if (reject_logs[reason].allow(now())) {
      const uint64_t suppressed = reject_logs[reason].take_suppressed();
      log.warn("dropped a frame from {} ({}) and closed the connection{}", peer, gossip::to_string(r.error),
               suppressed ? fmt::format(" ({} more since the last report)", suppressed) : std::string());
    }
    return false;
  }
  const gossip::Message& msg = *r.message;
  peer_versions.heard(msg.from_address, r.sender_newest);
  const std::string ours = engine->config().replication.canonical();
  const NodeId& cid = engine->config().cluster_id;
  const bool foreign_cluster = !msg.cluster_id.is_nil() && !cid.is_nil() && msg.cluster_id != cid;
  if (msg.replication != ours || foreign_cluster) {
    if (refusal_log.allow(now())) {
      if (msg.replication != ours) {
        log.error("refused {} ({}): its replication settings {} differ from this node's {}; they are "
                      "cluster-wide (--strategy/--rf)", msg.from_address, msg.from.to_string(), msg.replication, ours);
      } else {
        log.error("refused {} ({}): it belongs to cluster id {}, this node to {} (same name, a different "
                      "cluster)", msg.from_address, msg.from.to_string(), msg.cluster_id.to_string(), cid.to_string());
      }
    }
  }
  auto out = engine->on_message(now(), msg);
  after_event();
  send_all(std::move(out));
  rearm(false);
  return true;
}

void Node::Impl::on_refused(const std::string& address) {
  if (halted) return;
  const gossip::ClusterState& st = engine->state();
  for (size_t i = 0; i < st.size(); ++i) {
    const gossip::VersionedValue* a = st.state_at(i).get(gossip::keys::kAddress);
    if (a && a->value == address && st.id_at(i) != id) {
      auto out = engine->peer_refused(now(), st.id_at(i));
      after_event();
      send_all(std::move(out));
      rearm(false);
      return;
    }
  }
}

void Node::Impl::after_event() {
  persist();
  publish();
  for (const std::string& notice : engine->take_notices()) log.warn("{}", notice);
  if (engine->removed() && !failed) {
    // Persisted above: started again on this data dir, the node refuses to run (exit 3).
    fail("node " + id.to_string() + " was removed from the cluster by an operator (removenode)");
  }
}

void Node::Impl::persist() {
  if (failed) return;
  const gossip::ClusterState& st = engine->state();
  const NodeId& cid = engine->config().cluster_id;
  if (st.summary() == persisted_summary && cid == cluster_id) return;
  storage::WriteBatch b;
  std::vector<std::pair<NodeId, std::pair<uint64_t, uint64_t>>> written;
  for (size_t i = 0; i < st.size(); ++i) {
    const NodeId& nid = st.id_at(i);
    const gossip::NodeState& ns = st.state_at(i);
    const std::pair<uint64_t, uint64_t> key{ns.generation, ns.max_version};
    auto it = persisted.find(nid);
    if (it != persisted.end() && it->second == key) continue;
    b.put(storage::RecordKind::kEntry, gossip::entry_key(nid), gossip::encode_node_state(ns));
    written.push_back({nid, key});
  }
  std::vector<NodeId> gone;
  if (persisted.size() + written.size() > st.size()) {
    for (const auto& [nid, _] : persisted) {
      if (!st.find(nid)) gone.push_back(nid);
    }
  }
  for (const NodeId& nid : gone) b.erase(storage::RecordKind::kEntry, gossip::entry_key(nid));
  if (cid != cluster_id) b.put_meta(storage::meta::kClusterId, cid.to_string());
  const uint64_t hlc = engine->hlc();
  if (hlc != persisted_hlc && !b.empty()) b.put_meta(storage::meta::kHlc, std::to_string(hlc));
  if (b.empty()) {
    persisted_summary = st.summary();
    return;
  }
  try {
    store->write(b, false);
  } catch (const storage::StoreError& e) {
    fail(std::string("cannot persist the cluster state: ") + e.what());
    return;
  }
  ++stats.store_writes;
  for (auto& [nid, key] : written) persisted[nid] = key;
  persisted_hlc = hlc;
  for (const NodeId& nid : gone) persisted.erase(nid);
  if (cid != cluster_id) {
    if (cluster_id.is_nil()) log.info("cluster id {}", cid.to_string());
    cluster_id = cid;
  }
  persisted_summary = st.summary();
}

void Node::Impl::publish() {
  auto ring = engine->ring();
  const gossip::ClusterState& st = engine->state();
  // Most messages change neither the ring, nor anyone's liveness, nor the member count: skip the
  // O(N) rebuild for them.
  const uint64_t liveness_changes = engine->liveness_table().changes();
  if (view && view->ring == ring && liveness_changes == published_liveness_changes &&
      st.size() == published_members) {
    return;
  }
  published_liveness_changes = liveness_changes;
  published_members = st.size();
  std::unordered_map<NodeId, PeerLiveness> live;
  live.reserve(st.size());
  for (size_t i = 0; i < st.size(); ++i) {
    const NodeId& nid = st.id_at(i);
    live[nid] = nid == id ? PeerLiveness::kUp : engine->liveness(nid);
  }
  auto old = current_view();
  if (old && old->ring == ring && old->liveness == live) return;
  auto v = std::make_shared<PublishedView>();
  v->ring = ring;
  v->liveness = std::move(live);
  const auto& lv = v->liveness;
  v->router = std::make_shared<Router>(ring, [&lv](const NodeId& nid) {
    auto it = lv.find(nid);
    return it == lv.end() || (it->second != PeerLiveness::kSuspect && it->second != PeerLiveness::kDown);
  });
  {
    std::lock_guard lock(view_mu);
    view = v;
  }
  std::vector<RingListener> rl;
  std::vector<LivenessListener> ll;
  {
    std::lock_guard lock(subs_mu);
    for (auto& [_, f] : ring_subs) rl.push_back(f);
    for (auto& [_, f] : liveness_subs) ll.push_back(f);
  }
  if (old && old->ring != ring && old->ring->digest() != ring->digest()) {
    log.info("ring {} -> {}", old->ring->digest_hex(), ring->digest_hex());
    if (!rl.empty()) {
      RingChange change{old->ring, ring, diff_snapshots(*old->ring, *ring)};
      for (auto& f : rl) f(change);
    }
  }
  if (old) {
    for (const auto& [nid, l] : v->liveness) {
      auto it = old->liveness.find(nid);
      const PeerLiveness before = it == old->liveness.end() ? PeerLiveness::kUnknown : it->second;
      if (before == l) continue;
      if (l == PeerLiveness::kDown || before == PeerLiveness::kDown) {
        log.info("node {} is {}", nid.to_string(), gossip::to_string(l));
      }
      for (auto& f : ll) f(nid, l);
    }
  }
}

template <class F>
auto Node::Impl::run_on_node(F&& f, decltype(f()) if_stopping) -> decltype(f()) {
  if (env->on_node_thread()) return f();
  // The task owns what it uses (captured by value): if the node stops before running it, the
  // caller gives up after a while and the task is dropped with the io_context.
  auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::forward<F>(f));
  auto fut = task->get_future();
  env->post([task] { (*task)(); });
  if (fut.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return if_stopping;
  return fut.get();
}

// ---- public API ------------------------------------------------------------------------------

const NodeId& Node::id() const { return impl_->id; }
uint64_t Node::generation() const { return impl_->generation; }
std::string Node::listen_address() const { return impl_->advertised; }
std::string Node::admin_address() const { return impl_->admin_bound; }

std::shared_ptr<const RingSnapshot> Node::ring() const {
  auto v = impl_->current_view();
  return v ? v->ring : RingSnapshot::empty(impl_->config.replication);
}

std::vector<PreferenceEntry> Node::preference_list(std::string_view key) const {
  auto v = impl_->current_view();
  if (!v) return {};
  return v->router->preference_list(key);
}

PeerLiveness Node::liveness(const NodeId& nid) const {
  auto v = impl_->current_view();
  if (!v) return PeerLiveness::kUnknown;
  auto it = v->liveness.find(nid);
  return it == v->liveness.end() ? PeerLiveness::kUnknown : it->second;
}

uint64_t Node::on_ring_change(RingListener f) {
  std::lock_guard lock(impl_->subs_mu);
  const uint64_t s = impl_->next_sub++;
  impl_->ring_subs[s] = std::move(f);
  return s;
}

uint64_t Node::on_liveness_change(LivenessListener f) {
  std::lock_guard lock(impl_->subs_mu);
  const uint64_t s = impl_->next_sub++;
  impl_->liveness_subs[s] = std::move(f);
  return s;
}

void Node::unsubscribe(uint64_t s) {
  std::lock_guard lock(impl_->subs_mu);
  impl_->ring_subs.erase(s);
  impl_->liveness_subs.erase(s);
}

std::string Node::set_application_value(const std::string& name, std::string value) {
  Impl& m = *impl_;
  if (!m.running) return "the node is not running";
  return m.run_on_node(
      [&m, name, value = std::move(value)]() mutable -> std::string {
        if (m.halted) return "the node is stopping";
        std::string err = m.engine->set_application_value(name, std::move(value));
        if (err.empty()) m.after_event();
        return err;
      },
      std::string("the node did not answer within 5 s (stopping or stalled); the value may still be applied"));
}

void Node::set_load(std::string value) {
  Impl& m = *impl_;
  if (!m.running) return;
  m.env->post([&m, value = std::move(value)]() mutable {
    if (!m.halted) m.engine->set_load(std::move(value));
  });
}

std::optional<std::string> Node::application_value(const NodeId& node, const std::string& name) const {
  Impl& m = *impl_;
  if (!m.running) return std::nullopt;
  return m.run_on_node(
      [&m, node, name]() -> std::optional<std::string> {
        if (m.halted) return std::nullopt;
        const gossip::NodeState* st = m.engine->state().find(node);
        const gossip::VersionedValue* v = st ? st->get("x." + name) : nullptr;
        if (!v) return std::nullopt;
        return v->value;
      },
      std::nullopt);
}

std::string Node::move_tokens(std::vector<Token> tokens) {
  Impl& m = *impl_;
  if (!m.running) return "the node is not running";
  return m.run_on_node([&m, tokens = std::move(tokens)]() mutable { return m.move_tokens(std::move(tokens)); },
                       std::string("the node is stopping"));
}

std::string Node::Impl::move_tokens(std::vector<Token> tokens) {
  if (halted) return "the node is stopping";
  std::string err = engine->move_tokens(std::move(tokens), now());
  if (err.empty()) after_event();
  return err;
}

}  // namespace ringkeeper
