#include "gossip/engine.h"

#include <algorithm>

#include "ring/types.h"

namespace ringkeeper::gossip {

namespace {
uint64_t mix(uint64_t x) {
  x ^= x >> 31;
  x *= 0x7fb5d329728ea185ULL;
  x ^= x >> 27;
  x *= 0x81dadef4bc2dd44dULL;
  x ^= x >> 33;
  return x;
}
constexpr std::string_view kRingKeys[] = {keys::kStatus, keys::kTokens, keys::kDc, keys::kRack,
                                          keys::kStamp};

std::vector<Token> parse_tokens(std::string_view text) {
  std::vector<Token> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    if (auto t = Token::parse(text.substr(pos, comma - pos))) out.push_back(*t);
    pos = comma + 1;
  }
  return out;
}
}  // namespace

GossipEngine::GossipEngine(EngineConfig config, Rng& rng, RingCache& ring_cache)
    : config_(std::move(config)), rng_(rng), ring_cache_(ring_cache) {
  NodeState self;
  self.generation = config_.generation;
  state_.merge(config_.id, self);
  set_local(keys::kAddress, config_.address);
}

uint64_t GossipEngine::ring_hash(const NodeId& id, const NodeState* st) {
  if (!st) return 0;
  uint64_t h = mix(id.hi() ^ mix(id.lo() ^ mix(st->generation)));
  for (std::string_view key : kRingKeys) {
    const VersionedValue* v = st->get(key);
    h = mix(h ^ (v ? v->version + 1 : 0));
  }
  return h;
}

void GossipEngine::merge(const NodeDelta& delta) {
  const uint64_t before = ring_hash(delta.id, state_.find(delta.id));
  if (!state_.merge(delta.id, delta.state)) return;
  ++stats_.deltas_applied;
  ring_input_ ^= before ^ ring_hash(delta.id, state_.find(delta.id));
}

void GossipEngine::set_local(std::string_view key, std::string value) {
  // Versions only grow within a generation, even over an entry installed from elsewhere.
  if (const NodeState* own = state_.find(config_.id); own && own->generation == config_.generation) {
    local_version_ = std::max(local_version_, own->max_version);
  }
  NodeState delta;
  delta.generation = config_.generation;
  delta.values.push_back({std::string(key), {std::move(value), ++local_version_}});
  merge({config_.id, std::move(delta)});
}

void GossipEngine::install(const NodeId& id, NodeStatePtr st) {
  const uint64_t before = ring_hash(id, state_.find(id));
  state_.put_shared(id, std::move(st));
  ring_input_ ^= before ^ ring_hash(id, state_.find(id));
}

Message GossipEngine::make(Body body) const {
  Message m;
  m.from = config_.id;
  m.cluster_id = config_.cluster_id;
  m.replication = config_.replication.canonical();
  m.from_address = config_.address;
  m.body = std::move(body);
  return m;
}

std::string GossipEngine::address_of(const NodeId& id) const {
  const NodeState* st = state_.find(id);
  const VersionedValue* v = st ? st->get(keys::kAddress) : nullptr;
  return v ? v->value : std::string();
}

std::vector<std::string> GossipEngine::pick_peers() {
  // Candidates: every other known node with an address, not removed.
  std::vector<std::string> out;
  const size_t n = state_.size();
  if (n > 1) {
    // Sample without replacement by rejection: cheap when fanout << n.
    std::vector<size_t> chosen;
    size_t attempts = 0;
    const size_t want = std::min<size_t>(config_.fanout, n - 1);
    while (out.size() < want && attempts++ < want * 8) {
      const size_t idx = rng_.below(n);
      if (std::find(chosen.begin(), chosen.end(), idx) != chosen.end()) continue;
      chosen.push_back(idx);
      const NodeId& pick = state_.id_at(idx);
      if (pick == config_.id || state_.state_at(idx).is_tombstone()) continue;
      std::string addr = address_of(pick);
      if (!addr.empty()) out.push_back(std::move(addr));
    }
  }
  // Seeds: always while we know nobody; otherwise now and then, so partitions heal.
  if (!config_.seeds.empty() && (out.empty() || rng_.below(10) == 0)) {
    const std::string& seed = config_.seeds[rng_.below(config_.seeds.size())];
    if (seed != config_.address && std::find(out.begin(), out.end(), seed) == out.end()) {
      out.push_back(seed);
    }
  }
  return out;
}

std::vector<Envelope> GossipEngine::tick(Millis) {
  ++stats_.rounds;
  std::vector<Envelope> out;
  const uint64_t summary = state_.summary();
  for (std::string& peer : pick_peers()) {
    ++stats_.exchanges_started;
    out.push_back({std::move(peer), make(Syn{summary})});
  }
  return out;
}

