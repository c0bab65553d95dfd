#include "node/cluster_mac.h"

#include <openssl/crypto.h>

namespace ringkeeper {

namespace {
std::string derive(std::string_view raw_key) { return gossip::hmac_sha256(raw_key, kClusterMacLabel); }
}  // namespace

void ClusterMac::update(const gossip::Keyring& keyring) {
  auto next = std::make_shared<Keys>();
  const std::string* primary = keyring.primary();
  if (primary) next->derived.push_back(derive(*primary));
  for (const std::string& key : keyring.keys()) {
    if (!primary || key != *primary) next->derived.push_back(derive(key));
  }
  next->has_primary = primary != nullptr;
  std::lock_guard lock(mu_);
  keys_ = std::move(next);
}

std::shared_ptr<const ClusterMac::Keys> ClusterMac::current() const {
  std::lock_guard lock(mu_);
  return keys_;
}

std::optional<std::string> ClusterMac::sign(std::string_view message) const {
  auto keys = current();
  if (!keys->has_primary) return std::nullopt;
  return gossip::hmac_sha256(keys->derived.front(), message);
}

bool ClusterMac::verify(std::string_view message, std::string_view mac) const {
  auto keys = current();
  bool valid = false;
  for (const std::string& key : keys->derived) {
    const std::string expected = gossip::hmac_sha256(key, message);
    // Every key is tried (no early exit) and compared in constant time.
    valid |= mac.size() == expected.size() && CRYPTO_memcmp(mac.data(), expected.data(), mac.size()) == 0;
  }
  return valid;
}

bool ClusterMac::has_primary() const { return current()->has_primary; }

}  // namespace ringkeeper
