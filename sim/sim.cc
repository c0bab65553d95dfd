#include "sim/sim.h"

namespace ringkeeper::sim {

std::vector<Token> gossiped_tokens(const gossip::GossipEngine& viewer, const NodeId& id) {
  const gossip::NodeState* st = viewer.state().find(id);
  const gossip::VersionedValue* v = st ? st->get(gossip::keys::kTokens) : nullptr;
  return v ? gossip::parse_token_list(v->value).value_or(std::vector<Token>{}) : std::vector<Token>{};
}



std::shared_ptr<const RingSnapshot> SharedRingCache::get(uint64_t key, const Build& build) {
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  auto snap = build();
  cache_.emplace(key, snap);
  return snap;
}

SimCluster::SimCluster(SimOptions options) : options_(std::move(options)), net_rng_(options_.seed) {
  cluster_id_ = gossip::ClusterId(NodeId::from_random_bits(net_rng_(), net_rng_()));
}

gossip::EngineConfig SimCluster::config_for(size_t i, uint32_t wipes) const {
  gossip::EngineConfig c;
  // Each wiped data dir at an address gives a new id (the first life keeps the historic one).
  std::mt19937_64 id_rng(options_.seed * 1000003 + i + wipes * 0x9E3779B97F4A7C15ULL);
  c.id = NodeId::from_random_bits(id_rng(), id_rng());
  c.address = address_of(i);
  c.replication = options_.replication;
  c.cluster_id = cluster_id_;
  c.fanout = options_.fanout;
  c.gossip_interval = options_.gossip_interval;
  c.liveness = options_.liveness;
  c.left_expiry = options_.left_expiry;
  return c;
}

void SimCluster::schedule_tick(size_t i, Millis at) {
  Node& node = nodes_[i];
  node.tick_at = at;
  events_.push({at, seq_++, i, true, {}, ++node.tick_token});
}

void SimCluster::reschedule(size_t i) {
  Node& node = nodes_[i];
  // Before its first tick a node's timers have not started: a message that arrives earlier must
  // not pull that tick forward, or every node's phase collapses onto the first message wave and
  // all gossip at the same instant (which hid the chaining a real cluster gets within a round).
  if (!node.started) return;
  const Millis due = std::max(now_, node.engine->next_deadline());
  if (due < node.tick_at || node.tick_at < now_) schedule_tick(i, due);
}

void SimCluster::set_wire_version(size_t i, uint32_t version) {
  // Takes effect at the next start of the process (restart), or now for one not yet started.
  nodes_[i].wire_version = version;
  nodes_[i].peer_versions = gossip::PeerVersions(version);
  if (!nodes_[i].started) nodes_[i].engine->set_local(gossip::keys::kWire, std::to_string(version));
}

SimCluster::DataDir SimCluster::backup(size_t i) const {
  DataDir dir;
  const gossip::ClusterState& st = nodes_[i].engine->state();
  st.for_each([&](const NodeId& id, const gossip::NodeState&) { dir.entries.push_back({id, st.find_shared(id)}); });
  return dir;
}

void SimCluster::restore(size_t i, const DataDir& dir, std::optional<gossip::Generation> generation) {
  Node& node = nodes_[i];
  gossip::EngineConfig c = node.engine->config();
  c.wire_version = node.wire_version;
  node.generation = generation ? *generation : node.generation.next();
  c.generation = node.generation;
  const gossip::NodeStatePtr* own = nullptr;
  for (const auto& [id, st] : dir.entries) {
    if (id == c.id) own = &st;
  }
  c.data_dir_generation = own ? (*own)->generation : gossip::Generation{};
  c.data_dir_version = own ? (*own)->max_version : gossip::Version{};
  auto engine = std::make_unique<gossip::GossipEngine>(c, *node.rng, ring_cache_);
  // The persisted cluster state comes back; our own entry is re-authored under the new generation.
  for (const auto& [id, st] : dir.entries) {
    if (id != c.id) engine->install(id, st);
  }
  const gossip::VersionedValue* own_status = own ? (*own)->get(gossip::keys::kStatus) : nullptr;
  if (own && ((*own)->is_tombstone() || (own_status && own_status->value == to_string(NodeStatus::kLeft)))) {
    // Removed by an operator, or decommissioned: the runtime refuses to start on this data dir (exit 3).
    engine->install(c.id, *own);
    node.engine = std::move(engine);
    node.crashed = true;
    return;
  }
  if (own) {
    for (const auto& [key, v] : (*own)->values) {
      if (key != gossip::keys::kAddress && key != gossip::keys::kWire) engine->set_local(key, v.value);
    }
  }
  node.engine = std::move(engine);
  node.started = false;
  node.crashed = false;
  node.stalled_until = 0;
  node.backlog.clear();
  node.peer_versions = gossip::PeerVersions(node.wire_version);  // a new process learns them again
  schedule_tick(i, now_);
}

void SimCluster::add_preconverged(size_t n, uint32_t tokens_per_node) {
  const size_t first = nodes_.size();
  std::vector<std::pair<NodeId, std::shared_ptr<gossip::NodeState>>> entries;
  std::vector<NodeDescription> ring_nodes;
  for (size_t i = first; i < first + n; ++i) {
    gossip::EngineConfig c = config_for(i);
    NodeDescription d;
    d.id = c.id;
    std::string tokens;
    for (uint32_t k = 0; k < tokens_per_node; ++k) {
      d.tokens.push_back(Token(net_rng_()));
      tokens += (k ? "," : "") + d.tokens.back().to_string();
    }
    auto st = std::make_shared<gossip::NodeState>();
    st->generation = gossip::Generation{1};
    using gossip::Version;
    st->values = {{std::string(gossip::keys::kAddress), {c.address, Version{1}}},
                  {std::string(gossip::keys::kDc), {d.dc, Version{2}}},
                  {std::string(gossip::keys::kRack), {d.rack, Version{3}}},
                  {std::string(gossip::keys::kStatus), {"NORMAL", Version{4}}},
                  {std::string(gossip::keys::kTokens), {tokens, Version{5}}},
                  {std::string(gossip::keys::kWire), {std::to_string(gossip::kWireVersion), Version{6}}}};
    st->max_version = Version{6};
    entries.push_back({c.id, std::move(st)});
    ring_nodes.push_back(std::move(d));
  }
  // Every node already gossips the digest of the ring they all route with (as a converged
  // cluster would), so the start is quiet rather than a storm of first ring_digest updates.
  auto snapshot = RingSnapshot::build(ring_nodes, options_.replication).snapshot;
  const std::string digest = snapshot->digest_hex();
  const std::string placement = digest_to_hex(snapshot->placement_digest());
  std::vector<std::pair<NodeId, gossip::NodeStatePtr>> shared;
  for (auto& [id, st] : entries) {
    st->max_version = st->max_version.next();
    st->values.push_back({std::string(gossip::keys::kRingDigest), {digest, st->max_version}});
    st->max_version = st->max_version.next();
    st->values.push_back({std::string(gossip::keys::kPlacement), {placement, st->max_version}});
    std::sort(st->values.begin(), st->values.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    shared.push_back({id, std::move(st)});
  }
  // In id order, each install appends to the (id-sorted) state instead of shifting it.
  std::sort(shared.begin(), shared.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = first; i < first + n; ++i) {
    gossip::EngineConfig c = config_for(i);
    c.generation = gossip::Generation{1};
    Node node;
    node.rng = std::make_unique<gossip::SplitMixRng>(options_.seed ^ (0x51ED5EEDULL * (i + 1)));
    node.engine = std::make_unique<gossip::GossipEngine>(c, *node.rng, ring_cache_);
    for (const auto& [id, st] : shared) node.engine->install(id, st);
    nodes_.push_back(std::move(node));
    schedule_tick(i, now_ + static_cast<Millis>(net_rng_() % options_.gossip_interval));
  }
}

SimCluster::Node SimCluster::fresh_node(size_t i, uint32_t wipes, gossip::Generation generation,
                                        const std::vector<size_t>& seeds, gossip::JoinSettings join) {
  gossip::EngineConfig c = config_for(i, wipes);
  c.cluster_id = gossip::ClusterId();  // learned from a peer, or made by the founder
  c.generation = generation;
  c.join = std::move(join);
  for (size_t s : seeds) c.seeds.push_back(address_of(s == kSelf ? i : s));
  Node node;
  node.rng = std::make_unique<gossip::SplitMixRng>(options_.seed ^ (0x51ED5EEDULL * (i + 1)) ^
                                                   (wipes * 0xD1B54A32D192ED03ULL));
  node.engine = std::make_unique<gossip::GossipEngine>(c, *node.rng, ring_cache_);
  node.generation = generation;
  node.wipes = wipes;
  return node;
}

size_t SimCluster::add_node(const std::vector<size_t>& seeds, gossip::JoinSettings join) {
  const size_t i = nodes_.size();
  nodes_.push_back(fresh_node(i, 0, gossip::Generation{1}, seeds, std::move(join)));
  schedule_tick(i, now_ + static_cast<Millis>(net_rng_() % options_.gossip_interval));
  return i;
}

void SimCluster::wipe(size_t i, const std::vector<size_t>& seeds, gossip::JoinSettings join) {
  // A wiped data dir has no persisted generation: the generation is the clock's, in seconds.
  const gossip::Generation generation{std::max<uint64_t>(1, static_cast<uint64_t>(now_ / 1000))};
  // The tick token carries on, so a tick scheduled for the earlier life is superseded.
  const uint64_t tick_token = nodes_[i].tick_token;
  nodes_[i] = fresh_node(i, nodes_[i].wipes + 1, generation, seeds, std::move(join));
  nodes_[i].tick_token = tick_token;
  schedule_tick(i, now_ + static_cast<Millis>(net_rng_() % options_.gossip_interval));
}

size_t SimCluster::index_of(const NodeId& id) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].engine->id() == id) return i;
  }
  return nodes_.size();
}

