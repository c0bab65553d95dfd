// GossipEngine: one node's membership protocol as a deterministic state machine. Given the time
// and incoming messages it returns outgoing messages; it never reads a clock, sleeps, or touches
// a socket or a disk. Owned by one driver (the runtime's strand or the simulator); not
// thread-safe.
//   GossipEngine e(config, rng, cache);
//   for (auto& env : e.tick(now)) transport.send(env.to, env.message);
//   for (auto& env : e.on_message(now, msg)) ...
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <string>
#include <vector>

#include "gossip/cluster_state.h"
#include "gossip/change.h"
#include "gossip/codec.h"
#include "gossip/entry_view.h"
#include "gossip/interfaces.h"
#include "gossip/join.h"
#include "gossip/liveness.h"
#include "gossip/messages.h"
#include "ringkeeper/ring/replication.h"
#include "ringkeeper/ring/ring_snapshot.h"

namespace ringkeeper::gossip {

struct EngineConfig {
  NodeId id;
  std::string address;                // where this node listens (gossiped as "address")
  std::vector<std::string> seeds;     // addresses
  ReplicationConfig replication;
  ClusterId cluster_id;               // nil until learned from a peer, or founded
  Generation generation{1};
  uint32_t fanout = 3;                // exchanges started per round
  size_t max_delta_bytes = 256 << 10; // per Ack/Ack2; the rest follows in later rounds
  Millis gossip_interval = 1000;      // one round
  LivenessTimings liveness;           // failure detection
  JoinSettings join;                  // tokens, dc, rack, replace; used only if no tokens are persisted
  Millis left_expiry = 3 * 24 * 3600 * 1000LL;  // a LEFT entry becomes a bare tombstone after this
  Millis load_interval = 60'000;      // the load value is republished at most this often

  // Wall-clock milliseconds at `now` are now + wall_offset (the runtime keeps it current with
  // set_wall_offset; the simulator gives each node its own skew). The hybrid logical clock and
  // the generation bound read wall time this way; timers use `now` alone.
  Millis wall_offset = 0;
  // An entry whose generation (its start time, in seconds) is further ahead of this node's wall
  // clock than this is refused and counted; checked at every merge. 0: no bound.
  uint64_t max_generation_ahead_s = kMaxGenerationAheadS;
  // A claim stamp further ahead of this node's wall clock than this is refused (with its entry)
  // and counted, so one bad clock cannot drag every node's HLC into the future. 0: no bound.
  Millis max_clock_ahead = 60'000;

  // What this node's data dir held of its own entry before this run: that entry's generation and
  // highest version (0, 0: a new data dir). A peer holding a newer copy of an earlier run shows
  // the data dir was restored from a backup or copied from an earlier moment; the node adopts
  // that copy's claim (docs/design.md, "Restored data dirs"). A run in the same generation as the
  // data dir's entry continues its versions above data_dir_version.
  Generation data_dir_generation;
  Version data_dir_version;
  // The newest wire version this node's codec speaks, gossiped as "wire" so peers that have not
  // heard from it yet can write to it in that version (see wire_version_at).
  uint32_t wire_version = kWireVersion;
  // Acknowledge a change's data phase as soon as this node routes by write_both (an embedder
  // with no data to stream: ringd, the simulator).
  bool auto_ack_data = true;

