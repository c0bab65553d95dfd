// Node: one ringkeeper member, embeddable in a server. It persists its state to RocksDB in the
// data dir, gossips over TCP, serves the admin HTTP API, and keeps an immutable ring snapshot and
// router that any thread may read. The embedder's one include: <ringkeeper/node.h>, with CMake
// target ringkeeper::node (find_package(ringkeeper CONFIG REQUIRED)) or pkg-config ringkeeper.
//
//   ringkeeper::NodeConfig cfg;  cfg.data_dir = "/var/lib/kv/ring";  cfg.seeds = {"10.0.0.1:7000"};
//   auto node = ringkeeper::Node::open(cfg);   // Result<unique_ptr<Node>>: refuses a bad data dir
//   if (!node.ok()) { fprintf(stderr, "%s\n", node.status().message().c_str()); return 1; }
//   if (ringkeeper::Status s = (*node)->start(); !s.ok()) { /* a port in use, ... */ }
//   for (auto& e : (*node)->preference_list("user:42")) send_to(e.address, e.natural);
//
// Errors: every call that can fail returns a Status or a Result<T> (ringkeeper/status.h); none
// throws. The codes say what the embedder can do (fix the settings, another data dir, retry
// later); the message is one line for a human.
//
// Thread model: the node owns one thread (the node thread) that runs the gossip engine, the
// transport, the admin server and every store write. Public methods may be called from any
// thread: readers (ring, preference_list, liveness) copy an immutable published view and never
// block the node thread for longer than a pointer copy; writers (set_application_value,
// move_tokens, ...) post to the node thread. Subscriber callbacks run on the node thread, in
// order; they must not block or call stop(); a Subscription may be dropped anywhere, a callback
// included (ringkeeper/subscription.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringkeeper/peer_liveness.h"
#include "ringkeeper/ring/range_diff.h"
#include "ringkeeper/ring/replication.h"
#include "ringkeeper/ring/ring_snapshot.h"
#include "ringkeeper/ring/router.h"
#include "ringkeeper/status.h"
#include "ringkeeper/subscription.h"

