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

Node::OpenResult refused(int exit_code, std::string message) {
  Node::OpenResult r;
  r.exit_code = exit_code;
  r.message = std::move(message);
  return r;
}

// The addresses a config names must parse before anything is opened (exit 2 otherwise).
std::optional<Refusal> check_addresses(const NodeConfig& config) {
  if (config.data_dir.empty()) return Refusal{2, "a data dir is required (--data-dir)"};
  if (!gossip::parse_host_port(config.listen)) return Refusal{2, "--listen: not host:port: " + config.listen};
  if (!config.admin.empty() && !gossip::parse_host_port(config.admin)) {
    return Refusal{2, "--admin: not host:port: " + config.admin};
  }
  if (!config.advertise.empty()) {
    auto hp = gossip::parse_host_port(config.advertise);
    if (!hp || hp->port == 0) return Refusal{2, "--advertise: not host:port with a port: " + config.advertise};
  }
  for (const std::string& s : config.seeds) {
    if (!gossip::parse_host_port(s)) return Refusal{2, "--seeds: not host:port: " + s};
  }
  return std::nullopt;
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

Node::OpenResult Node::open(NodeConfig config, std::unique_ptr<storage::StateStore> store,
                            std::unique_ptr<Env> env) {
  if (auto bad = check_addresses(config)) return refused(bad->exit_code, bad->message);
  std::error_code dir_error;
  std::filesystem::create_directories(config.data_dir, dir_error);
  if (dir_error) return refused(3, "cannot create data dir " + config.data_dir + ": " + dir_error.message());
  storage::OpenError format = storage::check_format(*store);
  if (format.reason != storage::OpenError::Reason::kNone) {
    return refused(3, "data dir " + config.data_dir + ": " + format.message);
  }
  for (const std::string& step : format.migrated) {
    env->log(LogLevel::kInfo, fmt::format("data dir {}: migrated {}", config.data_dir, step));
  }
  auto keyring = open_keyring(config);
  if (auto* refusal = std::get_if<Refusal>(&keyring)) return refused(refusal->exit_code, refusal->message);
  if (auto bad = check_admin_tls(config.admin_tls_cert, config.admin_tls_key); !bad.empty()) return refused(2, bad);
  auto impl = std::make_unique<Impl>(std::move(config), std::move(env), std::move(store));
  impl->keyring = std::move(std::get<gossip::Keyring>(keyring));
  impl->rng_seed = impl->env->random_seed();
  auto read = impl->persister.open(impl->config, *impl->env);
  if (auto* refusal = std::get_if<Refusal>(&read)) return refused(refusal->exit_code, refusal->message);
  DataDir& dir = std::get<DataDir>(read);
  impl->identity.id = dir.id;
  impl->identity.generation = dir.generation;
  impl->identity.data_dir = impl->config.data_dir;
  impl->persisted_entries = std::move(dir.entries);
  impl->publisher = std::make_unique<ViewPublisher>(dir.id, impl->log);
  impl->ownership = std::make_unique<OwnershipTracker>(dir.id, impl->config.streams_data);
  impl->publisher->publish_persisted(impl->persisted_entries, impl->config.replication);
  Node::OpenResult r;
  r.node = std::unique_ptr<Node>(new Node(std::move(impl)));
  return r;
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() { stop(); }

// ---- start / stop ----------------------------------------------------------------------------

std::string Node::start() { return impl_->start(); }

std::string Node::Impl::start() {
  if (running || driver) return "already started";
  driver = std::make_unique<Driver>(config, identity,
                                    Driver::Deps{*env, log, persister, *publisher, *ownership, stats, failure},
                                    std::move(keyring));
  routes = std::make_unique<AdminRoutes>(*driver, stats);
  try {
    identity.listen_bound = driver->listen();
    if (!config.admin.empty()) {
      admin = env->make_admin_listener(config.admin, [this](const AdminRequest& req) { return routes->handle(req); },
                                       AdminTls{config.admin_tls_cert, config.admin_tls_key});
      identity.admin_bound = admin->start();
    }
  } catch (const std::exception& e) {
    return e.what();
  }
  identity.advertised = config.advertise.empty() ? identity.listen_bound : config.advertise;
  if (auto hp = gossip::parse_host_port(identity.advertised); hp && (hp->host == "0.0.0.0" || hp->host == "::")) {
    return "listening on a wildcard address needs --advertise HOST:PORT (the address peers should use)";
  }
  driver->build_engine(std::move(persisted_entries), rng_seed);
  persisted_entries.clear();
  write_addresses_file();
  log.info("node {} generation {} gossip {} admin {} data {}", identity.id.to_string(), identity.generation,
           identity.advertised, identity.admin_bound.empty() ? "-" : identity.admin_bound, identity.data_dir);
  const size_t known = driver->engine().state().size();
  if (known <= 1 && !config.seeds.empty()) {
    log.info("contacting seeds {}", fmt::join(config.seeds, ","));
  } else if (known > 1) {
    log.info("remembers {} peers; routing from the persisted ring", known - 1);
  }
  running = true;
  env->post([this] { driver->drive(); });
  env->start([this](std::string_view what) { driver->fail("node thread: " + std::string(what)); });
  return "";
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
std::string Node::failure() const { return impl_->failure.why(); }

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
uint64_t Node::generation() const { return impl_->identity.generation; }
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

std::string Node::remove_node(const NodeId& nid) {
  Impl& m = *impl_;
  if (!m.running) return "the node is not running";
  return m.run_on_node([&m, nid] { return m.driver->remove_node(nid, false); }, std::string("the node is stopping"));
}

PeerLiveness Node::liveness(const NodeId& nid) const {
  auto v = impl_->publisher->current();
  if (!v) return PeerLiveness::kUnknown;
  auto it = v->liveness.find(nid);
  return it == v->liveness.end() ? PeerLiveness::kUnknown : it->second;
}

uint64_t Node::on_ring_change(RingListener f) { return impl_->publisher->on_ring_change(std::move(f)); }
uint64_t Node::on_liveness_change(LivenessListener f) { return impl_->publisher->on_liveness_change(std::move(f)); }
uint64_t Node::on_ownership(OwnershipListener f) { return impl_->ownership->subscribe(std::move(f)); }
void Node::unsubscribe(uint64_t s) {
  if (!impl_->ownership->unsubscribe(s)) impl_->publisher->unsubscribe(s);
}

std::string Node::acknowledge_ranges(const NodeId& change) {
  Impl& m = *impl_;
  if (!m.driver) return "the node is not started";
  return m.run_on_node([&m, change] { return m.driver->acknowledge_data(change); }, std::string("the node is stopping"));
}

std::string Node::set_application_value(const std::string& name, std::string value) {
  Impl& m = *impl_;
  if (!m.running) return "the node is not running";
  return m.run_on_node(
      [&m, name, value = std::move(value)]() mutable { return m.driver->set_application_value(name, std::move(value)); },
      std::string("the node did not answer within 5 s (stopping or stalled); the value may still be applied"));
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

std::string Node::move_tokens(std::vector<Token> tokens) {
  Impl& m = *impl_;
  if (!m.running) return "the node is not running";
  return m.run_on_node([&m, tokens = std::move(tokens)]() mutable { return m.driver->move_tokens(std::move(tokens)); },
                       std::string("the node is stopping"));
}

}  // namespace ringkeeper
