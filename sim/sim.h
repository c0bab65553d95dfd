// The deterministic cluster simulator: GossipEngines on a seeded discrete-event network with
// per-link latency, loss, one-way cuts and partitions, crashes, restarts, wiped data dirs and
// stalls. Every message goes through the real codec. Single-threaded; one SimCluster per thread.
//   SimCluster sim(options);  sim.add_preconverged(1000);  sim.run_until(sim.now() + 10'000);
//   sim.partition({{0, 1, 2}, {3, 4}});  ...  sim.heal_all();
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gossip/codec.h"
#include "gossip/engine.h"

namespace ringkeeper::sim {

using gossip::Millis;

// The tokens `viewer` holds as `id`'s claim (its gossiped "tokens" value; empty if unknown or
// unreadable) — what tests and scenarios compare rings against.
std::vector<Token> gossiped_tokens(const gossip::GossipEngine& viewer, const NodeId& id);

struct SimOptions {
  uint64_t seed = 1;
  Millis gossip_interval = 1000;
  Millis min_latency = 1;
  Millis max_latency = 5;
  double loss = 0.0;  // probability a message is dropped
  uint32_t fanout = 3;
  gossip::LivenessTimings liveness;
  Millis left_expiry = 3 * 24 * 3600 * 1000LL;
  ReplicationConfig replication;
  gossip::CodecOptions codec;
};

// Ring snapshots shared between simulated nodes with identical ring-relevant state.
class SharedRingCache final : public gossip::RingCache {
 public:
  std::shared_ptr<const RingSnapshot> get(uint64_t key, const Build& build) override;
  size_t size() const { return cache_.size(); }

 private:
  std::unordered_map<uint64_t, std::shared_ptr<const RingSnapshot>> cache_;
};

class SimCluster {
 public:
  static constexpr size_t kSelf = SIZE_MAX;  // in add_node's seeds: the new node itself
  explicit SimCluster(SimOptions options);

  Millis now() const { return now_; }
  const SimOptions& options() const { return options_; }
  size_t size() const { return nodes_.size(); }
  // Node indices are addresses ("sim:<i>"): the engine at an index changes when it is wiped.
  gossip::GossipEngine& engine(size_t i) { return *nodes_[i].engine; }
  bool alive(size_t i) const { return !nodes_[i].crashed; }
  bool stalled(size_t i) const { return now_ < nodes_[i].stalled_until; }
  // The index whose current engine has this id, or size() (an id no process runs: an earlier
  // life of a wiped node, or an unknown one).
  size_t index_of(const NodeId& id) const;

  // Adds N nodes that already know each other (NORMAL, 16 allocator-free random tokens each):
  // the starting point for benchmarks that do not measure formation. Entries are shared.
  void add_preconverged(size_t n, uint32_t tokens_per_node = 16);
  // Adds a fresh node (no tokens, no cluster id) that knows only `seeds` (node indices; a node
  // whose only seed is itself founds a cluster).
  size_t add_node(const std::vector<size_t>& seeds, gossip::JoinSettings join = {});

