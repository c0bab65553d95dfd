// Driver: drives the gossip engine on the node thread. It ticks the engine at its next deadline
// (one Env timer), feeds it decoded frames and refused connects, and after every event
// (1) persists, (2) publishes, (3) sends — in that order, so whatever a peer hears is already on
// disk. It owns the engine, the transport, the codec and the node's RNG; the Persister and the
// ViewPublisher are the Node's, lent to it. Node thread only, except where a method says
// otherwise; the owner (Node::Impl) builds it and binds the transport before the node thread runs.
//   Driver d(config, identity, {env, log, persister, publisher, stats, failure});
//   identity.advertised = d.listen().value();  d.build_engine(persisted, rng_seed);  env.post([&] { d.drive(); });
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gossip/codec.h"
#include "gossip/engine.h"
#include "gossip/seal.h"
#include "node/cluster_mac.h"
#include "node/env.h"
#include "node/key_ops.h"
#include "node/metrics.h"
#include "node/persister.h"
#include "node/runtime_log.h"
#include "node/ownership.h"
#include "node/view_publisher.h"

namespace ringkeeper {

// Who this node is and where it answers. Set before the node thread starts; constant after.
struct NodeIdentity {
  NodeId id;
  gossip::Generation generation;
  std::string data_dir;
  std::string listen_bound;  // the transport's bound address
  std::string advertised;    // what peers are told (--advertise, or listen_bound)
  std::string admin_bound;   // empty: no admin listener
};

// The fatal error that stopped the node, if any: kIoError (a store write failed), kRefused (the
// cluster removed this node), kInternal (the node thread threw). Set on the node thread; read
// from any.
class NodeFailure {
 public:
  // True if this was the first failure (the one reported).
  bool set(Status why) {
    std::lock_guard lock(mu_);
    if (failed_) return false;
    why_ = std::move(why);
    failed_ = true;
    return true;
  }
  bool failed() const { return failed_; }
  // Ok until failed.
  Status why() const {
    std::lock_guard lock(mu_);
    return why_;
  }

 private:
  mutable std::mutex mu_;
  std::atomic<bool> failed_{false};
  Status why_;
};

class Driver {
 public:
  // What the Driver uses but does not own.
  struct Deps {
    Env& env;
    RuntimeLog& log;
    Persister& persister;
    ViewPublisher& publisher;
    OwnershipTracker& ownership;
    RuntimeStats& stats;
    NodeFailure& failure;
    ClusterMac& cluster_mac;  // follows the keyring (Node::cluster_mac)
  };
  // `keyring`: the gossip keyring as open_keyring (node/keyring_file.h) left it.
  Driver(const NodeConfig& config, const NodeIdentity& identity, Deps deps, gossip::Keyring keyring);
  ~Driver();

  // ---- before the node thread starts (the owner's thread) ----
  // Makes and binds the transport: the bound address, or kIoError with the reason.
  Result<std::string> listen();
  // Builds the engine from the persisted cluster state (peers installed as they were, this
  // node's own values carried into its new generation) and persists and publishes it, so the
  // node routes from disk before hearing from anyone.
  void build_engine(std::vector<std::pair<NodeId, gossip::NodeState>> persisted, uint64_t rng_seed);

  // ---- node thread ----
  // Ticks, persists, publishes, sends; re-arms the timer at the engine's next deadline.
  void drive();
  // Tells peers this node is going down, lets the transport flush (up to 1.5 s), syncs the
  // store, closes the transport and calls `done`.
  void shutdown(std::function<void()> done);
  // Stops touching the engine after a fatal error, logged once; the node's failure says why.
  void fail(Status why);
  bool halted() const { return halted_; }