void SimCluster::cut_between(const std::vector<size_t>& a, const std::vector<size_t>& b) {
  for (size_t x : a) {
    for (size_t y : b) {
      if (x == y) continue;
      cut_.insert({x, y});
      cut_.insert({y, x});
    }
  }
}

void SimCluster::partition(const std::vector<std::vector<size_t>>& groups) {
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t h = g + 1; h < groups.size(); ++h) cut_between(groups[g], groups[h]);
  }
}

void SimCluster::send(size_t from, std::vector<gossip::Envelope> out) {
  for (auto& env : out) {
    if (tap_) tap_(from, env.message);
    const Node& sender = nodes_[from];
    gossip::CodecOptions codec = options_.codec;
    codec.newest_version = sender.wire_version;
    const uint32_t version = sender.peer_versions.version_for(env.to, sender.engine->wire_version_at(env.to));
    std::string frame = gossip::encode(env.message, codec, version);
    ++frames_by_version_[version];
    bytes_sent_ += frame.size();
    ++messages_sent_;
    // Addresses are "sim:<index>".
    if (env.to.rfind("sim:", 0) != 0) continue;
    const size_t to = std::stoul(env.to.substr(4));
    if (to >= nodes_.size() || cut_.count({from, to})) continue;
    if (options_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(net_rng_) < options_.loss) continue;
    const Millis latency = options_.min_latency +
        static_cast<Millis>(net_rng_() % (options_.max_latency - options_.min_latency + 1));
    events_.push({now_ + latency, seq_++, to, false, std::move(frame)});
  }
}

