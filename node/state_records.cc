#include "node/state_records.h"

#include "gossip/codec.h"

namespace ringkeeper {

std::string entry_key(const NodeId& id) {
  std::string k(16, '\0');
  for (int i = 0; i < 8; ++i) {
    k[i] = static_cast<char>(id.hi() >> (56 - 8 * i));
    k[8 + i] = static_cast<char>(id.lo() >> (56 - 8 * i));
  }
  return k;
}

std::optional<NodeId> entry_id(std::string_view k) {
  if (k.size() != 16) return std::nullopt;
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; ++i) {
    hi = (hi << 8) | static_cast<uint8_t>(k[i]);
    lo = (lo << 8) | static_cast<uint8_t>(k[8 + i]);
  }
  return NodeId(hi, lo);
}

void write_data_dir(storage::StateStore& store, const DataDirIdentity& identity,
                    const std::vector<std::pair<NodeId, gossip::NodeState>>& entries) {
  storage::WriteBatch b;
  b.put_meta(storage::meta::kNodeId, identity.node_id.to_string());
  if (!identity.cluster_id.is_nil()) b.put_meta(storage::meta::kClusterId, identity.cluster_id.to_string());
  b.put_meta(storage::meta::kClusterName, identity.cluster_name);
  b.put_meta(storage::meta::kReplication, identity.replication);
  b.put_meta(storage::meta::kGeneration, identity.generation.to_string());
  for (const auto& [id, st] : entries) b.put(storage::RecordKind::kEntry, entry_key(id), gossip::encode_node_state(st));
  store.write(b, true);
}

}  // namespace ringkeeper