  // Bounds on what remote input may make this node hold (each refusal is counted). Within the
  // codec's hard caps (gossip/codec.h), so an entry this node accepts can always travel on.
  size_t max_members = 16384;          // entries of nodes that are not removed
  size_t max_tombstones = 65536;       // removed ids remembered (a few dozen bytes each)
  size_t max_keys_per_entry = 1000;    // values in one node's entry (codec: kMaxKeysPerEntry)
  size_t max_value_bytes = 256 << 10;  // one value (inside the codec's kMaxValueBytes; 4,096 tokens take ~86 KB)
};

struct Envelope {
  std::string to;  // address
  Message message;
};

// Why a node may not hold `count` tokens (more than kMaxTokensPerNode); empty when it may. What
// move_tokens refuses, and what the admin API refuses up front, dry runs included.
std::string token_count_refusal(size_t count);

// Round-trip times of answered direct probes, as a histogram (milliseconds).
struct ProbeRtt {
  static constexpr std::array<Millis, 8> kBounds = {1, 2, 5, 10, 25, 50, 100, 250};
  std::array<uint64_t, kBounds.size()> buckets{};  // counts per bound (not cumulative)
  uint64_t count = 0;
  uint64_t sum_ms = 0;
  void add(Millis ms) {
    ++count;
    sum_ms += static_cast<uint64_t>(std::max<Millis>(ms, 0));
    for (size_t i = 0; i < kBounds.size(); ++i) {
      if (ms <= kBounds[i]) {
        ++buckets[i];
        return;
      }
    }
  }
};

// Counters the engine keeps about itself (the runtime exports them as metrics).
struct EngineStats {
  uint64_t rounds = 0;
  uint64_t exchanges_started = 0;
  uint64_t summaries_equal = 0;
  uint64_t deltas_applied = 0;
  uint64_t rejected_cluster = 0;
  uint64_t rejected_replication = 0;
  uint64_t probes_sent = 0;
  uint64_t probes_failed = 0;     // no direct or indirect answer in time: target suspected
  uint64_t refutations = 0;       // this node said it is alive after being suspected
  uint64_t stalls_detected = 0;   // ticks that came so late this node must have been paused
  uint64_t token_repicks = 0;     // own claims re-picked after losing a token conflict
  uint64_t tombstones_written = 0;
  uint64_t rejected_generation = 0;  // entries with a generation too far ahead of the wall clock
  uint64_t rejected_clock_ahead = 0; // entries whose claim stamp is too far ahead of the wall clock
  uint64_t rejected_bounds = 0;      // entries refused by max_members / max_tombstones / max_keys / max_value_bytes
  uint64_t rejected_malformed = 0;   // entries with a value this build cannot read (tokens, stamp)
  uint64_t rejected_unknown = 0;     // rumors and probe requests about ids not in the state
  uint64_t misdirected_probes = 0;   // Pings meant for another node id (a new node on an old address),
                                     // and answers from a node other than the one probed
  uint64_t claims_lost = 0;          // tokens this established owner lost to an earlier claim
  uint64_t refusals_sent = 0;        // answers to refused Syn/Ping, so the sender learns why
  uint64_t data_dir_behind = 0;      // peers knew a newer record of this node than its data dir
  uint64_t versions_reasserted = 0;  // peers held higher versions of this run's generation
  uint64_t newer_generation_seen = 0;  // peers know this node at a generation above this run's
  ProbeRtt probe_rtt;
};

class GossipEngine {
 public:
  GossipEngine(EngineConfig config, Rng& rng, RingCache& ring_cache);

  const NodeId& id() const { return config_.id; }
  const EngineConfig& config() const { return config_; }
  const ClusterState& state() const { return state_; }
  const EngineStats& stats() const { return stats_; }

  // Authors a value of this node's own entry (a new version). Keys as in gossip::keys, or "x.*".
  // A value over max_value_bytes (or a key over the codec's kMaxKeyBytes) is not written: every
  // peer would refuse the entry, freezing it; a notice says so. Callers bound what they write
  // (move_tokens, set_application_value), so this is the last guard, not the rule.
  void set_local(std::string_view key, std::string value);
  // Reports this node's load (any text the embedder chooses). Load changes all the time, so it
  // is gossiped at most once per load_interval: the latest value reported by then wins.
  void set_load(std::string value);
  // Sets an embedder-defined value ("x." + name), gossiped like the node's own keys. Refused, with
  // the reason, beyond the bounds every receiver applies (max_value_bytes, max_keys_per_entry).
  [[nodiscard]] std::string set_application_value(std::string_view name, std::string value);
  // Installs another node's entry wholesale (tests and pre-converged simulations).
  void install(const NodeId& id, NodeStatePtr state);

