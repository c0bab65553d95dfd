// LivenessTable: what one node believes about every other node's liveness (SWIM with Lifeguard's
// suspicion refinements), and the rumors that spread those beliefs. Records are ordered by
// (generation, incarnation, severity), so a stale "down" can never kill a restarted node. Owned by
// one GossipEngine; not thread-safe; never reads a clock (times are passed in).
#pragma once

#include <cstdint>
#include <optional>

#include <vector>

#include "gossip/interfaces.h"
#include "gossip/messages.h"
#include "gossip/node_map.h"
#include "ringkeeper/peer_liveness.h"

namespace ringkeeper::gossip {

// What the router and `ringctl status` see: the public enum, so the node hands it out as is.
using ringkeeper::PeerLiveness;
std::string_view to_string(PeerLiveness l);

struct LivenessTimings {
  Millis probe_interval = 500;
  Millis probe_timeout = 200;       // direct probe, then indirect probes until the interval ends
  uint32_t indirect_probes = 3;
  double suspicion_min_mult = 2.0;  // min timeout = mult × log10(max(N, 10)) × probe_interval
  double suspicion_max_mult = 3.0;  // max timeout = this × min timeout
  uint32_t confirmations = 3;       // independent suspicions that bring the timeout to its min
  double retransmit_mult = 3.0;     // a rumor is piggybacked mult × log10(N+1) + 1 times
  uint32_t rumors_per_message = 8;
};

class LivenessTable {
 public:
  LivenessTable(NodeId self, LivenessTimings timings) : self_(self), timings_(timings) {}

  // This node's own record.
  const LivenessRecord& self_record() const { return self_record_; }
  void set_self_generation(Generation generation);

  // The view of a peer: unknown until heard of since start.
  PeerLiveness view(const NodeId& id) const;
  const LivenessRecord* record(const NodeId& id) const;
  // Marks a peer as heard from directly (a message arrived from it).
  void heard(const NodeId& id);

  // The peer's entry in the cluster state has this generation: older records are void, and a
  // newer generation makes it up (it restarted).
  void on_generation(const NodeId& id, Generation generation, Millis now);

  // Applies a rumor from `source`. Returns true if it changed this node's view (then it is also
  // queued for re-dissemination). A rumor about this node that says suspect or down is refuted.
  // "Down" from a third party is taken as a confirmed suspicion (see liveness.cc).
  bool apply(const LivenessRecord& r, const NodeId& source, Millis now);

  // This node's own failed probe of `id`, whose entry has `generation`: suspect it at that
  // generation and the incarnation we know.
  bool suspect(const NodeId& id, Generation generation, Millis now);

  // A direct check of a suspect failed: local evidence that shortens its suspicion (Lifeguard's
  // confirmations, counted from this node's own failed checks, since forwarded rumors cannot
  // tell independent suspicions from copies).
  void confirm(const NodeId& id);
  // A suspect whose connection was refused (nothing listens at its address): down now.
  bool mark_down(const NodeId& id);
  // A suspect to check directly this interval (round robin), if any.
  std::optional<NodeId> suspect_to_check();

  // Suspicions whose timeout passed become down (see take_marked_down).
  void expire(Millis now, size_t cluster_size);
  // The node itself was stalled (its timers fired late): give every running suspicion a fresh
  // timeout, so its own pause is not taken for everyone else's failure.
  void restart_suspicions(Millis now);
  // Earliest time a suspicion may expire, or nullopt.
  std::optional<Millis> next_expiry(size_t cluster_size) const;

  // Rumors to piggyback on the next message; counts a transmission for each.
  std::vector<LivenessRecord> take_rumors(size_t cluster_size);
  // Rumors learned since the last call, to push to a few peers at once.
  std::vector<LivenessRecord> take_fresh();
  bool has_fresh() const { return !fresh_.empty(); }

  size_t count(PeerLiveness l) const;
  // Order-independent hash of every record this node holds as down: equal on two nodes that
  // agree on who is down. Carried by Syn, so a node that missed a rumor (it was paused, or the
  // epidemic missed it) catches up in one exchange; constant while nothing changes.
  uint64_t down_digest() const { return down_digest_; }
  // Up to `limit` down records, starting at the `start`-th (modulo their count) and wrapping:
  // successive calls with a growing start cover every one.
  std::vector<LivenessRecord> down_records(size_t limit, size_t start = 0) const;
  size_t down_count() const { return down_count_; }
  // Grows whenever any peer's record or view changes: observers compare it instead of scanning.
  uint64_t changes() const { return changes_; }
  // Peers held as suspect or down: when zero, callers skip per-peer lookups on hot paths.
  size_t non_up_count() const { return down_count_ + suspects_.size(); }
  // Down records this node adopted since the last call (for observers: tests, the simulator).
  std::vector<LivenessRecord> take_marked_down() {
    std::vector<LivenessRecord> out;
    out.swap(marked_down_);
    return out;
  }
  template <class F>
  void for_each(F&& f) const {
    entries_.for_each([&](const NodeId& id, const Entry& e) { f(id, e.record, e.view); });
  }

 private:
  struct Entry {
    LivenessRecord record;
    PeerLiveness view = PeerLiveness::kUnknown;
    Millis suspect_since = 0;
    uint32_t confirmations = 0;  // this node's failed direct checks during the suspicion
  };
  struct Rumor {
    LivenessRecord record;
    uint32_t sent = 0;
  };

  Millis suspicion_timeout(size_t confirmations, size_t cluster_size) const;
  // Every change of an entry's record or view goes through here (keeps down_digest_).
  void set(Entry& e, const LivenessRecord& r, PeerLiveness view);
  void enqueue(const LivenessRecord& r);
  void refute(Incarnation incarnation);

  NodeId self_;
  LivenessTimings timings_;
  LivenessRecord self_record_;
  NodeMap<Entry> entries_;
  std::vector<NodeId> suspects_;  // ids with a running suspicion
  size_t next_check_ = 0;
  std::vector<Rumor> rumors_;
  std::vector<LivenessRecord> fresh_;
  std::vector<LivenessRecord> marked_down_;
  uint64_t down_digest_ = 0;
  size_t down_count_ = 0;
  uint64_t changes_ = 0;
};

}  // namespace ringkeeper::gossip