  // Faults. Cuts are per address (index) and one-way: messages from `from` to `to` are dropped.
  void cut(size_t from, size_t to) { cut_.insert({from, to}); }
  // Cuts both ways between every node of `a` and every node of `b`.
  void cut_between(const std::vector<size_t>& a, const std::vector<size_t>& b);
  // Cuts both ways between every two groups (nodes in no group keep their links). A node added
  // later joins a side with cut_between({new_node}, other_side).
  void partition(const std::vector<std::vector<size_t>>& groups);
  void heal_all() { cut_.clear(); }
  void crash(size_t i) { nodes_[i].crashed = true; }
  // Starts a crashed node again on its "data dir": same id and address, the cluster state it had,
  // generation + 1.
  void restart(size_t i) { restore(i, backup(i)); }
  // A copy of a node's "data dir" (the cluster state it holds, its own entry included).
  struct DataDir {
    std::vector<std::pair<NodeId, gossip::NodeStatePtr>> entries;
  };
  DataDir backup(size_t i) const;
  // The process at `i` stops (if it runs) and starts on `dir` — a backup taken earlier, say — with
  // `generation` (default: one above any it ran with, as a restart picks). Same id and address.
  void restore(size_t i, const DataDir& dir, std::optional<gossip::Generation> generation = std::nullopt);
  // The process at `i` comes back on a wiped data dir: a new node id at the same address (and
  // the same cuts), no state, no cluster id, generation max(1, now in seconds), joining afresh
  // through `seeds` (indices). Its earlier life's id stays in everyone's state until removed.
  void wipe(size_t i, const std::vector<size_t>& seeds, gossip::JoinSettings join = {});
  void stall(size_t i, Millis until) { nodes_[i].stalled_until = until; }
  // The process at `i` runs a build whose newest wire version is `version` (a node not yet
  // upgraded, in a rolling upgrade): it writes and reads nothing newer.
  void set_wire_version(size_t i, uint32_t version);
  // Frames handed to the network so far, by wire version (index), and frames a node refused.
  const std::vector<uint64_t>& frames_by_version() const { return frames_by_version_; }
  uint64_t frames_refused() const { return frames_refused_; }

  // Runs events up to and including time t.
  void run_until(Millis t);

  // Sees every message a node hands to the network (before loss and cuts), as the engine made it;
  // for checks on what a node says. One tap; an empty function removes it.
  using Tap = std::function<void(size_t from, const gossip::Message& message)>;
  void set_tap(Tap tap) { tap_ = std::move(tap); }

  // Traffic counters (bytes of encoded frames handed to the network).
  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t messages_sent() const { return messages_sent_; }

 private:
  struct Node {
    std::unique_ptr<gossip::SplitMixRng> rng;
    std::unique_ptr<gossip::GossipEngine> engine;
    gossip::Generation generation{1};
    uint32_t wipes = 0;        // data dirs wiped at this address so far (each gives a new id)
    uint64_t tick_token = 0;   // only the latest scheduled tick event counts
    Millis tick_at = 0;
    bool started = false;      // has had its first tick (its timers run from then on)
    bool crashed = false;
    Millis stalled_until = 0;
    std::vector<std::string> backlog;  // frames that arrived while stalled
    uint32_t wire_version = gossip::kWireVersion;  // newest it speaks
    gossip::PeerVersions peer_versions;
  };
  struct Event {
    Millis at;
    uint64_t seq;
    size_t node;
    bool is_tick;
    std::string frame;
    uint64_t token = 0;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  static std::string address_of(size_t i) { return "sim:" + std::to_string(i); }
  gossip::EngineConfig config_for(size_t i, uint32_t wipes = 0) const;
  // A fresh node at `i`: no state, no cluster id, joining through `seeds`.
  Node fresh_node(size_t i, uint32_t wipes, gossip::Generation generation, const std::vector<size_t>& seeds,
                  gossip::JoinSettings join);
  void send(size_t from, std::vector<gossip::Envelope> out);
  void deliver(size_t to, const std::string& frame);
  void schedule_tick(size_t i, Millis at);
  // After the engine ran: make sure a tick is scheduled by its next deadline.
  void reschedule(size_t i);

  SimOptions options_;
  std::mt19937_64 net_rng_;
  SharedRingCache ring_cache_;
  std::vector<Node> nodes_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::set<std::pair<size_t, size_t>> cut_;
  Millis now_ = 0;
  uint64_t seq_ = 0;
  std::vector<uint64_t> frames_by_version_ = std::vector<uint64_t>(gossip::kWireVersion + 1);
  uint64_t frames_refused_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t messages_sent_ = 0;
  gossip::ClusterId cluster_id_;
  Tap tap_;
};

}  // namespace ringkeeper::sim