  // Removes a dead node on its behalf (ringctl removenode). With no other change in flight, as a
  // phased change this node coordinates (kind removenode, subject `id`: its ranges go to their
  // next owners phase by phase, the barrier not waiting for it; at done its REMOVED tombstone is
  // written). While another change is in flight (typically one that waits for this dead node),
  // only with `force`: the tombstone is written at once and the ranges re-replicate from the
  // surviving replicas without data phases (docs/operations.md says what that risks). Refused,
  // with the reason, for this node, an unknown node, or one this node does not see as down.
  // Already removed, or a removal of it already in flight: accepted, nothing new is started —
  // unless that removal's coordinator is down here: refused, naming it and the way out
  // (removenode of this node with force, then of the coordinator).
  std::string remove_node(const NodeId& id, Millis now, bool force = false);
  // The change in flight that removes `id` (a removenode or a replace of it), with its
  // coordinator, if any.
  std::optional<std::pair<NodeId, ChangeRecord>> removal_of(const NodeId& id) const;
  // A removenode that may be dropped with its dead coordinator: one whose subject is removed
  // already (removenode SUBJECT --force).
  bool abandonable(const ChangeRecord& change) const;

  // Starts moving this node to new tokens (ringctl move) as a phased change: announce,
  // write_both, read_new, release (docs/design.md, "Phased ownership changes"); the change's id is
  // then own_change()->id. Refused, with the reason, while the node is joining or another change
  // is in flight anywhere this node can see, or when the list is empty, longer than
  // kMaxTokensPerNode, repeats a token or names another node's token.
  std::string move_tokens(std::vector<Token> tokens, Millis now, ChangeKind kind = ChangeKind::kMove);
  // The tokens the allocator would give this node now, against every other node's: where a
  // rebalance moves it (as a change of kind rebalance, through move_tokens). Empty when that would
  // not bring the cluster's largest ownership over its mean down by 1% or more: already balanced.
  std::vector<Token> rebalance_tokens();
  // Starts handing all of this node's ranges to their next owners as a phased change; at its end
  // the node is LEFT: it owns nothing and keeps running until stopped. Refused, with the reason,
  // as move_tokens is, and when fewer nodes owning tokens than the replication factor would
  // remain (in this node's DC under the topology strategy; down owners count).
  std::string decommission(Millis now);
  // The embedder holds every range this node gains in `change` (the data barrier before
  // read_new), gossiped as `data`. Refused, with the reason, unless `change` is the change this
  // node routes by, at write_both or later. Engines with auto_ack_data acknowledge by themselves.
  std::string acknowledge_data(const NodeId& change);
  // Rolls back this node's change, if it has not reached read_new. Refused, with the reason,
  // otherwise.
  std::string abort_change(const NodeId& change);
  // This node's latest change as it gossips it (in flight, done or aborted), if any.
  std::optional<ChangeRecord> own_change() const;
  // Members whose acknowledgement this node's in-flight change still waits for (down ones
  // included; at most 64), as of the last round.
  const std::vector<NodeId>& change_waiting_for() const { return change_waiting_; }
  // The in-flight change this node routes by (the first by precedence among those it sees).
  // `to_be_removed`: as if that node's removal had started (its own removenode no longer counts).
  std::optional<std::pair<NodeId, ChangeRecord>> active_change(const NodeId* to_be_removed = nullptr) const;
  // The cluster's ring version as this node's state holds it: the highest epoch any entry
  // gossips (ring()->version() is its value()).
  RingEpoch ring_version() const;
  // Grows whenever this node changed its own ownership (a step of its change, an adopted copy):
  // the runtime writes such a change with sync before anything is sent, so a crash of the host
  // cannot take the node back to a step its peers have already passed.
  uint64_t ownership_writes() const { return ownership_writes_; }

  // The transport could not even connect to this peer (connection refused: nothing listens at its
  // address). Ends an outstanding probe or check of that peer as failed now instead of at its
  // timeout; with no probe in flight, probes that peer now. Never suspects without a probe.
  std::vector<Envelope> peer_refused(Millis now, const NodeId& id);

  // This node is shutting down: a "down" record about itself at a higher incarnation, sent to
  // every peer not known to be down, so they mark it down at once instead of after a suspicion.
  std::vector<Envelope> announce_shutdown(Millis now);

  // Keeps wall time current (see EngineConfig::wall_offset): the runtime calls it before each
  // tick, so a clock stepped by NTP moves the HLC and the generation bound with it.
  void set_wall_offset(Millis offset) { config_.wall_offset = offset; }
  uint64_t wall_ms(Millis now) const { return static_cast<uint64_t>(std::max<Millis>(now + config_.wall_offset, 0)); }

