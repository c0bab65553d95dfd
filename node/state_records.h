// How the node runtime lays its records out in the StateStore: one entry record per known node,
// keyed by the node id's 16 big-endian bytes, valued by the codec's NodeState bytes; identity in
// meta records. Shared by the Node and by tools that prepare data dirs (ringsim persist).
// Pure encoding functions, plus write_data_dir, which writes through the caller's store on the
// caller's thread (a store is not thread-safe: one writer at a time).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gossip/cluster_state.h"
#include "storage/state_store.h"

namespace ringkeeper {

std::string entry_key(const NodeId& id);
std::optional<NodeId> entry_id(std::string_view key);

struct DataDirIdentity {
  NodeId node_id;
  gossip::ClusterId cluster_id;
  std::string cluster_name = "ringkeeper";
  std::string replication = "simple:3";  // ReplicationConfig::canonical()
  gossip::Generation generation;
};

// Writes a whole data dir's records in one synced batch: identity and every entry.
void write_data_dir(storage::StateStore& store, const DataDirIdentity& identity,
                    const std::vector<std::pair<NodeId, gossip::NodeState>>& entries);

}  // namespace ringkeeper