bool GossipEngine::accept(const Message& msg) {
  if (msg.replication != config_.replication.canonical()) {
    ++stats_.rejected_replication;
    return false;
  }
  if (!msg.cluster_id.is_nil()) {
    if (config_.cluster_id.is_nil()) {
      config_.cluster_id = msg.cluster_id;
    } else if (config_.cluster_id != msg.cluster_id) {
      ++stats_.rejected_cluster;
      return false;
    }
  }
  return true;
}

std::vector<NodeDelta> GossipEngine::deltas_for(const std::vector<Digest>& wanted) {
  std::vector<NodeDelta> out;
  size_t bytes = 0;
  for (const Digest& w : wanted) {
    auto d = state_.delta_since(w.id, w.generation, w.max_version);
    if (!d || d->values.empty()) continue;
    for (const auto& [k, v] : d->values) bytes += k.size() + v.value.size() + 16;
    out.push_back({w.id, std::move(*d)});
    if (bytes > config_.max_delta_bytes) break;  // the rest in a later round
  }
  return out;
}

std::vector<Envelope> GossipEngine::on_message(Millis, const Message& msg) {
  std::vector<Envelope> out;
  if (!accept(msg)) return out;
  const std::string& reply_to = msg.from_address;
  if (auto* syn = std::get_if<Syn>(&msg.body)) {
    if (syn->summary == state_.summary()) {
      ++stats_.summaries_equal;
      return out;
    }
    SynReply r;
    r.buckets.assign(state_.buckets().begin(), state_.buckets().end());
    out.push_back({reply_to, make(std::move(r))});
  } else if (auto* rep = std::get_if<SynReply>(&msg.body)) {
    Digests d;
    for (uint32_t b = 0; b < ClusterState::kBuckets; ++b) {
      if (b >= rep->buckets.size() || rep->buckets[b] != state_.buckets()[b]) d.buckets.push_back(b);
    }
    if (d.buckets.empty()) return out;
    d.digests = state_.digests_in(d.buckets);
    out.push_back({reply_to, make(std::move(d))});
  } else if (auto* dg = std::get_if<Digests>(&msg.body)) {
    Ack ack;
    std::vector<Digest> send;
    // Theirs vs mine, both sorted by id.
    std::vector<Digest> mine = state_.digests_in(dg->buckets);
    size_t i = 0, j = 0;
    while (i < dg->digests.size() || j < mine.size()) {
      if (j == mine.size() || (i < dg->digests.size() && dg->digests[i].id < mine[j].id)) {
        const Digest& t = dg->digests[i++];
        ack.requests.push_back({t.id, 0, 0});  // unknown to me: ask for everything
      } else if (i == dg->digests.size() || mine[j].id < dg->digests[i].id) {
        send.push_back({mine[j++].id, 0, 0});  // unknown to them
      } else {
        const Digest& t = dg->digests[i++];
        const Digest& m = mine[j++];
        if (t.generation > m.generation || (t.generation == m.generation && t.max_version > m.max_version)) {
          ack.requests.push_back(m);
        } else if (m.generation > t.generation || m.max_version > t.max_version) {
          send.push_back(t);
        }
      }
    }
    ack.deltas = deltas_for(send);
    if (!ack.deltas.empty() || !ack.requests.empty()) out.push_back({reply_to, make(std::move(ack))});
  } else if (auto* ack = std::get_if<Ack>(&msg.body)) {
    for (const NodeDelta& d : ack->deltas) merge(d);
    if (!ack->requests.empty()) {
      Ack2 a2{deltas_for(ack->requests)};
      if (!a2.deltas.empty()) out.push_back({reply_to, make(std::move(a2))});
    }
  } else if (auto* a2 = std::get_if<Ack2>(&msg.body)) {
    for (const NodeDelta& d : a2->deltas) merge(d);
  }
  return out;
}

std::shared_ptr<const RingSnapshot> GossipEngine::ring() {
  if (ring_ && ring_built_for_ == ring_input_) return ring_;
  ring_built_for_ = ring_input_;
  ring_ = ring_cache_.get(ring_input_ ^ mix(std::hash<std::string>{}(config_.replication.canonical())), [&] {
    std::vector<NodeDescription> nodes;
    state_.for_each([&](const NodeId& id, const NodeState& st) {
      const VersionedValue* status = st.get(keys::kStatus);
      if (!status) return;
      auto parsed = parse_node_status(status->value);
      if (!parsed) return;
      NodeDescription d;
      d.id = id;
      d.status = st.is_tombstone() ? NodeStatus::kRemoved : *parsed;
      if (auto* t = st.get(keys::kTokens)) d.tokens = parse_tokens(t->value);
      if (auto* v = st.get(keys::kDc)) d.dc = v->value;
      if (auto* v = st.get(keys::kRack)) d.rack = v->value;
      if (auto* v = st.get(keys::kStamp)) d.stamp = HlcStamp{std::strtoull(v->value.c_str(), nullptr, 10)};
      nodes.push_back(std::move(d));
    });
    return RingSnapshot::build(std::move(nodes), config_.replication).snapshot;
  });
  return ring_;
}

}  // namespace ringkeeper::gossip
