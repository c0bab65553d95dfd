// The node's gossip keyring on disk: DIR/keyring, a small JSON file (its keys base64, the
// primary named by fingerprint) that only its owner may read (0600), replaced atomically and
// synced on every change. Kept beside the state store rather than in it, so the keys get
// owner-only permissions of their own and the store stays a protocol-agnostic leaf. Used by
// Node::open (the opener's thread) and by the node thread's key operations, never at once.
//   Result<gossip::Keyring> opened = open_keyring(config);  // applies --gossip-key-file at first start
//   if (!opened.ok()) { /* opened.status(): kInvalidArgument or kDataDirRefused */ }
//   Status saved = save_keyring(dir, keyring);               // ok: on disk, synced
#pragma once

#include <string>

#include "gossip/seal.h"
#include "ringkeeper/node.h"
#include "ringkeeper/status.h"

namespace ringkeeper {

// DIR/keyring.
std::string keyring_path(const std::string& data_dir);
// Reads DIR/keyring (absent: an empty keyring). kDataDirRefused when unreadable or corrupt.
Result<gossip::Keyring> load_keyring(const std::string& data_dir);
// Writes DIR/keyring: a 0600 temporary file, fsync, rename, fsync of DIR. kIoError on failure.
Status save_keyring(const std::string& data_dir, const gossip::Keyring& keyring);
// A warning line when DIR/keyring exists with permissions for its group or others (it holds the
// gossip keys; save_keyring writes it 0600, so someone widened it), else empty. The node logs it
// and starts anyway: the keys may be exposed already, and refusing would not take that back.
std::string keyring_permission_warning(const std::string& data_dir);
// The keyring a node starts with: the persisted one, after config.gossip_key — a base64 32-byte
// key — started an empty keyring (installed and made primary, saved). The key given again when
// the keyring holds it changes nothing; a key the keyring does not hold, or a bad key, is
// kInvalidArgument (ringd: exit 2).
Result<gossip::Keyring> open_keyring(const NodeConfig& config);

}  // namespace ringkeeper
