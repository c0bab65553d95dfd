#include "kv/internal_auth.h"

#include <chrono>
#include <cstdlib>

#include <openssl/sha.h>

#include "kv/http_util.h"
#include "kv/service.h"

namespace ringkeeper::kv {

namespace {

int64_t system_wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view header(const HttpRequest& req, const char* name) {
  const auto v = req[name];
  return std::string_view(v.data(), v.size());
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

}  // namespace

std::string auth_message(const HttpRequest& req, std::string_view auth_time) {
  std::string out = "ringkeeper kv internal v1\n";
  out += std::string_view(req.method_string().data(), req.method_string().size());
  out += '\n';
  out += std::string_view(req.target().data(), req.target().size());
  out += '\n';
  out += auth_time;
  for (const char* name : {kRingVersionHeader, kTimestampHeader, kTombstoneHeader, kHintForHeader}) {
    out += '\n';
    out += header(req, name);
  }
  out += '\n';
  out += sha256_hex(req.body());
  return out;
}

std::string describe(AuthVerdict v) {
  switch (v) {
    case AuthVerdict::kAccepted:
    case AuthVerdict::kUnsignedAccepted: return "accepted";
    case AuthVerdict::kMissing:
      return "/internal/ requests must be signed with the cluster key (X-Ringkeeper-Auth): this node has a gossip "
             "keyring";
    case AuthVerdict::kStale:
      return "X-Ringkeeper-Auth-Time is missing or more than " + std::to_string(kMaxAuthSkewMs / 1000) +
             " s from this node's clock (are the clocks synchronised?)";
    case AuthVerdict::kBadMac: return "X-Ringkeeper-Auth does not verify under any key in this node's keyring";
  }
  return "refused";
}

InternalAuth::InternalAuth(const Node& node, Options options) : node_(node), options_(std::move(options)) {}

void InternalAuth::sign(HttpRequest& req) const {
  const std::string now = std::to_string(options_.wall_ms ? options_.wall_ms() : system_wall_ms());
  auto mac = node_.cluster_mac(auth_message(req, now));
  if (!mac) return;
  req.set(kAuthTimeHeader, now);
  req.set(kAuthHeader, to_hex(*mac));
}

AuthVerdict InternalAuth::check(const HttpRequest& req) const {
  if (!node_.has_cluster_key()) return AuthVerdict::kAccepted;
  const std::string_view mac_hex = header(req, kAuthHeader);
  if (mac_hex.empty()) return options_.accept_unsigned ? AuthVerdict::kUnsignedAccepted : AuthVerdict::kMissing;
  const std::string_view time = header(req, kAuthTimeHeader);
  const auto sent = parse_u64(time);
  const int64_t now = options_.wall_ms ? options_.wall_ms() : system_wall_ms();
  if (!sent || *sent > static_cast<uint64_t>(INT64_MAX) || std::abs(static_cast<int64_t>(*sent) - now) > kMaxAuthSkewMs) {
    return AuthVerdict::kStale;
  }
  auto mac = from_hex(mac_hex);
  if (!mac || !node_.verify_cluster_mac(auth_message(req, time), *mac)) return AuthVerdict::kBadMac;
  return AuthVerdict::kAccepted;
}

}  // namespace ringkeeper::kv
