// Wire codec: Message <-> length-prefixed msgpack frame with a wire-format version, the cluster
// name and, when a secret is set, an HMAC-SHA256 over the frame. Pure functions; any thread.
// The simulator passes every message through these, exactly as the TCP transport does.
//   std::string frame = encode(msg, opts);
//   DecodeResult r = decode(frame, opts);   // r.error says why a frame was refused
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gossip/messages.h"

namespace ringkeeper::gossip {

inline constexpr uint32_t kWireVersion = 1;
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
// Keys of one entry: 9 well-known ones plus the embedder's "x.NAME" values.
inline constexpr uint32_t kMaxKeysPerEntry = 1024;
inline constexpr uint32_t kMaxKeyBytes = 256;
// One value (and any other string). The largest a node writes is `tokens`, up to 21 bytes a token:
// 86 KB at 4096 tokens, the --num-tokens maximum.
inline constexpr uint32_t kMaxValueBytes = 256 << 10;
// Array nesting: the schema needs 6 (payload, body, list, delta, values, one value); 2 more let
// this build skip a nested trailing field that a later one adds.
inline constexpr uint32_t kMaxDepth = 8;

struct CodecOptions {
  std::string cluster_name = "ringkeeper";
  std::string secret;  // empty: no MAC
  size_t max_frame = kDefaultMaxFrame;
};

// Why a frame was refused; each reason has its own counter in the runtime.
enum class DecodeError : uint8_t {
  kNone = 0,
  kTruncated,     // fewer bytes than the length prefix says (more may still arrive)
  kOversized,     // the length prefix exceeds max_frame
  kBadMac,        // MAC missing or wrong
  kWrongVersion,  // a wire version this build does not speak
  kWrongCluster,  // another cluster's name
  kMalformed,     // not a message at all, or over one of the caps above
};
std::string_view to_string(DecodeError e);

struct DecodeResult {
  DecodeError error = DecodeError::kNone;
  std::optional<Message> message;
  size_t consumed = 0;  // bytes of the frame (valid when error is not kTruncated/kOversized)
};

std::string encode(const Message& msg, const CodecOptions& opts);
// Decodes the first frame in `bytes` (a stream may hold several).
DecodeResult decode(std::string_view bytes, const CodecOptions& opts);

// One node's entry as bytes, for the state store (same msgpack layout as a delta on the wire).
std::string encode_node_state(const NodeState& state);
std::optional<NodeState> decode_node_state(std::string_view bytes);

}  // namespace ringkeeper::gossip
