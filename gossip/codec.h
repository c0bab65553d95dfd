// Wire codec: Message <-> length-prefixed msgpack frame with a wire-format version and the cluster
// name. Pure functions; any thread. With a gossip key these frames travel sealed (AES-256-GCM,
// gossip/seal.h), which wraps this codec's frames without changing them.
// The simulator passes every message through these, exactly as the TCP transport does.
//   std::string frame = encode(msg, opts);
//   DecodeResult r = decode(frame, opts);   // r.error says why a frame was refused
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "gossip/messages.h"

namespace ringkeeper::gossip {

// Wire versions. A node reads frames of kMinWireVersion..kWireVersion and writes to each peer the
// newest version both speak (PeerVersions below), so a cluster upgrades one node at a time: every
// build speaks the one before it. A change a peer one version older could misread bumps
// kWireVersion (and, once no supported build needs it, kMinWireVersion); a trailing field that
// older readers skip needs no bump (docs/wire.md, "Versions and rolling upgrades").
//   1  the first protocol
//   2  Ping names its target (id, generation): a node answers only probes meant for it; PingAck
//      names who answered (id, generation); every frame says the newest version its sender speaks
inline constexpr uint32_t kWireVersion = 2;
inline constexpr uint32_t kMinWireVersion = 1;
inline constexpr size_t kDefaultMaxFrame = 4 << 20;

// The most the decoder accepts; a frame over any cap is refused as kMalformed before the decoder
// allocates for what it claims. Every cap sits far above what a node sends, because a legitimate
// entry over a cap could not travel at all: embedders must keep their "x." values under them.
//
// Entries in one list of a message (digests, deltas, requests). A 4 MiB frame holds at most ~200k
// of the smallest realistic entries (a request for an unknown id is 21 bytes), so 2^18 never
// refuses what max_frame lets through; a 10k-node cluster sends 10k.
inline constexpr uint32_t kMaxListEntries = 1 << 18;
// Liveness records on one message: the engine sends at most ~270 (a catch-up of 256, plus rumors).
inline constexpr uint32_t kMaxLivenessRecords = 4096;
// Elements of all lists of one message together (digests, deltas, every delta's values, liveness
// records, buckets): one full list beside the small ones. What bounds the memory a frame can make
// the decoder allocate (about 20 MB at worst for a 4 MiB frame).
inline constexpr uint32_t kMaxElementsPerMessage = (1 << 18) + 4096 + 2 * 64;
// Keys of one entry: 9 well-known ones plus the embedder's "x.NAME" values.
inline constexpr uint32_t kMaxKeysPerEntry = 1024;
inline constexpr uint32_t kMaxKeyBytes = 256;
// One value (and any other string): four times the engine's bound on a value
// (EngineConfig::max_value_bytes, 256 KiB), so that an entry over that bound still decodes and
// the engine refuses that entry alone (counted as `bounds`) instead of the codec refusing the
// whole frame, every other entry in it included (as `malformed`). The largest value a node
// writes is `tokens`, up to 21 bytes a token: 86 KB at kMaxTokensPerNode (4096) tokens.
inline constexpr uint32_t kMaxValueBytes = 1 << 20;
// Array nesting: the schema needs 6 (payload, body, list, delta, values, one value); 2 more let
// this build skip a nested trailing field that a later one adds.
inline constexpr uint32_t kMaxDepth = 8;

// Each message type's tag on the wire, fixed for good whatever the order of Body's alternatives
// (a new type takes the next free number; codec_test pins them).
namespace wire_tag {
inline constexpr uint32_t kSyn = 0, kSynReply = 1, kDigests = 2, kAck = 3, kAck2 = 4, kPing = 5, kPingAck = 6,
                          kPingReq = 7, kRumor = 8, kKeyOp = 9, kKeyOpAck = 10;
}
uint32_t wire_tag_of(const Body& body);

struct CodecOptions {
  std::string cluster_name = "ringkeeper";
  size_t max_frame = kDefaultMaxFrame;
  // The newest version this node reads and writes (lower only to stand in for an older build in
  // tests); frames above it are refused as kWrongVersion.
  uint32_t newest_version = kWireVersion;
};

// Why a frame was refused; each reason has its own counter in the runtime.
enum class DecodeError : uint8_t {
  kNone = 0,
  kTruncated,     // fewer bytes than the length prefix says (more may still arrive)
  kOversized,     // the length prefix exceeds max_frame
  kBadMac,        // a sealed frame no installed key authenticates (tampered, or another key)
  kWrongVersion,  // a wire version this build does not speak
  kWrongCluster,  // another cluster's name (or, sealed, another cluster id)
  kMalformed,     // not a message at all, or over one of the caps above
  // Sealed frames (gossip/seal.h); appended, so the values above keep their metric indices.
  kPlaintext,     // a plaintext frame to a node that encrypts and does not accept plaintext
  kReplayed,      // a sealed frame whose nonce this node has already accepted from that sender
  kStale,         // a sealed frame sent further from this node's clock than the frame age bound
};
std::string_view to_string(DecodeError e);

struct DecodeResult {
  DecodeError error = DecodeError::kNone;
  // The message (error kNone). Also set with kWrongCluster when the rest of the frame decodes, so
  // that the runtime can name the sender and answer a refused opening message (docs/design.md,
  // "Refusals"); it must not be acted on otherwise.
  std::optional<Message> message;
  std::string foreign_cluster;  // kWrongCluster: the name the frame carries (its first 64 bytes)
  size_t consumed = 0;        // bytes of the frame (valid when error is not kTruncated/kOversized)
  uint32_t version = 0;       // the frame's wire version
  uint32_t sender_newest = 0; // the newest version its sender speaks
  bool sealed = false;        // it came sealed (set by SealedCodec::decode, gossip/seal.h)
};

// Encodes at `version` (kMinWireVersion..opts.newest_version; default: opts.newest_version).
std::string encode(const Message& msg, const CodecOptions& opts, uint32_t version = 0);
// Decodes the first frame in `bytes` (a stream may hold several).
DecodeResult decode(std::string_view bytes, const CodecOptions& opts);

// The newest wire version each peer speaks, by address, as its frames say: the version to write
// to it. A peer not heard from yet gets what its gossiped entry says it speaks, or else
// kMinWireVersion (every supported build reads it; the frame tells the peer what we speak, so its
// answer and what follows use the newest both speak).
// Bounded: past max_peers addresses it forgets them all and learns again.
class PeerVersions {
 public:
  explicit PeerVersions(uint32_t own_newest = kWireVersion, size_t max_peers = 1 << 16)
      : own_newest_(own_newest), max_peers_(max_peers) {}
  void heard(const std::string& address, uint32_t sender_newest);
  // `gossiped`: what the peer's entry says it speaks (GossipEngine::wire_version_at; 0 unknown),
  // used until a frame from that address says otherwise.
  uint32_t version_for(const std::string& address, uint32_t gossiped = 0) const;

 private:
  uint32_t own_newest_;
  size_t max_peers_;
  std::unordered_map<std::string, uint32_t> newest_;
};

// One node's entry as bytes, for the state store (same msgpack layout as a delta on the wire).
std::string encode_node_state(const NodeState& state);
std::optional<NodeState> decode_node_state(std::string_view bytes);

}  // namespace ringkeeper::gossip
