// Persister (node/persister.h): the data dir at open, and each change before it is sent.
#include "node/persister.h"

#include "node/state_records.h"

namespace ringkeeper {

namespace {

using gossip::keys::kStatus;
using gossip::keys::kTokens;

// A meta record that holds a decimal number (the generation, the HLC): 0 when absent;
// kDataDirRefused naming the record when it holds anything else (garbage must not read as 0: a
// generation or a clock taken back to 0 would let this node's new words lose to its old ones).
Result<uint64_t> read_meta_number(storage::StateStore& store, std::string_view key, const std::string& data_dir) {
  const auto text = store.get_meta(key);
  if (!text) return uint64_t{0};
  if (auto n = gossip::decode_decimal(*text)) return *n;
  return Status::data_dir_refused("data dir " + data_dir + " is corrupt: its " + std::string(key) + " record holds '" +
                                  *text + "', not a decimal number");
}

}  // namespace

Result<DataDir> Persister::open(const NodeConfig& config, Env& env) {
  // Whatever the store (an embedder's too) or a decode throws — a StoreError, bad_alloc on a
  // damaged record — means this data dir cannot be read: refused, not thrown at the opener.
  try {
    storage::WriteBatch identity;
    Result<DataDir> read = read_identity(config, env, identity);
    if (!read.ok()) return read;
    read = read_entries(config, std::move(read).value());
    if (read.ok()) {
      // The generation bump is on disk before the node says anything.
      store_->write(identity, true);
    }
    return read;
  } catch (const std::exception& e) {
    return Status::data_dir_refused("data dir " + config.data_dir + ": " + e.what());
  }
}

Result<DataDir> Persister::read_identity(const NodeConfig& config, Env& env, storage::WriteBatch& identity) {
  storage::StateStore& store = *store_;
  DataDir dir;
  const auto stored_id = store.get_meta(storage::meta::kNodeId);
  if (stored_id) {
    auto parsed = NodeId::parse(*stored_id);
    if (!parsed) return Status::data_dir_refused("data dir " + config.data_dir + " is corrupt: bad node id '" + *stored_id + "'");
    dir.id = *parsed;
  } else {
    const uint64_t lo = env.random_seed();
    const uint64_t hi = env.random_seed();
    dir.id = NodeId::from_random_bits(hi, lo);
    identity.put_meta(storage::meta::kNodeId, dir.id.to_string());
  }
  if (auto name = store.get_meta(storage::meta::kClusterName); name && *name != config.cluster) {
    return Status::invalid_argument("data dir " + config.data_dir + " belongs to cluster '" + *name + "', not '" + config.cluster + "'");
  }
  identity.put_meta(storage::meta::kClusterName, config.cluster);
  const std::string replication = config.replication.canonical();
  if (auto rep = store.get_meta(storage::meta::kReplication); rep && *rep != replication) {
    return Status::invalid_argument("replication settings " + replication + " differ from the cluster's " + *rep +
                         " recorded in " + config.data_dir + " (they are cluster-wide)");
  }
  identity.put_meta(storage::meta::kReplication, replication);
  if (auto cid = store.get_meta(storage::meta::kClusterId)) {
    auto parsed = gossip::ClusterId::parse(*cid);
    if (!parsed) return Status::data_dir_refused("data dir " + config.data_dir + " is corrupt: bad cluster id '" + *cid + "'");
    cluster_id_ = *parsed;
  }
  const Result<uint64_t> hlc = read_meta_number(store, storage::meta::kHlc, config.data_dir);
  if (!hlc.ok()) return hlc.status();
  persisted_hlc_ = HlcStamp{*hlc};
  const Result<uint64_t> persisted_generation = read_meta_number(store, storage::meta::kGeneration, config.data_dir);
  if (!persisted_generation.ok()) return persisted_generation.status();
  const auto now_s = static_cast<uint64_t>(env.wall_ms() / 1000);
  dir.generation = gossip::Generation{config.reset_generation ? now_s : std::max(*persisted_generation + 1, now_s)};
  identity.put_meta(storage::meta::kGeneration, dir.generation.to_string());
  return dir;
}

Result<DataDir> Persister::read_entries(const NodeConfig& config, DataDir dir) {
  bool corrupt = false;
  store_->scan(storage::RecordKind::kEntry, [&](std::string_view k, std::string_view v) {
    auto id = entry_id(k);
    auto st = gossip::decode_node_state(v);
    if (!id || !st) {
      corrupt = true;
      return;
    }
    dir.entries.emplace_back(*id, std::move(*st));
  });
  if (corrupt) return Status::data_dir_refused("data dir " + config.data_dir + " is corrupt: an unreadable cluster-state record");
  for (const auto& [eid, st] : dir.entries) {
    if (eid != dir.id) continue;
    if (st.is_tombstone()) {
      const gossip::VersionedValue* how = st.get(kStatus);
      const bool left = how && how->value == to_string(NodeStatus::kLeft);
      return Status::data_dir_refused("data dir " + config.data_dir + ": node " + dir.id.to_string() +
                           (left ? " left the cluster (decommission)" : " was removed from the cluster (removenode)") +
                           "; a new node needs a fresh data dir");
    }
    const gossip::VersionedValue* tokens = st.get(kTokens);
    const gossip::VersionedValue* status = st.get(kStatus);
    if (status && status->value == to_string(NodeStatus::kLeft)) {
      return Status::data_dir_refused("data dir " + config.data_dir + ": node " + dir.id.to_string() +
                           " left the cluster (decommission); a new node needs a fresh data dir");
    }
    if (tokens && status && status->value != to_string(NodeStatus::kJoining) && !config.tokens.empty() &&
        tokens->value != gossip::format_token_list(config.tokens)) {
      return Status::invalid_argument("this node already owns tokens " + tokens->value +
                           "; a restart keeps them (use `ringctl move --tokens` to change them)");
    }
  }
  return dir;
}

void Persister::remember(const std::vector<std::pair<NodeId, gossip::NodeState>>& entries) {
  for (const auto& [eid, st] : entries) persisted_[eid] = {st.generation, st.max_version};
}

Status Persister::persist(gossip::GossipEngine& engine) {
  const gossip::ClusterState& st = engine.state();
  const gossip::ClusterId& cid = engine.config().cluster_id;
  if (st.summary() == persisted_summary_ && cid == cluster_id_) return {};
  storage::WriteBatch b;
  std::vector<std::pair<NodeId, std::pair<gossip::Generation, gossip::Version>>> written;
  for (size_t i = 0; i < st.size(); ++i) {
    const NodeId& nid = st.id_at(i);
    const gossip::NodeState& ns = st.state_at(i);
    const std::pair<gossip::Generation, gossip::Version> key{ns.generation, ns.max_version};
    auto it = persisted_.find(nid);
    if (it != persisted_.end() && it->second == key) continue;
    b.put(storage::RecordKind::kEntry, entry_key(nid), gossip::encode_node_state(ns));
    written.push_back({nid, key});
  }
  std::vector<NodeId> gone;
  if (persisted_.size() + written.size() > st.size()) {
    for (const auto& [nid, _] : persisted_) {
      if (!st.find(nid)) gone.push_back(nid);
    }
  }
  for (const NodeId& nid : gone) b.erase(storage::RecordKind::kEntry, entry_key(nid));
  if (cid != cluster_id_) b.put_meta(storage::meta::kClusterId, cid.to_string());
  const HlcStamp hlc = engine.hlc();
  if (hlc != persisted_hlc_ && !b.empty()) b.put_meta(storage::meta::kHlc, std::to_string(hlc.value));
  if (b.empty()) {
    persisted_summary_ = st.summary();
    return {};
  }
  // A change of this node's own ownership (a step of its change) is synced: a host crash must
  // not take it back to a step its peers have already passed.
  const bool sync = engine.ownership_writes() != synced_ownership_;
  try {
    store_->write(b, sync);
  } catch (const std::exception& e) {  // a StoreError, or whatever an embedder's store throws
    return Status::io_error(std::string("cannot persist the cluster state: ") + e.what());
  }
  synced_ownership_ = engine.ownership_writes();
  ++writes_;
  for (auto& [nid, key] : written) persisted_[nid] = key;
  persisted_hlc_ = hlc;
  for (const NodeId& nid : gone) persisted_.erase(nid);
  if (cid != cluster_id_) {
    if (cluster_id_.is_nil()) log_.info("cluster id {}", cid.to_string());
    cluster_id_ = cid;
  }
  persisted_summary_ = st.summary();
  return {};
}

void Persister::final_sync(gossip::Generation generation) {
  try {
    storage::WriteBatch b;
    b.put_meta(storage::meta::kGeneration, generation.to_string());
    store_->write(b, true);  // syncs everything written before it
  } catch (const std::exception& e) {
    log_.error("final store flush failed: {}", e.what());
  }
}

}  // namespace ringkeeper