  // The hybrid logical clock: wall-clock milliseconds << 16 | a logical counter; never behind a
  // stamp this node issued or accepted. The runtime persists it and restores it with observe_hlc.
  HlcStamp hlc() const { return hlc_; }
  void observe_hlc(HlcStamp stamp) { hlc_ = std::max(hlc_, stamp); }
  // A new stamp: after every stamp seen, and not behind the wall clock.
  HlcStamp next_hlc(Millis now);

  // True once this node learned that an operator removed it (a REMOVED tombstone naming it):
  // from then on it claims nothing, sends nothing and answers nothing; the runtime stops.
  bool removed() const { return removed_; }
  // Why this node cannot go on (a --replace of a node that is not there to replace), once known:
  // it is then LEFT, owning nothing, and claims nothing more; it keeps gossiping so that its
  // peers learn it left (see own_entry_shared), and the runtime stops with this line.
  const std::string& fatal() const { return fatal_; }
  // True once some peer holds this node's entry as it is now: a peer's digest showed it, or this
  // node sent it in answer to a peer's request (an Ack or Ack2 of an exchange). A node that gives
  // up waits for this, bounded, before it stops, so its LEFT reaches the cluster: a JOINING ghost
  // would hold every change's barrier.
  bool own_entry_shared() const;
  // Members whose gossiped placement did not yet show this node's join at its last round (down
  // ones included: no join completes on one side of a partition; at most 64). Empty unless this
  // node is joining with a claim.
  const std::vector<NodeId>& join_waiting_for() const { return join_waiting_; }
  // How many tokens this node gossips (its claim) — more than it owns while a lost claim is
  // repaired.
  size_t claimed_tokens() const;
  // One-line notices for the runtime's log (a lost claim, a removal, a join that waits).
  std::vector<std::string> take_notices() {
    std::vector<std::string> out;
    out.swap(notices_);
    return out;
  }

  // Every node this node sees as up or not yet heard from (itself included) gossips the ring
  // digest this node routes with, and none of them is JOINING, LEAVING or MOVING.
  bool converged();
  // This node's status as it gossips it.
  std::optional<NodeStatus> own_status() const;

  // Does whatever is due at `now`: a gossip round every gossip_interval, a probe every
  // probe_interval, probe and suspicion timeouts. Call again by next_deadline().
  std::vector<Envelope> tick(Millis now);
  std::vector<Envelope> on_message(Millis now, const Message& msg);
  Millis next_deadline() const;

  // The newest wire version the node at `address` gossips that it speaks (0: unknown), for
  // writing to a peer this node has not heard from yet (gossip::PeerVersions).
  uint32_t wire_version_at(const std::string& address) const {
    auto it = wire_by_address_.find(address);
    return it == wire_by_address_.end() ? 0 : it->second;
  }

  // Liveness of a peer as this node sees it (itself: always up).
  PeerLiveness liveness(const NodeId& id) const { return liveness_.view(id); }
  const LivenessTable& liveness_table() const { return liveness_; }
  std::vector<LivenessRecord> take_marked_down() { return liveness_.take_marked_down(); }

  // The ring this node routes with, derived from the merged state (rebuilt when it changed).
  std::shared_ptr<const RingSnapshot> ring();

