// ClusterMac: the keys behind Node::cluster_mac and Node::verify_cluster_mac — one per key of the
// gossip keyring, derived from it for the embedder's message authentication alone (never the raw
// key, never a key the gossip seal uses) — held as an immutable snapshot. The node thread
// replaces it whenever the keyring changes (at open, after each `ringctl keys` command); any
// thread signs and verifies, holding a lock only to copy a pointer.
//   ClusterMac mac(keyring);                              // Node::open
//   mac.update(keyring);                                  // node thread, after a key command
//   std::optional<std::string> m = mac.sign("bytes");     // nullopt: no primary key
//   bool ok = mac.verify("bytes", *m);                    // under any installed key
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gossip/seal.h"

namespace ringkeeper {

// The label the embedder's keys are derived under: HMAC-SHA256(gossip key, label).
inline constexpr std::string_view kClusterMacLabel = "ringkeeper cluster mac v1";

class ClusterMac {
 public:
  explicit ClusterMac(const gossip::Keyring& keyring) { update(keyring); }
  // Node thread (or the opener's, before it runs).
  void update(const gossip::Keyring& keyring);
  // Any thread. HMAC-SHA256 of `message` (32 raw bytes) under the primary key's derived key;
  // nullopt when the keyring has no primary key.
  std::optional<std::string> sign(std::string_view message) const;
  // Any thread. True when `mac` is the MAC of `message` under any installed key's derived key
  // (the primary first), compared in constant time; false with an empty keyring.
  bool verify(std::string_view message, std::string_view mac) const;
  bool has_primary() const;

 private:
  struct Keys {
    std::vector<std::string> derived;  // the primary's first, when there is one
    bool has_primary = false;
  };
  std::shared_ptr<const Keys> current() const;

  mutable std::mutex mu_;
  std::shared_ptr<const Keys> keys_;  // guarded by mu_; replaced whole, never changed
};

}  // namespace ringkeeper
