// Persister: what the runtime keeps in its StateStore, and when. At open (the opener's thread,
// before the node thread exists) it reads the data dir — identity, refusals, the persisted
// cluster state — and writes the new generation synced, before the node can say anything. From
// start on (node thread only) the Driver calls persist() after every engine event and before it
// sends anything: each entry whose (generation, max_version) changed since the last write, the
// cluster id once learned and the HLC go out in one batch (not synced: gossip re-teaches what a
// power cut loses). At stop, one synced write flushes what came before it.
//   Persister p(std::move(store), log);
//   Result<DataDir> opened = p.open(config, env);   // or kInvalidArgument / kDataDirRefused
//   if (Status s = p.persist(engine); !s.ok()) /* stop the node */;
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gossip/engine.h"
#include "node/runtime_log.h"
#include "ringkeeper/status.h"
#include "storage/state_store.h"

namespace ringkeeper {

// What open() found and decided.
struct DataDir {
  NodeId id;
  gossip::Generation generation;
  std::vector<std::pair<NodeId, gossip::NodeState>> entries;  // the persisted cluster state
};

class Persister {
 public:
  Persister(std::unique_ptr<storage::StateStore> store, RuntimeLog& log) : store_(std::move(store)), log_(log) {}

  // Opener's thread, once. Reads the identity (making a node id at first start from
  // env.random_seed()), refuses another cluster's dir, other replication settings, a removed
  // node's dir or --tokens that differ from persisted ones, and syncs the new generation
  // max(persisted + 1, now in seconds) (--reset-generation: now). Settings that contradict the
  // dir (cluster name, replication, --tokens) are kInvalidArgument; a dir that cannot be used
  // (corrupt, left or removed, unreadable) is kDataDirRefused. Never throws.
  Result<DataDir> open(const NodeConfig& config, Env& env);

  // Node thread. Entries already on disk at start, so persist() writes only what changes.
  void remember(const std::vector<std::pair<NodeId, gossip::NodeState>>& entries);
  // Writes what changed in the engine's state since the last call. kIoError when the store
  // refused the write (the node must stop).
  Status persist(gossip::GossipEngine& engine);
  // Writes the generation again, synced: everything written before it is durable.
  void final_sync(gossip::Generation generation);

  // Set at open; the cluster id moves on the node thread once learned.
  const gossip::ClusterId& cluster_id() const { return cluster_id_; }
  HlcStamp hlc() const { return persisted_hlc_; }
  // Batches written since start; any thread.
  uint64_t writes() const { return writes_; }

 private:
  Result<DataDir> read_identity(const NodeConfig& config, Env& env, storage::WriteBatch& identity);
  Result<DataDir> read_entries(const NodeConfig& config, DataDir dir);

  std::unique_ptr<storage::StateStore> store_;
  RuntimeLog& log_;
  gossip::ClusterId cluster_id_;  // persisted; nil until founded or learned
  // (generation, max_version) of each entry as last written.
  std::unordered_map<NodeId, std::pair<gossip::Generation, gossip::Version>> persisted_;
  uint64_t persisted_summary_ = 0;
  HlcStamp persisted_hlc_;
  uint64_t synced_ownership_ = 0;  // GossipEngine::ownership_writes() at the last synced write
  std::atomic<uint64_t> writes_{0};
};

}  // namespace ringkeeper
