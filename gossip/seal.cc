// Sealed frames (gossip/seal.h): AES-256-GCM through OpenSSL's EVP interface.
#include "gossip/seal.h"

#include <cctype>
#include <memory>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

namespace ringkeeper::gossip {

namespace {

using Bytes = const unsigned char*;
Bytes u8(std::string_view s) { return reinterpret_cast<Bytes>(s.data()); }

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// Every sender seals under a key of its own, derived from the shared key and its node id, so
// two senders never use one (key, nonce) pair even when their epochs and counters coincide.
std::string sender_key(std::string_view raw_key, const NodeId& sender) {
  std::string input = "ringkeeper gossip seal v1";
  for (int i = 0; i < 8; ++i) input += static_cast<char>(sender.hi() >> (56 - 8 * i));
  for (int i = 0; i < 8; ++i) input += static_cast<char>(sender.lo() >> (56 - 8 * i));
  return hmac_sha256(raw_key, input);
}

void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>(v >> (8 * i));
}
uint64_t get_be(std::string_view in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(in[at + i]);
  return v;
}

std::string header_bytes(const SealHeader& h) {
  std::string out;
  out += static_cast<char>(kSealedMarker);
  out += static_cast<char>(kSealVersion);
  put_be(out, h.sender.hi(), 8);
  put_be(out, h.sender.lo(), 8);
  put_be(out, h.cluster_id.uuid().hi(), 8);
  put_be(out, h.cluster_id.uuid().lo(), 8);
  put_be(out, static_cast<uint64_t>(h.sent_wall_ms), 8);
  put_be(out, h.nonce.epoch, 4);
  put_be(out, h.nonce.counter, 8);
  return out;
}

SealHeader parse_header(std::string_view p) {
  SealHeader h;
  h.sender = NodeId(get_be(p, 2, 8), get_be(p, 10, 8));
  h.cluster_id = ClusterId(NodeId(get_be(p, 18, 8), get_be(p, 26, 8)));
  h.sent_wall_ms = static_cast<int64_t>(get_be(p, 34, 8));
  h.nonce.epoch = static_cast<uint32_t>(get_be(p, 42, 4));
  h.nonce.counter = get_be(p, 46, 8);
  return h;
}

// Decrypts `cipher` (tag at its end) under `key`; nullopt if it does not authenticate.
std::optional<std::string> gcm_open(std::string_view key, std::string_view header, std::string_view cipher) {
  const std::string_view iv = header.substr(header.size() - 12);
  const std::string_view body = cipher.substr(0, cipher.size() - kSealTagBytes);
  std::string tag(cipher.substr(body.size()));
  Ctx ctx(EVP_CIPHER_CTX_new());
  std::string plain(body.size(), '\0');
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u8(key), u8(iv)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, u8(header), static_cast<int>(header.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, u8(body),
                        static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kSealTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) != 1) {
    return std::nullopt;
  }
  return plain;
}

}  // namespace