namespace ringkeeper {

namespace storage {
class StateStore;
}
class Env;  // node/env.h: clocks, timers, RNG seed, logger, transport (the runtime's outside world)

// Severity of a runtime log line, as a NodeConfig::log_sink receives it.
enum class LogLevel : uint8_t { kDebug, kInfo, kWarn, kError, kCritical };
// Receives every line the runtime logs, on whichever thread logs it (mostly the node thread).
using LogSink = std::function<void(LogLevel level, std::string_view line)>;

struct NodeConfig {
  std::string cluster = "ringkeeper";
  std::string listen = "127.0.0.1:7000";   // gossip; port 0 picks one
  std::string admin;                       // admin HTTP HOST:PORT; empty (the default): none
  std::string advertise;                   // gossip address told to peers; empty: the bound one
  std::string data_dir;
  std::vector<std::string> seeds;
  uint32_t num_tokens = 16;                // 1..kMaxTokensPerNode
  std::vector<Token> tokens;               // first start only; empty: the balanced allocator; at most kMaxTokensPerNode
  std::string dc = "dc1";                  // dc and rack: at most 256 bytes each
  std::string rack = "rack1";
  ReplicationConfig replication;           // simple, RF 3
  // Gossip encryption (docs/security.md): a base64-encoded 32-byte AES-256 key that starts the
  // keyring in DIR/keyring at first start (empty: none); afterwards `ringctl keys` changes it.
  std::string gossip_key;
  bool gossip_accept_plaintext = false;    // migration mode: take plaintext frames as well
  std::string admin_token;                 // lets non-loopback callers change state
  bool admin_token_reads = false;          // reads (GET) need the token too
  // HTTPS on the admin port: PEM files of the certificate (chain) and its key; both or neither.
  std::string admin_tls_cert, admin_tls_key;
  bool reset_generation = false;
  // ringd --replace: the id of a dead NORMAL node whose tokens this new node takes over (a phased
  // change of kind replace) instead of claiming its own. First start only (an empty data dir);
  // later starts resume or ignore it. Empty: join as usual.
  std::string replace;
  // Other addresses the embedder serves, written into DIR/addresses.json ("kv" for kvd).
  std::map<std::string, std::string> extra_addresses;
  // Where the runtime's log lines go; empty: spdlog's default logger (ringd's stderr).
  LogSink log_sink;
  // The embedder's own metrics, as Prometheus text, appended to GET /metrics on the admin port
  // (and to metrics_text()), so one scrape sees the node's and the embedder's counters. Called on
  // the node thread once per scrape: it must return quickly and must not call this Node (read
  // atomics). Its names must not clash with the node's (ringkeeper_*). Empty: nothing appended.
  //   cfg.extra_metrics = [&] { return "# TYPE kv_requests_total counter\nkv_requests_total 7\n"; };
  std::function<std::string()> extra_metrics;
  // True for an embedder that holds data per range (a KV server): the node then waits for
  // acknowledge_ranges() of every range it gains before a change reads from it (on_ownership).
  // False (ringd): nothing to stream; every change is acknowledged at once.
  bool streams_data = false;
  // Protocol timing (defaults are the production settings).
  int64_t gossip_interval_ms = 1000;
  int64_t probe_interval_ms = 500;
  int64_t probe_timeout_ms = 200;
  int64_t settle_ms = 2000;
};

// One member of the cluster as this node sees it (removed nodes excluded).
struct Member {
  NodeId id;
  std::string address;  // the gossip address it advertises ("" until known)
  NodeStatus status = NodeStatus::kJoining;
  PeerLiveness liveness = PeerLiveness::kUnknown;
  std::string dc, rack;
  uint64_t generation = 0;
  bool self = false;
};

// The ring changed: the previous and the new snapshot, and the ranges each node gained and lost.
struct RingChange {
  std::shared_ptr<const RingSnapshot> before;
  std::shared_ptr<const RingSnapshot> after;
  RangeDiff diff;
};

// Ranges this node gains or gives up in a phased ownership change (docs/design.md, "Phased
// ownership changes"), in the order an embedder acts on them:
//   kPending   from write_both: writes for `gained` reach this node from now on; stream each range
//              from its `sources` (its replicas before the change; some may be down), then call
//              acknowledge_ranges(change) — the change reads from this node only after that.
//   kOwned     from read_new: reads of `gained` come to this node.
//   kReleased  from release (or when the change is done): this node no longer replicates
//              `released`; drop that data.
//   kCancelled the change was aborted before read_new: `gained` will not be this node's; drop
//              what was streamed.
// A node that restarts mid-change, or a change that passes several steps between two events,
// emits what it has not acknowledged again: handle each event idempotently.
//
//   cfg.streams_data = true;                                   // before Node::open
//   auto sub = node->on_ownership([&](const ringkeeper::OwnershipEvent& e) {
//     using K = ringkeeper::OwnershipEvent::Kind;
//     if (e.kind == K::kPending) {                             // stream on a thread of yours:
//       pool.post([&node, e] {                                 // not on the node thread
//         for (const auto& t : e.gained) copy_range(t.range, t.sources);  // from any source up
//         (void)node->acknowledge_ranges(e.change);            // now reads may come here
//       });
//     } else if (e.kind == K::kReleased) {
//       for (const auto& r : e.released) drop_range(r);
//     } else if (e.kind == K::kCancelled) {
//       for (const auto& t : e.gained) drop_range(t.range);
//     }
//   });
struct OwnershipEvent {
  enum class Kind : uint8_t { kPending, kOwned, kReleased, kCancelled };
  Kind kind = Kind::kPending;
  NodeId change;                       // the change's id (as ringctl prints it)
  std::string change_kind;             // "move", "rebalance", "decommission", "removenode", ...
  uint64_t ring_version = 0;           // the ring version when the event was made
  std::vector<RangeTransfer> gained;   // kPending, kOwned, kCancelled
  std::vector<TokenRange> released;    // kReleased
};
std::string_view to_string(OwnershipEvent::Kind kind);

class Node {
 public:
  // Opens the data dir, reads the identity and persisted state, bumps the generation (synced
  // before anything is sent). Nothing is bound yet. Never throws. Errors:
  //   kInvalidArgument  a malformed address or no data dir; a cluster name, replication settings
  //                     or tokens other than the data dir recorded
  //   kDataDirRefused   the data dir cannot be used: its format (newer, older, unknown), corrupt,
  //                     locked by a running node, unreadable, or the dir of a node that left or
  //                     was removed (a new node needs a fresh one)
  //   kInternal         anything else that went wrong (a bug)
  static Result<std::unique_ptr<Node>> open(NodeConfig config);
  // The same on a store of the caller's (tests: MemoryStore, FaultyStore); data_dir is then only
  // where addresses.json goes. Whatever the store throws while the data dir is read is caught:
  // kDataDirRefused.
  static Result<std::unique_ptr<Node>> open(NodeConfig config, std::unique_ptr<storage::StateStore> store);
  // The same on an Env of the caller's (tests: a SimNetwork's, on simulated time without
  // sockets); `config.log_sink` is then unused: lines go to `env`'s logger.
  static Result<std::unique_ptr<Node>> open(NodeConfig config, std::unique_ptr<storage::StateStore> store,
                                            std::unique_ptr<Env> env);
  ~Node();

  // Binds the gossip and admin ports, writes DIR/addresses.json and starts the node thread.
  // kIoError: a port cannot be bound (in use, an address that does not resolve);
  // kInvalidArgument: a wildcard listen address without `advertise`; kRefused: already started.
  Status start();
  // Tells peers this node is going down, flushes, and joins the node thread (within ~2 s).
  void stop();
  // True once the node stopped itself after a fatal error; failure() says which (ok until then):
  // kIoError (a store write failed), kRefused (the cluster removed this node, or its LEFT entry
  // expired everywhere), kInternal (the node thread threw).
  bool failed() const;
  Status failure() const;

