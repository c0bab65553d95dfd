// Node::Impl: the runtime's internals, shared by node.cc (lifecycle, driving the engine,
// persistence) and node_admin.cc (the admin API's answers and metrics). Not a public header.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "gossip/codec.h"
#include "gossip/engine.h"
#include "node/admin_http.h"
#include "node/env.h"
#include "node/runtime_log.h"
#include "node/transport.h"
#include "ringkeeper/node.h"
#include "storage/state_store.h"

namespace ringkeeper {

// What readers on other threads see; replaced whole, never mutated once published.
struct PublishedView {
  std::shared_ptr<const RingSnapshot> ring;
  std::shared_ptr<const Router> router;
  std::unordered_map<NodeId, PeerLiveness> liveness;
};

// Counters the runtime keeps beside the engine's and the transport's.
struct RuntimeStats {
  std::array<std::atomic<uint64_t>, 7> frames_rejected{};  // by gossip::DecodeError
  std::atomic<uint64_t> store_writes{0};
  std::atomic<uint64_t> admin_requests{0}, admin_refused{0};
};

struct Node::Impl {
  NodeConfig config;
  std::unique_ptr<storage::StateStore> store;
  NodeId id;
  NodeId cluster_id;  // persisted; nil until founded or learned
  uint64_t generation = 0;
  std::string data_dir;
  gossip::CodecOptions codec;
  gossip::PeerVersions peer_versions;  // the wire version to write to each peer

  std::unique_ptr<Env> env;
  RuntimeLog log{*env};
  std::unique_ptr<gossip::Transport> transport;
  std::unique_ptr<AdminListener> admin;
  Env::TimerId timer = 0;
  std::string listen_bound, admin_bound, advertised;

  gossip::SplitMixRng rng{0};
  gossip::UnsharedRingCache ring_cache;
  std::unique_ptr<gossip::GossipEngine> engine;

  // Persistence: (generation, max_version) of each entry as last written.
  std::unordered_map<NodeId, std::pair<uint64_t, uint64_t>> persisted;
  uint64_t persisted_summary = 0;
  uint64_t persisted_hlc = 0;

  // Published view and subscribers.
  mutable std::mutex view_mu;
  std::shared_ptr<const PublishedView> view;   // written on the node thread only
  uint64_t published_liveness_changes = 0;     // LivenessTable::changes() when view was built
  size_t published_members = 0;
  std::mutex subs_mu;
  uint64_t next_sub = 1;
  std::map<uint64_t, RingListener> ring_subs;
  std::map<uint64_t, LivenessListener> liveness_subs;

  RuntimeStats stats;
  std::array<LogThrottle, 7> reject_logs{LogThrottle(10'000), LogThrottle(10'000), LogThrottle(10'000),
                                         LogThrottle(10'000), LogThrottle(10'000), LogThrottle(10'000),
                                         LogThrottle(10'000)};
  LogThrottle refusal_log{10'000};
  LogThrottle seed_log{10'000};

  std::vector<std::pair<NodeId, gossip::NodeState>> persisted_entries;  // read at open, installed at start
  gossip::Millis armed_for = -1;   // when the timer fires next
  bool halted = false;             // node thread: stop touching the engine (stopping or failed)

  std::atomic<bool> running{false};
  std::atomic<bool> failed{false};
  mutable std::mutex failure_mu;
  std::string failure;

  // Wall-clock minus node-clock milliseconds: the engine's wall time (HLC, generation bound).
  explicit Impl(std::unique_ptr<Env> e) : env(std::move(e)) {}
  gossip::Millis wall_offset() const { return env->wall_ms() - now(); }
  gossip::Millis now() const { return env->steady_ms(); }
  // Node thread only.
  void drive();                                   // tick, send, persist, publish; re-arm the timer
  void rearm(bool force);                         // timer at the engine's next deadline
  void finish_stop(gossip::Millis deadline);  // flush, sync, stop the loop
  std::string move_tokens(std::vector<Token> tokens);
  void after_event();                             // persist, publish, notify, log the engine's notices
  void send_all(std::vector<gossip::Envelope> out);
  bool on_frame(std::string_view frame, const std::string& peer);
  void on_refused(const std::string& address);
  void persist();
  void publish();
  void fail(const std::string& why);
  void write_addresses_file();
  std::shared_ptr<const PublishedView> current_view() const {
    std::lock_guard lock(view_mu);
    return view;
  }
  // Runs `f` on the node thread and waits for its answer (callers on other threads); gives
  // `if_stopping` when the node does not run it within 5 s (it is stopping).
  template <class F>
  auto run_on_node(F&& f, decltype(f()) if_stopping) -> decltype(f());

  // Admin API (node_admin.cc), node thread.
  AdminResponse handle_admin(const AdminRequest& req);
  std::string metrics_text();
};

}  // namespace ringkeeper