// ---- keys --------------------------------------------------------------------------------------

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), u8(message), message.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string key_fingerprint(std::string_view raw_key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(u8(raw_key), raw_key.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

Result<std::string> decode_key_base64(std::string_view text) {
  const Status not_base64 =
      Status::invalid_argument("not base64 (expected the 44 characters of a base64-encoded 32-byte key)");
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  if (text.empty() || text.size() % 4 != 0 || text.size() > 1024) return not_base64;
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), u8(text), static_cast<int>(text.size()));
  if (n < 0) return not_base64;
  // EVP_DecodeBlock counts the padding's zero bytes; take them off.
  size_t len = static_cast<size_t>(n);
  for (size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --len;
  out.resize(len);
  if (len != kGossipKeyBytes) {
    return Status::invalid_argument("decodes to " + std::to_string(len) +
                                    " bytes; an AES-256 key is 32 (make one with `openssl rand -base64 32`)");
  }
  return out;
}

std::string encode_key_base64(std::string_view raw_key) {
  std::string out(4 * ((raw_key.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), u8(raw_key), static_cast<int>(raw_key.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Keyring::install(std::string raw_key) {
  if (raw_key.size() != kGossipKeyBytes) return "a gossip key is 32 bytes";
  if (holds(raw_key)) return "";
  if (keys_.size() >= 64) return "the keyring holds 64 keys already; remove some first";
  keys_.push_back(std::move(raw_key));
  return "";
}

std::string Keyring::use(std::string_view fingerprint) {
  auto i = find(fingerprint);
  if (!i) return "key " + std::string(fingerprint) + " is not installed on this node (install it first)";
  primary_ = static_cast<int>(*i);
  return "";
}

std::string Keyring::remove(std::string_view fingerprint) {
  auto i = find(fingerprint);
  if (!i) return "";
  if (static_cast<int>(*i) == primary_) {
    return "key " + std::string(fingerprint) + " is the primary key; make another key primary (keys use) first";
  }
  keys_.erase(keys_.begin() + static_cast<std::ptrdiff_t>(*i));
  if (primary_ > static_cast<int>(*i)) --primary_;
  return "";
}

bool Keyring::holds(std::string_view raw_key) const {
  for (const std::string& k : keys_) {
    if (k == raw_key) return true;
  }
  return false;
}

std::string Keyring::primary_fingerprint() const { return primary_ < 0 ? "" : key_fingerprint(keys_[primary_]); }

std::vector<std::string> Keyring::fingerprints() const {
  std::vector<std::string> out;
  for (const std::string& k : keys_) out.push_back(key_fingerprint(k));
  return out;
}

std::optional<size_t> Keyring::find(std::string_view fingerprint) const {
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (key_fingerprint(keys_[i]) == fingerprint) return i;
  }
  return std::nullopt;
}

// ---- one frame ---------------------------------------------------------------------------------

bool is_sealed(std::string_view frame) {
  return frame.size() > 4 && static_cast<uint8_t>(frame[4]) == kSealedMarker;
}

std::string seal(std::string_view frame, std::string_view raw_key, const SealHeader& header) {
  const std::string head = header_bytes(header);
  const std::string key = sender_key(raw_key, header.sender);
  const std::string_view plain = frame.substr(4);  // the payload: its length is implied
  std::string out(4, '\0');
  out += head;
  const size_t body_at = out.size();
  out.resize(body_at + plain.size() + kSealTagBytes);
  auto* body = reinterpret_cast<unsigned char*>(out.data() + body_at);
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const std::string_view iv = std::string_view(head).substr(head.size() - 12);
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, u8(key), u8(iv)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, u8(head), static_cast<int>(head.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), body, &len, u8(plain), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), body + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kSealTagBytes, body + plain.size()) != 1) {
    throw std::runtime_error("AES-256-GCM failed in OpenSSL");  // a broken library, not input
  }
  const uint32_t n = static_cast<uint32_t>(out.size() - 4);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(n >> (24 - 8 * i));
  return out;
}

Unsealed unseal(std::string_view frame, const Keyring& keyring) {
  Unsealed u;
  const std::string_view payload = frame.substr(4);
  if (payload.size() < kSealHeaderBytes + kSealTagBytes || static_cast<uint8_t>(payload[1]) != kSealVersion) {
    u.error = DecodeError::kMalformed;
    return u;
  }
  u.header = parse_header(payload);
  const std::string_view head = payload.substr(0, kSealHeaderBytes);
  const std::string_view cipher = payload.substr(kSealHeaderBytes);
  // The primary first: nearly every frame was sealed with it.
  std::vector<const std::string*> order;
  if (const std::string* p = keyring.primary()) order.push_back(p);
  for (const std::string& k : keyring.keys()) {
    if (&k != keyring.primary()) order.push_back(&k);
  }
  for (const std::string* key : order) {
    if (auto plain = gcm_open(sender_key(*key, u.header.sender), head, cipher)) {
      u.frame.assign(4, '\0');
      const uint32_t n = static_cast<uint32_t>(plain->size());
      for (int i = 0; i < 4; ++i) u.frame[i] = static_cast<char>(n >> (24 - 8 * i));
      u.frame += *plain;
      return u;
    }
  }
  u.error = DecodeError::kBadMac;
  return u;
}

// ---- a receiver's memory -----------------------------------------------------------------------

bool ReplayWindow::accept(const NodeId& sender, SealNonce nonce) {
  auto it = seen_.find(sender);
  if (it == seen_.end()) {
    if (seen_.size() >= max_senders_) seen_.clear();
    it = seen_.emplace(sender, Seen{nonce}).first;
    it->second.bits[0] = 1;
    return true;
  }
  Seen& s = it->second;
  auto bit = [&](uint64_t i) -> bool { return (s.bits[i / 64] >> (i % 64)) & 1; };
  auto set = [&](uint64_t i) { s.bits[i / 64] |= uint64_t{1} << (i % 64); };
  if (nonce > s.highest) {
    // Slide: a new epoch, or a jump past the whole window, starts it afresh.
    const uint64_t shift = nonce.epoch != s.highest.epoch ? kReplayWindow
                                                          : std::min<uint64_t>(nonce.counter - s.highest.counter, kReplayWindow);
    std::vector<uint64_t> moved(kReplayWindow / 64, 0);
    for (uint64_t i = 0; i + shift < kReplayWindow; ++i) {
      if (bit(i)) moved[(i + shift) / 64] |= uint64_t{1} << ((i + shift) % 64);
    }
    s.bits = std::move(moved);
    s.highest = nonce;
    set(0);
    return true;
  }
  if (nonce.epoch != s.highest.epoch) return false;  // an earlier run of the sender
  const uint64_t back = s.highest.counter - nonce.counter;
  if (back >= kReplayWindow || bit(back)) return false;
  set(back);
  return true;
}

// ---- the codec with a keyring ------------------------------------------------------------------

SealedCodec::SealedCodec(Keyring keyring, Options options, Generation generation)
    : keyring_(std::move(keyring)), options_(options), epoch_(static_cast<uint32_t>(generation.value())) {}

std::string SealedCodec::encode(const Message& msg, const CodecOptions& opts, uint32_t version, int64_t wall_ms) {
  std::string frame = gossip::encode(msg, opts, version);
  const std::string* key = keyring_.primary();
  if (!key) return frame;
  return seal(frame, *key, SealHeader{msg.from, msg.cluster_id, wall_ms, SealNonce{epoch_, ++counter_}});
}

DecodeResult SealedCodec::decode(std::string_view frame, const CodecOptions& opts, int64_t wall_ms) {
  if (!is_sealed(frame)) return decode_plaintext(frame, opts);
  DecodeResult r = open_sealed(frame, opts, wall_ms);
  r.sealed = true;
  return r;
}

DecodeResult SealedCodec::decode_plaintext(std::string_view frame, const CodecOptions& opts) {
  DecodeResult r = gossip::decode(frame, opts);
  if (r.error == DecodeError::kNone && keyring_.primary()) {
    if (!options_.accept_plaintext) return DecodeResult{.error = DecodeError::kPlaintext, .consumed = r.consumed};
    ++plaintext_accepted_;
  }
  // Another cluster's plaintext frame to a node that takes no plaintext: nothing to answer.
  if (r.error == DecodeError::kWrongCluster && keyring_.primary() && !options_.accept_plaintext) r.message.reset();
  return r;
}

DecodeResult SealedCodec::open_sealed(std::string_view frame, const CodecOptions& opts, int64_t wall_ms) {
  // The prefix's bounds first, exactly as for a plaintext frame.
  const uint64_t len = get_be(frame, 0, 4);
  if (len > opts.max_frame) return DecodeResult{.error = DecodeError::kOversized};
  if (frame.size() < 4 + len) return DecodeResult{.error = DecodeError::kTruncated};
  frame = frame.substr(0, 4 + len);
  Unsealed u = unseal(frame, keyring_);
  if (u.error != DecodeError::kNone) return DecodeResult{.error = u.error, .consumed = frame.size()};
  const int64_t age = wall_ms - u.header.sent_wall_ms;
  if (age > options_.max_frame_age_ms || -age > options_.max_frame_age_ms) {
    return DecodeResult{.error = DecodeError::kStale, .consumed = frame.size()};
  }
  if (options_.max_epoch_ahead_s != 0 && wall_ms >= 0 &&
      u.header.nonce.epoch > static_cast<uint64_t>(wall_ms) / 1000 + options_.max_epoch_ahead_s) {
    return DecodeResult{.error = DecodeError::kStale, .consumed = frame.size()};
  }
  if (!window_.accept(u.header.sender, u.header.nonce)) {
    return DecodeResult{.error = DecodeError::kReplayed, .consumed = frame.size()};
  }
  DecodeResult r = gossip::decode(u.frame, opts);
  r.consumed = frame.size();
  // The inside must say what the authenticated header says (another cluster's name or not).
  if (r.message && (r.message->from != u.header.sender || r.message->cluster_id != u.header.cluster_id)) {
    r.error = DecodeError::kMalformed;
    r.message.reset();
  }
  return r;
}

}  // namespace ringkeeper::gossip
