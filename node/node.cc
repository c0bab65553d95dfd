// The Node: opening a data dir, starting and stopping the node thread, and the public API, over
// the parts in node/node_impl.h.
#include "node/node_impl.h"
#include "node/metrics.h"

#include <filesystem>
#include <fstream>

#include <fmt/ranges.h>

#include "node/address.h"
#include "node/keyring_file.h"
#include "storage/rocks_store.h"

namespace ringkeeper {

namespace {

constexpr size_t kMaxNameBytes = 256;  // --dc, --rack

// The addresses a config names must parse before anything is opened.
Status check_addresses(const NodeConfig& config) {
  if (config.data_dir.empty()) return Status::invalid_argument("a data dir is required (--data-dir)");
  if (!parse_host_port(config.listen)) return Status::invalid_argument("--listen: not host:port: " + config.listen);
  if (!config.admin.empty() && !parse_host_port(config.admin)) {
    return Status::invalid_argument("--admin: not host:port: " + config.admin);
  }
  if (!config.advertise.empty()) {
    auto hp = parse_host_port(config.advertise);
    if (!hp || hp->port == 0) {
      return Status::invalid_argument("--advertise: not host:port with a port: " + config.advertise);
    }
  }
  for (const std::string& s : config.seeds) {
    if (!parse_host_port(s)) return Status::invalid_argument("--seeds: not host:port: " + s);
  }
  if (!config.replace.empty()) {
    auto id = NodeId::parse(config.replace);
    if (!id || id->is_nil()) return Status::invalid_argument("--replace: not a node id (a UUID): " + config.replace);
    if (config.seeds.empty()) return Status::invalid_argument("--replace needs --seeds: the cluster to learn the node from");
    if (!config.tokens.empty()) return Status::invalid_argument("--replace takes the dead node's tokens; drop --tokens");
  }
  return {};
}

// What the node will gossip of its own settings must fit the bounds every peer applies: a token
// list in one value (kMaxTokensPerNode), dc and rack as short names.
Status check_own_values(const NodeConfig& config) {
  if (config.num_tokens == 0 || config.num_tokens > kMaxTokensPerNode) {
    return Status::invalid_argument("--num-tokens: expected 1.." + std::to_string(kMaxTokensPerNode) + ", got " +
                                    std::to_string(config.num_tokens));
  }
  if (std::string why = gossip::token_count_refusal(config.tokens.size()); !why.empty()) {
    return Status::invalid_argument("--tokens: " + why);
  }
  for (const auto& [flag, value] : {std::pair{"--dc", &config.dc}, std::pair{"--rack", &config.rack}}) {
    if (value->size() > kMaxNameBytes) {
      return Status::invalid_argument(std::string(flag) + ": at most " + std::to_string(kMaxNameBytes) + " bytes");
    }
  }
  return {};
}

void log_migrations(Env& env, const std::string& data_dir, const std::vector<std::string>& steps) {
  for (const std::string& step : steps) env.log(LogLevel::kInfo, fmt::format("data dir {}: migrated {}", data_dir, step));
}

// The data dir exists and its store is in this build's format (migrated forward if older).
Status check_data_dir(const std::string& data_dir, storage::StateStore& store, Env& env) {
  std::error_code dir_error;
  std::filesystem::create_directories(data_dir, dir_error);
  if (dir_error) return Status::data_dir_refused("cannot create data dir " + data_dir + ": " + dir_error.message());
  storage::OpenError format = storage::check_format(store);
  if (format.reason != storage::OpenError::Reason::kNone) {
    return Status::data_dir_refused("data dir " + data_dir + ": " + format.message);
  }
  log_migrations(env, data_dir, format.migrated);
  return {};
}

// Node::open's work: the parts, with the identity and the persisted state read and the new
// generation synced; the view of the persisted ring published.
Result<std::unique_ptr<Node::Impl>> open_impl(NodeConfig config, std::unique_ptr<storage::StateStore> store,
                                              std::unique_ptr<Env> env) {
  if (!store || !env) return Status::invalid_argument("Node::open needs a store and an Env");
  if (Status bad = check_addresses(config); !bad.ok()) return bad;
  if (Status bad = check_own_values(config); !bad.ok()) return bad;
  if (Status refused = check_data_dir(config.data_dir, *store, *env); !refused.ok()) return refused;
  Result<gossip::Keyring> keyring = open_keyring(config);
  if (!keyring.ok()) return keyring.status();
  if (Status bad = check_admin_tls(config.admin_tls_cert, config.admin_tls_key); !bad.ok()) return bad;
  if (std::string warning = keyring_permission_warning(config.data_dir); !warning.empty()) {
    env->log(LogLevel::kWarn, warning);
  }
  auto impl = std::make_unique<Node::Impl>(std::move(config), std::move(env), std::move(store));
  impl->keyring = std::move(*keyring);
  impl->cluster_mac = std::make_unique<ClusterMac>(impl->keyring);
  impl->rng_seed = impl->env->random_seed();
  Result<DataDir> read = impl->persister.open(impl->config, *impl->env);
  if (!read.ok()) return read.status();
  DataDir& dir = *read;
  impl->identity.id = dir.id;
  impl->identity.generation = dir.generation;
  impl->identity.data_dir = impl->config.data_dir;
  impl->persisted_entries = std::move(dir.entries);
  impl->publisher = std::make_unique<ViewPublisher>(dir.id, impl->log);
  impl->ownership = std::make_unique<OwnershipTracker>(dir.id, impl->config.streams_data, impl->publisher->subscribers());
  impl->publisher->publish_persisted(impl->persisted_entries, impl->config.replication);
  return impl;
}

}  // namespace

// ---- open ----------------------------------------------------------------------------------
// Nothing throws out of open: the store's and the runtime's exceptions are caught at this
// boundary (those of the data dir's reads already as kDataDirRefused, below it).

Result<std::unique_ptr<Node>> Node::open(NodeConfig config) {
  if (config.data_dir.empty()) return Status::invalid_argument("a data dir is required (--data-dir)");
  const std::string data_dir = config.data_dir;
  try {
    auto env = make_real_env(config.log_sink);
    auto opened = storage::open_rocks_store(data_dir + "/state");
    if (!opened.store) return Status::data_dir_refused(opened.error.message);
    log_migrations(*env, data_dir, opened.error.migrated);
    return open(std::move(config), std::move(opened.store), std::move(env));
  } catch (const std::exception& e) {
    return Status::internal("cannot open a node on data dir " + data_dir + ": " + e.what());
  }
}

Result<std::unique_ptr<Node>> Node::open(NodeConfig config, std::unique_ptr<storage::StateStore> store) {
  try {
    auto env = make_real_env(config.log_sink);
    return open(std::move(config), std::move(store), std::move(env));
  } catch (const std::exception& e) {
    return Status::internal(std::string("cannot make the node's Env: ") + e.what());
  }
}

Result<std::unique_ptr<Node>> Node::open(NodeConfig config, std::unique_ptr<storage::StateStore> store,
                                         std::unique_ptr<Env> env) {
  const std::string data_dir = config.data_dir;
  try {
    Result<std::unique_ptr<Impl>> impl = open_impl(std::move(config), std::move(store), std::move(env));
    if (!impl.ok()) return impl.status();
    return std::unique_ptr<Node>(new Node(std::move(impl).value()));
  } catch (const std::exception& e) {
    return Status::internal("cannot open a node on data dir " + data_dir + ": " + e.what());
  }
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() { stop(); }

// ---- start / stop ----------------------------------------------------------------------------

Status Node::start() {
  try {
    return impl_->start();
  } catch (const std::exception& e) {
    return Status::internal(std::string("cannot start the node: ") + e.what());
  }
}

Status Node::Impl::start() {
  if (running || driver) return Status::refused("already started");
  driver = std::make_unique<Driver>(config, identity,
                                    Driver::Deps{*env, log, persister, *publisher, *ownership, stats, failure, *cluster_mac},
                                    std::move(keyring));
  routes = std::make_unique<AdminRoutes>(*driver, stats);
  // A port in use, an address that does not resolve: kIoError, the one line ringd prints.
  Result<std::string> listening = driver->listen();
  if (!listening.ok()) return listening.status();
  identity.listen_bound = std::move(listening).value();
  if (!config.admin.empty()) {
    admin = env->make_admin_listener(config.admin, [this](const AdminRequest& req) { return routes->handle(req); },
                                     AdminTls{config.admin_tls_cert, config.admin_tls_key});
    Result<std::string> admin_listening = admin->start();
    if (!admin_listening.ok()) return admin_listening.status();
    identity.admin_bound = std::move(admin_listening).value();
  }
  identity.advertised = config.advertise.empty() ? identity.listen_bound : config.advertise;
  if (auto hp = parse_host_port(identity.advertised); hp && (hp->host == "0.0.0.0" || hp->host == "::")) {
    return Status::invalid_argument(
        "listening on a wildcard address needs --advertise HOST:PORT (the address peers should use)");
  }
  driver->build_engine(std::move(persisted_entries), rng_seed);
  persisted_entries.clear();
  write_addresses_file();
  log.info("node {} generation {} gossip {} admin {} data {}", identity.id.to_string(), identity.generation.value(),
           identity.advertised, identity.admin_bound.empty() ? "-" : identity.admin_bound, identity.data_dir);
  const size_t known = driver->engine().state().size();
  if (known <= 1 && !config.seeds.empty()) {
    log.info("contacting seeds {}", fmt::join(config.seeds, ","));
  } else if (known > 1) {
    log.info("remembers {} peers; routing from the persisted ring", known - 1);
  }
  running = true;
  env->post([this] { driver->drive(); });
  env->start([this](std::string_view what) { driver->fail(Status::internal("node thread: " + std::string(what))); });
  return {};
}

void Node::stop() { impl_->stop(); }

void Node::Impl::stop() {
  if (!running.exchange(false)) return;
  env->post([this] { driver->shutdown([this] { finish_stop(); }); });
  env->join();
  log.info("node {} stopped", identity.id.to_string());
}

void Node::Impl::finish_stop() {
  if (admin) admin->close();
  env->stop();
}

bool Node::failed() const { return impl_->failure.failed(); }
Status Node::failure() const { return impl_->failure.why(); }

void Node::Impl::write_addresses_file() {
  std::string json = "{\"listen\": \"" + identity.advertised + "\", \"admin\": \"" + identity.admin_bound + "\"";
  for (const auto& [k, v] : config.extra_addresses) json += ", \"" + k + "\": \"" + v + "\"";
  json += "}\n";
  const std::string path = identity.data_dir + "/addresses.json";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << json;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) log.warn("cannot write {}: {}", path, ec.message());
}

// ---- public API ------------------------------------------------------------------------------

const NodeId& Node::id() const { return impl_->identity.id; }
uint64_t Node::generation() const { return impl_->identity.generation.value(); }
std::string Node::listen_address() const { return impl_->identity.advertised; }
std::string Node::admin_address() const { return impl_->identity.admin_bound; }

std::shared_ptr<const RingSnapshot> Node::ring() const {
  auto v = impl_->publisher->current();
  return v ? v->ring : RingSnapshot::empty(impl_->config.replication);
}

std::vector<PreferenceEntry> Node::preference_list(std::string_view key) const {
  auto v = impl_->publisher->current();
  if (!v) return {};
  std::vector<PreferenceEntry> out = v->router->preference_list(key);
  for (PreferenceEntry& e : out) {
    auto it = v->addresses.find(e.node);
    if (it != v->addresses.end()) e.address = it->second;
  }
  return out;
}

std::vector<Member> Node::members() const {
  auto v = impl_->publisher->current();
  return v ? v->members : std::vector<Member>{};
}

std::optional<std::string> Node::address_of(const NodeId& nid) const {
  auto v = impl_->publisher->current();
  if (!v) return std::nullopt;
  auto it = v->addresses.find(nid);
  if (it == v->addresses.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

bool Node::converged() const {
  auto v = impl_->publisher->current();
  return v && v->converged;
}

std::string Node::metrics_text() const {
  Impl& m = *impl_;
  if (!m.running) return "";
  return m.run_on_node([&m] { return ringkeeper::metrics_text(*m.driver, m.stats); }, std::string());
}

std::optional<std::string> Node::cluster_mac(std::string_view message) const {
  return impl_->cluster_mac->sign(message);
}
bool Node::verify_cluster_mac(std::string_view message, std::string_view mac) const {
  return impl_->cluster_mac->verify(message, mac);
}
bool Node::has_cluster_key() const { return impl_->cluster_mac->has_primary(); }

Status Node::remove_node(const NodeId& nid, bool force) {
  Impl& m = *impl_;
  if (!m.running) return Status::not_running("the node is not running");
  return m.run_on_node([&m, nid, force] { return m.driver->remove_node(nid, force); },
                       Status::not_running("the node is stopping"));
}

PeerLiveness Node::liveness(const NodeId& nid) const {
  auto v = impl_->publisher->current();
  if (!v) return PeerLiveness::kUnknown;
  auto it = v->liveness.find(nid);
  return it == v->liveness.end() ? PeerLiveness::kUnknown : it->second;
}

Subscription Node::on_ring_change(RingListener f) { return impl_->publisher->subscribers().on_ring_change(std::move(f)); }
Subscription Node::on_liveness_change(LivenessListener f) {
  return impl_->publisher->subscribers().on_liveness_change(std::move(f));
}
Subscription Node::on_ownership(OwnershipListener f) {
  return impl_->publisher->subscribers().on_ownership(std::move(f));
}

Status Node::acknowledge_ranges(const NodeId& change) {
  Impl& m = *impl_;
  if (!m.running) return Status::not_running("the node is not running");
  if (m.env->on_node_thread() && m.publisher->subscribers().delivering_ownership()) {
    // From inside a callback (an embedder that holds the data already): applied once the event
    // being delivered is through, not in the middle of it.
    m.env->post([&m, change] {
      if (Status s = m.driver->acknowledge_data(change); !s.ok()) m.log.warn("acknowledge_ranges: {}", s.message());
    });
    return Status();
  }
  return m.run_on_node([&m, change] { return m.driver->acknowledge_data(change); },
                       Status::not_running("the node is stopping"));
}

Status Node::set_application_value(const std::string& name, std::string value) {
  Impl& m = *impl_;
  if (!m.running) return Status::not_running("the node is not running");
  return m.run_on_node(
      [&m, name, value = std::move(value)]() mutable { return m.driver->set_application_value(name, std::move(value)); },
      Status::not_running("the node did not answer within 5 s (stopping or stalled); the value may still be applied"));
}

void Node::set_load(std::string value) {
  Impl& m = *impl_;
  if (!m.running) return;
  m.env->post([&m, value = std::move(value)]() mutable { m.driver->set_load(std::move(value)); });
}

std::optional<std::string> Node::application_value(const NodeId& node, const std::string& name) const {
  Impl& m = *impl_;
  if (!m.running) return std::nullopt;
  return m.run_on_node([&m, node, name] { return m.driver->application_value(node, name); }, std::nullopt);
}

Status Node::move_tokens(std::vector<Token> tokens) {
  Impl& m = *impl_;
  if (!m.running) return Status::not_running("the node is not running");
  return m.run_on_node(
      [&m, tokens = std::move(tokens)]() mutable { return m.driver->move_tokens(std::move(tokens)); },
      Status::not_running("the node is stopping"));
}

// The id of the change a writer just started on this node (node thread).
Result<NodeId> started_change(Node::Impl& m, Status started) {
  if (!started.ok()) return started;
  auto change = m.driver->engine().own_change();
  if (!change) return Status::internal("a change was started but this node gossips no change record");
  return change->id;
}

Result<NodeId> Node::decommission() {
  Impl& m = *impl_;
  if (!m.running) return Status::not_running("the node is not running");
  return m.run_on_node([&m]() -> Result<NodeId> { return started_change(m, m.driver->decommission()); },
                       Result<NodeId>(Status::not_running("the node is stopping")));
}

Result<NodeId> Node::rebalance() {
  Impl& m = *impl_;
  if (!m.running) return Status::not_running("the node is not running");
  return m.run_on_node(
      [&m]() -> Result<NodeId> {
        std::vector<Token> next = m.driver->engine().rebalance_tokens();
        if (next.empty()) return Status::refused("already balanced: no token choice improves the balance");
        return started_change(m, m.driver->move_tokens(std::move(next), gossip::ChangeKind::kRebalance));
      },
      Result<NodeId>(Status::not_running("the node is stopping")));
}

Status Node::abort_change(const NodeId& change) {
  Impl& m = *impl_;
  if (!m.running) return Status::not_running("the node is not running");
  return m.run_on_node([&m, change] { return m.driver->abort_change(change); },
                       Status::not_running("the node is stopping"));
}

}  // namespace ringkeeper
