#include "sim/persisted_ring.h"

#include <chrono>

#include "gossip/interfaces.h"
#include "node/state_records.h"
#include "ringkeeper/ring/ring_snapshot.h"
#include "storage/rocks_store.h"

namespace ringkeeper::sim {

PersistedRing write_persisted_ring(const std::string& data_dir, size_t nodes, uint32_t tokens_per_node,
                                   uint64_t seed) {
  PersistedRing out;
  gossip::SplitMixRng rng(seed);
  auto opened = storage::open_rocks_store(data_dir + "/state");
  if (!opened.store) {
    out.error = opened.error.message;
    return out;
  }
  const uint64_t generation = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::vector<std::pair<NodeId, gossip::NodeState>> entries;
  std::vector<NodeDescription> descriptions;
  for (size_t i = 0; i < nodes; ++i) {
    const NodeId id = NodeId::from_random_bits(rng.next(), rng.next());
    std::vector<Token> tokens;
    std::string text;
    for (uint32_t t = 0; t < tokens_per_node; ++t) {
      tokens.emplace_back(rng.next());
      if (!text.empty()) text += ',';
      text += tokens.back().to_string();
    }
    gossip::NodeState st;
    st.generation = gossip::Generation{generation - 100};
    gossip::Version v;
    auto put = [&](std::string_view k, std::string value) {
      v = v.next();
      st.values.push_back({std::string(k), {std::move(value), v}});
    };
    // Sorted by key, as NodeState requires.
    put(gossip::keys::kAddress, "127.0.0.1:" + std::to_string(1 + i));  // port 1..N: nothing listens there
    put(gossip::keys::kDc, "dc1");
    put(gossip::keys::kRack, "rack1");
    put(gossip::keys::kStamp, std::to_string(i + 1));
    put(gossip::keys::kStatus, std::string(to_string(NodeStatus::kNormal)));
    put(gossip::keys::kTokens, text);
    std::sort(st.values.begin(), st.values.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    st.max_version = v;
    entries.emplace_back(id, std::move(st));
    NodeDescription d;
    d.id = id;
    d.tokens = std::move(tokens);
    d.stamp = HlcStamp{i + 1};
    descriptions.push_back(std::move(d));
  }
  out.self = entries[0].first;
  DataDirIdentity identity;
  identity.node_id = out.self;
  identity.cluster_id = gossip::ClusterId(NodeId::from_random_bits(rng.next(), rng.next()));
  identity.generation = gossip::Generation{generation - 100};
  try {
    write_data_dir(*opened.store, identity, entries);
  } catch (const storage::StoreError& e) {
    out.error = e.what();
    return out;
  }
  auto ring = RingSnapshot::build(std::move(descriptions), ReplicationConfig{}).snapshot;
  for (const char* key : {"user:42", "cart:7", "session:abc"}) {
    out.keys.push_back({key, ring->natural_replicas(std::string_view(key)).to_vector()});
  }
  return out;
}

}  // namespace ringkeeper::sim