 private:
  Message make(Body body, const NodeId* to = nullptr);
  Ping ping_for(uint64_t seq, const NodeId& target) const;
  void merge(const NodeDelta& delta, Millis now);
  void gossip_round(Millis now, std::vector<Envelope>& out);
  void probe_step(Millis now, std::vector<Envelope>& out);
  // Checks a suspect directly, unless a check is already in flight.
  void start_check(Millis now, std::vector<Envelope>& out);
  void push_fresh_rumors(std::vector<Envelope>& out);
  void send_greetings(std::vector<Envelope>& out);
  void hurry(Millis now);
  void apply_rumors(const Message& msg, Millis now, std::vector<Envelope>& out);
  // on_message's handlers, one per message type (Rumor and Ack2 need none of their own).
  void on_ping(Millis now, const Message& msg, const Ping& ping, std::vector<Envelope>& out);
  void on_ping_ack(Millis now, const Message& msg, const PingAck& pack, std::vector<Envelope>& out);
  void on_ping_req(Millis now, const Message& msg, const PingReq& req, std::vector<Envelope>& out);
  void on_syn(const Message& msg, const Syn& syn, std::vector<Envelope>& out);
  void on_syn_reply(const Message& msg, const SynReply& rep, std::vector<Envelope>& out);
  void on_digests(const Message& msg, const Digests& dg, std::vector<Envelope>& out);
  void on_ack(Millis now, const Message& msg, const Ack& ack, std::vector<Envelope>& out);
  // Up to `want` distinct random peers that are not down (and not `except`), as (id, address).
  std::vector<std::pair<NodeId, std::string>> random_live_peers(size_t want, const NodeId* except);
  std::vector<NodeDelta> deltas_for(const std::vector<Digest>& wanted);
  std::vector<std::pair<NodeId, std::string>> pick_peers();
  std::string address_of(const NodeId& id) const;
  bool accept(const Message& msg);
  static uint64_t ring_hash(const NodeId& id, const NodeState* st);
  // Every change to an entry goes through here, keeping ring_input_ (the XOR of ring_hash over
  // all entries) exact; `change` returns whether it changed anything.
  template <class Change>
  bool change_entry(const NodeId& id, Change&& change);
  void start(Millis now);
  void update_membership(Millis now);
  // The members that do not yet gossip our ring. `barrier` (joins): every member not LEFT or
  // REMOVED, down ones included, must show our placement, and no joiner may lack tokens;
  // otherwise (converged()) every member this node sees as up must gossip our ring digest.
  // Stops after `limit` ids.
  std::vector<NodeId> not_agreeing(const RingSnapshot& ring, bool barrier, size_t limit);
  bool ring_agreed(const RingSnapshot& ring, bool barrier) { return not_agreeing(ring, barrier, 1).empty(); }
  void claim(const std::vector<Token>& tokens, Millis now);
  // An established owner whose gossiped tokens lost a conflict drops them and claims as many new
  // ones (see docs/design.md, "Token conflicts").
  void repair_lost_claims();
  // Phased changes: every member's acknowledgement, and the coordinator's step.
  void publish_seen();
  void drive_own_change(Millis now);
  void set_step(ChangeRecord change, ChangeStep step);
  // Why this node may not decommission because of replication (empty: it may).
  std::string replication_refusal();
  // Why this node may not start a change now (empty: it may).
  // `subject`: the dead node a removal is for (its own state does not refuse it).
  std::string change_refusal(const NodeId* subject = nullptr);
  void start_change(ChangeKind kind, Millis now, const NodeId& subject = NodeId());
  void start_join_change(Millis now);
  // --replace: waits to learn the cluster, to see the replaced node down and no change in flight,
  // then claims its tokens and announces the replace.
  void drive_replace(Millis now);
  // A --replace that cannot go on: fatal() says why; the node ends LEFT, owning nothing.
  void give_up(std::string why, Millis now);
  // A peer holds (or was just sent) this node's entry up to `version` of `generation`.
  void note_own_shared(const NodeId& id, Generation generation, Version version);
  // A member (not LEFT or REMOVED, not `except`, not this node) that does not gossip the change
  // records this build writes (keys::kChanges): an older build, during a rolling upgrade.
  std::optional<NodeId> member_without_changes(const NodeId* except) const;
  // Writes the REMOVED tombstone for `id` (the end of a removal, or a forced one).
  void write_tombstone(const NodeId& id);
  // Before this node changes the ring: its epoch becomes the ring version + 1.
  void bump_epoch();
  std::vector<NodeId> not_acknowledging(const ChangeRecord& change, bool data, size_t limit) const;
  // Refuses (and counts) a remote entry this node must not hold; empty when it may merge.
  bool admissible(const NodeDelta& delta, Millis now);
  // A generation further ahead of this node's wall clock than max_generation_ahead_s.
  bool generation_too_far_ahead(Generation generation, Millis now) const;
  // admissible's size bounds (max_members, max_keys_per_entry, max_value_bytes); `known`: the
  // entry this node holds for delta.id, if any.
  bool within_bounds(const NodeDelta& delta, const NodeState* known);
  void note(std::string text) {
    if (notices_.size() < 64) notices_.push_back(std::move(text));
  }
  // set_local, unless the value is already what we gossip.
  void publish(std::string_view key, std::string value);
  void collect_left(Millis now);
  // What a peer holds of this node's own entry, from its digest, its request or its probe.
  // Returns true when that copy is from an earlier run and newer than anything this node knows of
  // itself (its data dir is behind): fetch it with fetch_own_copy instead of sending ours. A copy
  // of this run with a higher version makes this node re-author its values above it.
  bool peer_holds_own(Generation generation, Version version);
  // Asks the peer at `address` for its whole copy of this node's entry.
  void fetch_own_copy(const std::string& address, const NodeId* peer, std::vector<Envelope>& out);
  // A copy of this node's entry from an earlier run, newer than its data dir: take its claim.
  void adopt_own_copy(const NodeState& copy, Millis now);

