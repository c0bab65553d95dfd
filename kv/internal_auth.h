// InternalAuth: kvd's replica requests (/internal/ on the kv port) authenticated under the
// cluster's gossip keyring (docs/security.md, "kvd's replica traffic"). When the node has a
// primary gossip key, every request a member sends carries X-Ringkeeper-Auth-Time (its wall
// clock, ms) and X-Ringkeeper-Auth: the hex HMAC-SHA256, by Node::cluster_mac, of
// auth_message() — method, target (path and query), the auth time, the replica protocol's
// headers and the SHA-256 of the body. A receiving member takes it if the time is within
// kMaxAuthSkewMs of its own clock and the MAC verifies under any key it holds (so a rotation
// with `ringctl keys` drops nothing). Without a primary key nothing is signed or required (the
// member-IP check alone, as before); with `accept_unsigned` (kvd in the gossip migration mode,
// --gossip-accept-plaintext) unsigned requests are taken too, but a bad signature never is.
//
// Thread-safe: sign() and check() from any thread (the node's MAC functions are).
//   InternalAuth auth(node, {.accept_unsigned = false});
//   auth.sign(req);                                     // PeerClient, before sending
//   if (auto why = auth.check(req); why != AuthVerdict::kAccepted) ... // 403 bad_auth
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "kv/http_server.h"
#include "ringkeeper/node.h"

namespace ringkeeper::kv {

inline constexpr const char* kAuthHeader = "X-Ringkeeper-Auth";
inline constexpr const char* kAuthTimeHeader = "X-Ringkeeper-Auth-Time";
// A signed request whose auth time is further than this from the receiver's wall clock is
// refused: it bounds how long a recorded request can be replayed (replica writes are idempotent
// under last-write-wins, so a replay cannot make an older value win), at the price of needing
// member clocks within 30 s of each other (kvd's writes already want 10 s).
inline constexpr int64_t kMaxAuthSkewMs = 30'000;

// The bytes a request's MAC covers, one field a line: "ringkeeper kv internal v1", the method,
// the target, the auth time, the values of X-Ringkeeper-Ring-Version, -Timestamp, -Tombstone and
// -Hint-For (empty when absent), and the lowercase hex SHA-256 of the body (no newline after it).
std::string auth_message(const HttpRequest& req, std::string_view auth_time);

enum class AuthVerdict : uint8_t {
  kAccepted,          // signed and verified, or the node has no primary key (nothing to check)
  kUnsignedAccepted,  // unsigned, taken in the migration mode
  kMissing,           // unsigned, and the node requires a signature
  kStale,             // the auth time is missing, malformed or too far from this node's clock
  kBadMac,            // the MAC verifies under no key this node holds
};
// Why a refused request was refused, for the 403's one-line error.
std::string describe(AuthVerdict v);

class InternalAuth {
 public:
  struct Options {
    bool accept_unsigned = false;        // the migration mode
    std::function<int64_t()> wall_ms;    // empty: the system clock
  };
  InternalAuth(const Node& node, Options options);
  // Adds the auth headers when the node has a primary key; does nothing otherwise.
  void sign(HttpRequest& req) const;
  AuthVerdict check(const HttpRequest& req) const;

 private:
  const Node& node_;
  const Options options_;
};

}  // namespace ringkeeper::kv
