// Gossip protocol messages: plain values passed between GossipEngine and the codec.
// See docs/wire.md for the exchange (Syn → SynReply → Digests → Ack → Ack2) and the frame.
// Plain values owned by whoever holds them; safe to copy and read from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "gossip/cluster_state.h"
#include "ringkeeper/ring/types.h"

namespace ringkeeper::gossip {

// Liveness as one node sees another: ordered by (generation, incarnation, then severity).
enum class Liveness : uint8_t { kUp = 0, kSuspect = 1, kDown = 2 };

struct LivenessRecord {
  NodeId node;
  Generation generation;
  Incarnation incarnation;
  Liveness state = Liveness::kUp;
  bool operator==(const LivenessRecord&) const = default;
  // True if this record overrides `other` about the same node.
  bool supersedes(const LivenessRecord& other) const;
};

// Opens an exchange: the initiator's summary hash. Equal summaries end it here.
struct Syn {
  uint64_t summary = 0;
  uint64_t down_digest = 0;  // LivenessTable::down_digest() of the sender
  bool operator==(const Syn&) const = default;
};
// Summaries differ: the responder's per-bucket hashes, to narrow the difference down.
struct SynReply {
  std::vector<uint64_t> buckets;
  bool operator==(const SynReply&) const = default;
};
// The initiator's digests for the buckets that differ.
struct Digests {
  std::vector<uint32_t> buckets;
  std::vector<Digest> digests;
  bool operator==(const Digests&) const = default;
};
// The responder's newer entries, and what it wants from the initiator.
struct Ack {
  std::vector<NodeDelta> deltas;
  std::vector<Digest> requests;
  bool operator==(const Ack&) const = default;
};
struct Ack2 {
  std::vector<NodeDelta> deltas;
  bool operator==(const Ack2&) const = default;
};
// Failure detection: direct probe, its answer, and a request to probe on someone's behalf.
// A Ping names the node it is meant for: a different node now listening at that address (a wiped
// data dir, a new id) must not answer for the one the prober is checking. Nil target: a peer one
// wire revision older, which sent no target; answered as before.
struct Ping {
  uint64_t seq = 0;
  NodeId target;
  Generation target_generation;  // the generation the prober knows for the target (0: unknown)
  bool operator==(const Ping&) const = default;
};
// An answer names who answered — the probed node itself, or, relayed by a helper, the node the
// helper reached — and that node's generation, so a prober takes no answer from another node for
// its target. Nil `about`: a version-1 peer, which sent neither; taken as before.
struct PingAck {
  uint64_t seq = 0;
  NodeId about;
  Generation about_generation;
  bool operator==(const PingAck&) const = default;
};
struct PingReq {
  uint64_t seq = 0;
  NodeId target;
  std::string target_address;
  bool operator==(const PingReq&) const = default;
};
// Only liveness rumors ride on it (a node shutting down, or a pushed rumor).
struct Rumor {
  bool operator==(const Rumor&) const = default;
};

// Operator keyring commands (`ringctl keys`): sent by the node that took the command to every live
// member, and each member's answer. The node runtime handles both (node/key_ops.h); the engine
// never sees them. A KeyOp is obeyed only when it arrived sealed, or the receiver holds no primary
// key yet (docs/security.md).
enum class KeyOpKind : uint8_t { kList = 0, kInstall = 1, kUse = 2, kRemove = 3 };
struct KeyOp {
  uint64_t op = 0;  // the coordinator's id for the command, echoed by the answers
  KeyOpKind kind = KeyOpKind::kList;
  std::string key;          // install: the raw 32-byte key; empty otherwise
  std::string fingerprint;  // use, remove: the key's fingerprint (gossip/seal.h)
  bool operator==(const KeyOp&) const = default;
};
struct KeyOpAck {
  uint64_t op = 0;
  std::string error;                      // empty: applied (or, for list, answered)
  std::string primary;                    // the answering node's primary key's fingerprint ("" none)
  std::vector<std::string> fingerprints;  // every key it holds, after the command
  bool operator==(const KeyOpAck&) const = default;
};

using Body = std::variant<Syn, SynReply, Digests, Ack, Ack2, Ping, PingAck, PingReq, Rumor, KeyOp, KeyOpAck>;

struct Message {
  NodeId from;
  ClusterId cluster_id;      // nil while the sender has not learned it
  std::string replication;   // ReplicationConfig::canonical() of the sender
  std::string from_address;  // where the sender listens
  Body body;
  std::vector<LivenessRecord> liveness;  // piggybacked rumors
  bool operator==(const Message&) const = default;
};

}  // namespace ringkeeper::gossip