  // Constant after construction (cluster_id aside: learned from the first peer).
  EngineConfig config_;
  const std::string replication_text_;  // config_.replication.canonical(), on every message
  Rng& rng_;
  RingCache& ring_cache_;

  ClusterState state_;
  Version local_version_;
  uint64_t ring_input_ = 0;  // XOR of ring_hash over all entries (see change_entry)
  size_t tombstones_ = 0;    // entries that are tombstones (kept by change_entry)
  std::vector<NodeId> changing_;  // entries gossiping an in-flight change (kept by change_entry)
  uint64_t ownership_writes_ = 0;
  Millis last_fetch_ = -1;        // when this node last asked a prober for its copy of us
  std::unordered_map<std::string, uint32_t> wire_by_address_;  // "wire" by "address" (change_entry)
  uint64_t ring_built_for_ = 0;
  std::shared_ptr<const RingSnapshot> ring_;
  EngineStats stats_;

  // Failure detection.
  LivenessTable liveness_;
  struct Probe {
    NodeId target;
    std::string address;
    uint64_t seq = 0;
    Millis sent_at = 0;
    bool indirect_sent = false;
  };
  std::optional<Probe> probe_;
  // A direct check of a suspect, besides the regular probe: the Ping carries the suspicion, so a
  // live suspect answers with its refutation straight to us; silence counts as a confirmation.
  std::optional<Probe> check_;
  struct Relay {
    std::string requester;
    uint64_t requester_seq;
    Millis expires;
    NodeId target;
  };
  std::unordered_map<uint64_t, Relay> relays_;  // our seq → whom to tell
  uint64_t next_seq_ = 1;
  Millis next_gossip_ = 0;
  Millis last_round_ = -1;
  Millis regular_gossip_ = 0;  // the next round of the regular cadence
  Millis next_probe_ = 0;
  Millis last_tick_ = -1;

  // Membership.
  bool started_ = false;
  JoinProcess join_;
  HlcStamp hlc_;                      // last HLC stamp issued or seen
  std::optional<uint64_t> published_digest_;  // ring digest last gossiped (or found gossiped)
  std::optional<std::string> pending_load_;
  Millis load_published_at_ = -1;
  NodeMap<Millis> left_seen_;         // when this node first saw an entry as LEFT; -1 handled
  std::vector<NodeId> greet_;         // newly learned nodes to ping once (send_greetings)
  bool removed_ = false;
  std::string fatal_;
  Version own_shared_;  // the highest version of this run's own entry a peer holds or was sent
  std::string replace_wait_;  // last reported reason a --replace waits
  Millis replace_learning_since_ = -1;  // --replace: when the node first knew a peer
  std::vector<NodeId> join_waiting_;  // last reported (a notice when it changes)
  std::vector<NodeId> change_waiting_;  // last reported for this node's in-flight change
  size_t catchup_offset_ = 0;         // where the next down-record catch-up starts
  // The newest (generation, version) of this node's own entry from an earlier run that it knows
  // of: its data dir's, then any newer copy adopted from a peer.
  std::pair<Generation, Version> newest_own_copy_;
  Generation newer_generation_noted_;
  // Nodes whose generation was refused as too far ahead, said once each (at most 64 remembered).
  std::vector<NodeId> generation_ahead_noted_;
  std::vector<std::string> notices_;
};

}  // namespace ringkeeper::gossip
