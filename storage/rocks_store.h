// RocksStore: the StateStore on RocksDB in a data directory. Opening checks the format record
// read-only first, so a dir from a newer build, an unknown one or a corrupt one is refused
// without a byte written; a dir held by a running node is refused as locked. Owned by the Node that
// opened it (through its Persister); not thread-safe: the node thread writes, one call at a time.
#pragma once

#include <memory>
#include <string>

#include "storage/state_store.h"

namespace ringkeeper::storage {

struct OpenResult {
  std::unique_ptr<StateStore> store;  // null when refused
  OpenError error;  // reason kNone when opened; `migrated` then lists the format steps applied
};

// Opens (creating if absent) the store in `dir`. Never throws: whatever fails is a refusal.
OpenResult open_rocks_store(const std::string& dir);

}  // namespace ringkeeper::storage
