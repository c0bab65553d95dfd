// RangeHashes: the hash tree anti-entropy compares for one token range — the range cut into up
// to 64 equal token slices ("leaves"), each leaf the order-independent sum of its records'
// hashes, and a root hashed from the leaves. Two replicas holding the same records for a range
// compute the same root byte for byte; when roots differ, the leaves say which slices to repair.
// Pure values over a KvStore scan; any thread.
//   auto mine = hash_range(store, range);             // Result<RangeHashes>
//   if (mine->root() != theirs_root) for (uint32_t i : mine->differing(theirs)) repair(mine->leaf_range(i));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kv/record.h"
#include "kv/store.h"
#include "ringkeeper/ring/types.h"
#include "ringkeeper/status.h"

namespace ringkeeper::kv {

class RangeHashes {
 public:
  static constexpr uint32_t kMaxLeaves = 64;

  explicit RangeHashes(TokenRange range);
  TokenRange range() const { return range_; }
  uint32_t leaf_count() const { return static_cast<uint32_t>(leaves_.size()); }
  // The slice of the range that leaf `i` covers, as a (start, end] range of its own.
  TokenRange leaf_range(uint32_t i) const;
  uint32_t leaf_of(Token t) const;

  void add(std::string_view key, Token t, const Record& r);
  uint64_t root() const;
  const std::vector<uint64_t>& leaves() const { return leaves_; }
  // Leaves whose hashes differ from `other`'s (which must cover the same range).
  std::vector<uint32_t> differing(const std::vector<uint64_t>& other) const;

  // The leaves as 8-byte big-endian words (the /internal/tree body) and back; nullopt on a
  // body of another length.
  std::string encode_leaves() const;
  static std::optional<std::vector<uint64_t>> decode_leaves(std::string_view bytes, uint32_t count);

 private:
  // The offset of a token from the range's start, in 1..width (width 2^64 for the whole ring).
  unsigned __int128 offset(Token t) const;
  unsigned __int128 width() const;
  TokenRange range_;
  std::vector<uint64_t> leaves_;
};

// Scans `range` in `store` into its hash tree; `bytes_scanned` (if given) grows by what was read.
Result<RangeHashes> hash_range(const KvStore& store, TokenRange range, uint64_t* bytes_scanned = nullptr);

}  // namespace ringkeeper::kv