void SimCluster::deliver(size_t to, const std::string& frame) {
  Node& node = nodes_[to];
  gossip::CodecOptions codec = options_.codec;
  codec.newest_version = node.wire_version;
  gossip::DecodeResult r = gossip::decode(frame, codec);
  if (r.error != gossip::DecodeError::kNone) {
    ++frames_refused_;
    return;
  }
  node.peer_versions.heard(r.message->from_address, r.sender_newest);
  send(to, node.engine->on_message(now_, *r.message));
}

void SimCluster::run_until(Millis t) {
  while (!events_.empty() && events_.top().at <= t) {
    Event ev = events_.top();
    events_.pop();
    now_ = ev.at;
    Node& node = nodes_[ev.node];
    if (ev.is_tick && ev.token != node.tick_token) continue;  // superseded
    if (node.crashed) continue;
    if (now_ < node.stalled_until) {
      // A stalled process neither ticks nor reads; what arrives waits in its socket buffer.
      if (ev.is_tick) {
        schedule_tick(ev.node, node.stalled_until);
      } else {
        node.backlog.push_back(std::move(ev.frame));
      }
      continue;
    }
    if (!node.backlog.empty()) {
      auto backlog = std::move(node.backlog);
      node.backlog.clear();
      for (const auto& f : backlog) deliver(ev.node, f);
    }
    if (ev.is_tick) {
      node.tick_at = -1;
      node.started = true;
      send(ev.node, node.engine->tick(now_));
    } else {
      deliver(ev.node, ev.frame);
    }
    // A node that learned it was removed stops, as the runtime does (ringd exits 1).
    if (node.engine->removed()) {
      node.crashed = true;
      continue;
    }
    reschedule(ev.node);
  }
  now_ = t;
}

}  // namespace ringkeeper::sim