  const NodeId& id() const;
  uint64_t generation() const;
  std::string listen_address() const;  // bound gossip address (after start)
  std::string admin_address() const;   // bound admin address (after start)

  // The ring this node routes with: from the persisted state right after open(), then from
  // gossip once started.
  std::shared_ptr<const RingSnapshot> ring() const;
  // Reachable natural replicas, then fallbacks (Dynamo's sloppy quorum), each with its address.
  std::vector<PreferenceEntry> preference_list(std::string_view key) const;
  PeerLiveness liveness(const NodeId& id) const;
  // Every member with its address, status and liveness, sorted by id; the gossip address of one.
  std::vector<Member> members() const;
  std::optional<std::string> address_of(const NodeId& id) const;
  // Every member this node sees up gossips the ring this node routes with, and no change is in
  // flight (what `ringctl health` reports).
  bool converged() const;
  // The Prometheus text of GET /metrics (also without an admin server). Empty before start().
  std::string metrics_text() const;

  // Message authentication for the embedder's own traffic between members (kvd signs its replica
  // requests with it; docs/security.md), keyed by the gossip keyring: whoever holds a cluster key
  // can sign, and the key material never leaves the node. The MAC is HMAC-SHA256 under a key
  // derived from a gossip key for this purpose alone. A keyring change (`ringctl keys`) applies
  // from the next call. Any thread, from open() on.
  //   if (auto mac = node->cluster_mac(bytes)) send(bytes, *mac);        // the sender
  //   if (!node->verify_cluster_mac(bytes, mac)) refuse();                // the receiving member
  // The MAC of `message` (32 raw bytes) under the primary key; nullopt when the keyring has no
  // primary key (gossip in plaintext): then there is nothing to sign with.
  std::optional<std::string> cluster_mac(std::string_view message) const;
  // True when `mac` is the MAC of `message` under any key installed here — the primary or another
  // — so a member still signing with the previous primary during a rotation is accepted. Compared
  // in constant time. False with an empty keyring.
  bool verify_cluster_mac(std::string_view message, std::string_view mac) const;
  // True when the keyring has a primary key: cluster_mac() answers, and gossip is encrypted.
  bool has_cluster_key() const;

  // Calls `f` on the node thread after every ring change, or every peer's liveness change, until
  // the returned Subscription is reset or destroyed (thread rules: ringkeeper/subscription.h).
  using RingListener = std::function<void(const RingChange&)>;
  using LivenessListener = std::function<void(const NodeId&, PeerLiveness)>;
  using OwnershipListener = std::function<void(const OwnershipEvent&)>;
  Subscription on_ring_change(RingListener f);
  Subscription on_liveness_change(LivenessListener f);
  // Ownership events of phased changes (see OwnershipEvent); subscribe before start() to see the
  // events of a change this node resumes after a restart.
  Subscription on_ownership(OwnershipListener f);
  // With NodeConfig::streams_data: this node holds every range it gains in `change` (the data
  // barrier before the change reads from new owners). kRefused when `change` is not the change
  // in flight here or has not reached write_both; kNotRunning before start(). Called from an
  // ownership callback it is applied right after the callback returns (ok; a refusal is logged).
  Status acknowledge_ranges(const NodeId& change);

  // The writers. Each waits for the node thread's answer (up to 5 s). Errors: kRefused with the
  // reason (the node's or the cluster's state, or the protocol's bounds, do not allow it);
  // kNotRunning (not started, stopping, or no answer within 5 s).
  // An embedder-defined value gossiped with this node's entry (key "x.NAME"); refused over the
  // size bounds every peer applies.
  Status set_application_value(const std::string& name, std::string value);
  void set_load(std::string value);
  // A value another node (or this one) gossips under "x.NAME"; nullopt if unknown.
  std::optional<std::string> application_value(const NodeId& node, const std::string& name) const;
  // Announces new tokens for this node (a phased change); refused while joining, while another
  // change is in flight, for tokens another node owns, or for more than kMaxTokensPerNode.
  Status move_tokens(std::vector<Token> tokens);
  // Hands all of this node's ranges to their next owners (ringctl decommission); at done it is
  // LEFT — and then no member's barrier waits for it, so its ring() may lag behind later
  // changes: an embedder must stop coordinating requests on a LEFT node. The change's id; refused as move_tokens is, and when fewer nodes owning tokens than the
  // replication factor would remain (in this node's DC under the topology strategy).
  Result<NodeId> decommission();
  // Moves this node to the allocator's tokens against every other node's (ringctl rebalance).
  // The change's id; kRefused "already balanced" when that would not improve the balance.
  Result<NodeId> rebalance();
  // Rolls back this node's change before it reads from its new owners (ringctl abort).
  Status abort_change(const NodeId& change);
  // Removes a dead member (ringctl removenode): a phased change this node coordinates, or with
  // `force`, while another change is in flight, its REMOVED tombstone at once (docs/operations.md
  // says what that risks). Refused for a member this node does not see down.
  Status remove_node(const NodeId& id, bool force = false);

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringkeeper
