// Sealed gossip frames: the codec's frames (gossip/codec.h) encrypted and authenticated with
// AES-256-GCM under a keyring, per-sender nonces checked against a replay window, and a bound on
// frame age. Pure: the caller passes the wall time and owns the nonce counter's epoch; nothing
// here reads a clock, draws randomness or does I/O. Free functions and Keyring: any thread.
// A SealedCodec (like a ReplayWindow) belongs to one thread (the node thread). docs/security.md
// says why each piece is there; docs/wire.md gives the layout.
//   SealedCodec codec(keyring, {.accept_plaintext = false}, generation);  // a Generation
//   std::string frame = codec.encode(msg, opts, version, wall_ms);     // sealed with the primary
//   DecodeResult r = codec.decode(frame, opts, wall_ms);               // r.error: why refused
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gossip/codec.h"
#include "ringkeeper/status.h"

namespace ringkeeper::gossip {

inline constexpr size_t kGossipKeyBytes = 32;  // AES-256
// The first payload byte of a sealed frame: 0xc1 is the one byte msgpack never uses, so no
// plaintext payload (a msgpack array) starts with it and a reader tells the two apart at once.
inline constexpr uint8_t kSealedMarker = 0xc1;
inline constexpr uint8_t kSealVersion = 1;
// A sealed frame sent more than this before or after the receiver's wall clock is refused
// (kStale). It bounds how long a recorded frame can be replayed to a receiver that restarted
// (its replay window starts empty), at the price of needing clocks within this of each other.
inline constexpr int64_t kMaxFrameAgeMs = 120'000;
// Nonces accepted below the highest one seen from a sender (frames may arrive out of order
// across reconnects); older ones are refused as replays.
inline constexpr uint64_t kReplayWindow = 1024;
// Bytes a seal adds to a frame: marker, version, sender id, cluster id, sent-at, nonce, GCM tag.
inline constexpr size_t kSealHeaderBytes = 1 + 1 + 16 + 16 + 8 + 12;
inline constexpr size_t kSealTagBytes = 16;

// ---- keys --------------------------------------------------------------------------------------

// A key's public name: the first 16 hex digits of SHA-256 of its raw bytes (never the key).
std::string key_fingerprint(std::string_view raw_key);
// The raw key a base64 text (surrounding whitespace ignored) decodes to, exactly 32 bytes;
// kInvalidArgument ("not base64 ...", "decodes to N bytes; ...") otherwise.
Result<std::string> decode_key_base64(std::string_view text);
std::string encode_key_base64(std::string_view raw_key);
// HMAC-SHA256 of `message` under `key`: 32 raw bytes. Keys for purposes other than the seal are
// derived with it from a keyring key and a label of their own (node/cluster_mac.h).
std::string hmac_sha256(std::string_view key, std::string_view message);

// The keys a node opens frames with, one of them primary (what it seals with). A node with no
// primary (no key, or keys installed but none in use yet) sends plaintext.
//   Keyring k;  k.install(raw);  k.use(key_fingerprint(raw));  k.primary();
class Keyring {
 public:
  // Each returns the reason when refused, empty when done (also when there was nothing to do).
  std::string install(std::string raw_key);  // a wrong-length key is refused
  std::string use(std::string_view fingerprint);
  std::string remove(std::string_view fingerprint);  // the primary cannot be removed

  bool empty() const { return keys_.empty(); }
  bool holds(std::string_view raw_key) const;
  // The primary key's raw bytes, or nullptr.
  const std::string* primary() const { return primary_ < 0 ? nullptr : &keys_[primary_]; }
  std::string primary_fingerprint() const;
  // Every key, in the order installed; fingerprints in the same order.
  const std::vector<std::string>& keys() const { return keys_; }
  std::vector<std::string> fingerprints() const;
  bool operator==(const Keyring&) const = default;

 private:
  std::optional<size_t> find(std::string_view fingerprint) const;
  std::vector<std::string> keys_;
  int primary_ = -1;
};

// ---- one frame ---------------------------------------------------------------------------------

// A per-sender nonce: the sender's epoch (its generation, which grows across restarts and is
// synced before it sends anything) and a counter within it. Ordered; every frame a sender seals
// carries a higher one than the last.
struct SealNonce {
  uint32_t epoch = 0;
  uint64_t counter = 0;
  auto operator<=>(const SealNonce&) const = default;
};

// The cleartext, authenticated part of a sealed frame (the GCM associated data).
struct SealHeader {
  NodeId sender;
  ClusterId cluster_id;  // the sender's cluster id (nil until it learned one)
  int64_t sent_wall_ms = 0;
  SealNonce nonce;
};

// True if the frame (length prefix included) is a sealed one.
bool is_sealed(std::string_view frame);
// Seals a codec frame (length prefix included) under `raw_key`; returns the sealed frame.
std::string seal(std::string_view frame, std::string_view raw_key, const SealHeader& header);

struct Unsealed {
  DecodeError error = DecodeError::kNone;  // kBadMac, kMalformed (too short, unknown version)
  SealHeader header;
  std::string frame;  // the codec frame inside (length prefix included)
};
// Authenticates and decrypts with each of the keyring's keys in turn (the primary first).
Unsealed unseal(std::string_view frame, const Keyring& keyring);

// ---- a receiver's memory -----------------------------------------------------------------------

// The nonces accepted from each sender: the highest, and which of the kReplayWindow below it.
// Bounded: past max_senders it forgets them all (the frame age bound still holds).
class ReplayWindow {
 public:
  explicit ReplayWindow(size_t max_senders = 1 << 16) : max_senders_(max_senders) {}
  // True, and remembered, if no frame from `sender` carried `nonce` before and it is not older
  // than the window; false (a replay, or too old to tell) otherwise.
  bool accept(const NodeId& sender, SealNonce nonce);

 private:
  struct Seen {
    SealNonce highest;
    std::vector<uint64_t> bits = std::vector<uint64_t>(kReplayWindow / 64);  // bit i: highest - i
  };
  size_t max_senders_;
  std::unordered_map<NodeId, Seen> seen_;
};

// ---- the codec with a keyring ------------------------------------------------------------------

// What a node sends and accepts: with a primary key every frame goes out sealed; a sealed frame
// in is opened with any installed key, its age and nonce checked and its inside bound to its
// header (same sender, same cluster id); a plaintext frame is accepted only while the node has no
// primary key, or with accept_plaintext (the migration mode).
class SealedCodec {
 public:
  struct Options {
    bool accept_plaintext = false;
    int64_t max_frame_age_ms = kMaxFrameAgeMs;
    // A frame whose nonce epoch (the sender's generation, in seconds) is further ahead of this
    // node's wall clock than this is refused as kStale before it reaches the replay window: a
    // run with a clock far ahead must not push the window past the sender's later, honest runs
    // (--reset-generation). 0: no bound.
    uint64_t max_epoch_ahead_s = kMaxGenerationAheadS;
  };
  // `generation`: the sender's, the nonces' epoch (nonces from a later run must compare higher).
  SealedCodec(Keyring keyring, Options options, Generation generation);

  std::string encode(const Message& msg, const CodecOptions& opts, uint32_t version, int64_t wall_ms);
  // The result's `sealed` says whether the frame came sealed.
  DecodeResult decode(std::string_view frame, const CodecOptions& opts, int64_t wall_ms);

  Keyring& keyring() { return keyring_; }
  const Keyring& keyring() const { return keyring_; }
  const Options& options() const { return options_; }
  uint64_t plaintext_accepted() const { return plaintext_accepted_; }

 private:
  Keyring keyring_;
  Options options_;
  uint32_t epoch_;
  uint64_t counter_ = 0;
  ReplayWindow window_;
  uint64_t plaintext_accepted_ = 0;  // plaintext frames taken while holding a primary key

  // decode's two halves: a plaintext frame (refused while this node seals, unless it accepts
  // plaintext), and a sealed one opened and checked.
  DecodeResult decode_plaintext(std::string_view frame, const CodecOptions& opts);
  DecodeResult open_sealed(std::string_view frame, const CodecOptions& opts, int64_t wall_ms);
};

}  // namespace ringkeeper::gossip