  // The node's writers. Ok when applied (persisted and published); kRefused with the engine's
  // reason as the message; kNotRunning "the node is stopping" once halted (stopping or failed).
  // A move, or a rebalance (a move of kind rebalance to the allocator's tokens).
  Status move_tokens(std::vector<Token> tokens, gossip::ChangeKind kind = gossip::ChangeKind::kMove);
  Status decommission();
  Status abort_change(const NodeId& change);
  Status acknowledge_data(const NodeId& change);
  Status remove_node(const NodeId& node, bool force = false);
  Status set_application_value(const std::string& name, std::string value);
  void set_load(std::string value);
  std::optional<std::string> application_value(const NodeId& node, const std::string& name) const;
  // `ringctl keys` (node/key_ops.h): applies `op` here (DIR/keyring saved, synced), then sends it
  // to `targets`. The command's id for key_op_status (never 0) once started; kRefused when this
  // keyring refuses it, kIoError when the keyring cannot be saved, kNotRunning when halted —
  // nothing is sent then.
  Result<uint64_t> start_key_op(gossip::KeyOp op, std::vector<KeyOps::Target> targets);
  std::optional<KeyOps::Progress> key_op_status(uint64_t id) const { return key_ops_.status(id, now()); }
  const gossip::Keyring& keyring() const { return sealed_.keyring(); }
  const gossip::SealedCodec& sealed() const { return sealed_; }

  gossip::GossipEngine& engine() { return *engine_; }
  const NodeConfig& config() const { return config_; }
  const NodeIdentity& identity() const { return identity_; }
  const ViewPublisher& publisher() const { return d_.publisher; }
  const Persister& persister() const { return d_.persister; }
  // Any thread.
  const TransportStats& transport_stats() const { return transport_->stats(); }

 private:
  void after_event();  // persist, publish, log the engine's notices; stop if removed or unpersistable
  // The engine gave up (fatal()): stops the node once a peer holds its LEFT entry, or once
  // kGiveUpGraceMs passed since it gave up.
  void stop_once_shared();
  static constexpr gossip::Millis kGiveUpGraceMs = 2000;
  // A writer's end: unless the engine refused (a non-empty reason: kRefused with it), persist,
  // publish and re-arm the timer.
  Status applied(std::string refusal);
  void send_all(std::vector<gossip::Envelope> out);
  void rearm(bool force);
  bool on_frame(std::string_view frame, const std::string& peer);
  void log_refused_peer(const gossip::Message& msg);
  // Counts a refused frame and logs it at most once per 10 s per reason; `detail` ends the line.
  void log_rejected_frame(gossip::DecodeError error, const std::string& peer, std::string_view detail = {});
  // A frame of another cluster name: counted; an opening message (Syn, Ping) is answered with a
  // bare refusal (send_cluster_refusal) so its sender learns why, as the engine answers other
  // replication settings; such an answer, received, is logged as the refusal it is.
  void on_foreign_cluster(const gossip::DecodeResult& r, const std::string& peer);
  void send_cluster_refusal(const std::string& to);
  // KeyOp / KeyOpAck: handled here, never seen by the engine.
  void on_key_message(const gossip::Message& msg, bool sealed);
  // Seals and opens with `next` from now on, and so does the embedder's ClusterMac.
  void install_keyring(gossip::Keyring next);
  void send_message(const std::string& to, gossip::Body body);
  void on_refused(const std::string& address);
  void finish_shutdown(gossip::Millis deadline, std::function<void()> done);
  gossip::Millis now() const { return d_.env.steady_ms(); }

  const NodeConfig& config_;
  const NodeIdentity& identity_;
  Deps d_;
  gossip::CodecOptions codec_;
  gossip::SealedCodec sealed_;  // the keyring; seals what goes out, opens and checks what comes in
  KeyOps key_ops_;
  gossip::PeerVersions peer_versions_;  // the wire version to write to each peer
  std::unique_ptr<Transport> transport_;
  gossip::SplitMixRng rng_{0};
  gossip::UnsharedRingCache ring_cache_;
  std::unique_ptr<gossip::GossipEngine> engine_;
  Env::TimerId timer_ = 0;
  gossip::Millis armed_for_ = -1;  // when the timer fires next
  bool halted_ = false;            // stop touching the engine (stopping or failed)
  gossip::Millis giving_up_since_ = -1;  // when the engine gave up (stop_once_shared)
  std::vector<LogThrottle> reject_logs_ = std::vector<LogThrottle>(kDecodeErrorCount, LogThrottle(10'000));
  LogThrottle refusal_log_{10'000};
  LogThrottle seed_log_{10'000};
  LogThrottle cluster_refusals_{100};  // answers to another cluster's frames: at most 10 a second
  std::string last_refusal_;           // why a peer last refused this node (the seed line says it)
};

}  // namespace ringkeeper
