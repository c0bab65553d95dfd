// GossipEngine: one node's membership protocol as a deterministic state machine. Given the time
// and incoming messages it returns outgoing messages; it never reads a clock, sleeps, or touches
// a socket or a disk. Owned by one driver (the runtime's strand or the simulator); not
// thread-safe.
//   GossipEngine e(config, rng, cache);
//   for (auto& env : e.tick(now)) transport.send(env.to, env.message);
//   for (auto& env : e.on_message(now, msg)) ...
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gossip/cluster_state.h"
#include "gossip/interfaces.h"
#include "gossip/messages.h"
#include "ring/replication.h"
#include "ring/ring_snapshot.h"

namespace ringkeeper::gossip {

struct EngineConfig {
  NodeId id;
  std::string address;                // where this node listens (gossiped as "address")
  std::vector<std::string> seeds;     // addresses
  ReplicationConfig replication;
  NodeId cluster_id;                  // nil until learned from a peer, or founded
  uint64_t generation = 1;
  uint32_t fanout = 3;                // exchanges started per round
  size_t max_delta_bytes = 256 << 10; // per Ack/Ack2; the rest follows in later rounds
};

struct Envelope {
  std::string to;  // address
  Message message;
};

// Counters the engine keeps about itself (the runtime exports them as metrics).
struct EngineStats {
  uint64_t rounds = 0;
  uint64_t exchanges_started = 0;
  uint64_t summaries_equal = 0;
  uint64_t deltas_applied = 0;
  uint64_t rejected_cluster = 0;
  uint64_t rejected_replication = 0;
};

class GossipEngine {
 public:
  GossipEngine(EngineConfig config, Rng& rng, RingCache& ring_cache);

  const NodeId& id() const { return config_.id; }
  const EngineConfig& config() const { return config_; }
  const ClusterState& state() const { return state_; }
  const EngineStats& stats() const { return stats_; }

  // Authors a value of this node's own entry (a new version). Keys as in gossip::keys, or "x.*".
  void set_local(std::string_view key, std::string value);
  // Installs another node's entry wholesale (tests and pre-converged simulations).
  void install(const NodeId& id, NodeStatePtr state);

  // One gossip round: exchanges with `fanout` peers.
  std::vector<Envelope> tick(Millis now);
  std::vector<Envelope> on_message(Millis now, const Message& msg);

  // The ring this node routes with, derived from the merged state (rebuilt when it changed).
  std::shared_ptr<const RingSnapshot> ring();

 private:
  Message make(Body body) const;
  void merge(const NodeDelta& delta);
  std::vector<NodeDelta> deltas_for(const std::vector<Digest>& wanted);
  std::vector<std::string> pick_peers();
  std::string address_of(const NodeId& id) const;
  bool accept(const Message& msg);
  static uint64_t ring_hash(const NodeId& id, const NodeState* st);

  // Constant after construction.
  EngineConfig config_;
  Rng& rng_;
  RingCache& ring_cache_;

  ClusterState state_;
  uint64_t local_version_ = 0;
  uint64_t ring_input_ = 0;  // XOR of ring_hash over all entries
  uint64_t ring_built_for_ = 0;
  std::shared_ptr<const RingSnapshot> ring_;
  EngineStats stats_;
};

}  // namespace ringkeeper::gossip
