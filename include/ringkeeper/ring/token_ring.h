// TokenRing: an immutable sorted token → owner map with every range's replicas precomputed and
// a prefix table for O(1) expected lookup. Built once, then only read: safe to share across
// threads. Node indices refer to the node table of the RingSnapshot that owns the ring.
//   TokenRing ring = TokenRing::build(std::move(entries), placer);
//   auto replicas = ring.replicas(ring.range_index(Token{x}));
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ringkeeper/ring/big_alloc.h"
#include "ringkeeper/ring/replication.h"
#include "ringkeeper/ring/types.h"

namespace ringkeeper {

struct TokenEntry {
  uint64_t token;
  uint32_t node;
  uint32_t tag = 0;  // free for the caller
};

// Sorts entries by token in place: one radix pass on the top bits, then each (small) bucket by
// insertion sort, std::sort for a crowded one. Linear for spread-out tokens, never quadratic.
void sort_token_entries(BigVector<TokenEntry>& entries);

// A heap array that is not zero-filled on creation: the ring's big arrays are written in full
// right after, and zero-filling megabytes per snapshot was a tenth of the build time.
template <class T>
class FixedArray {
 public:
  FixedArray() = default;
  explicit FixedArray(size_t n) : data_(n ? BigAllocator<T>().allocate(n) : nullptr, Free{n}), size_(n) {}
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return size_; }
  T& operator[](size_t i) { return data_.get()[i]; }
  const T& operator[](size_t i) const { return data_.get()[i]; }

 private:
  struct Free {
    size_t n = 0;
    void operator()(T* p) const { BigAllocator<T>().deallocate(p, n); }
  };
  std::unique_ptr<T, Free> data_;
  size_t size_ = 0;
};

class TokenRing {
 public:
  TokenRing() = default;
  // entries must have distinct tokens (the snapshot resolves conflicts first); any order.
  static TokenRing build(BigVector<TokenEntry> entries, const ReplicaPlacer& placer);
  // The same, for distinct tokens already sorted, with their owners.
  static TokenRing build_sorted(BigVector<uint64_t> tokens, BigVector<uint32_t> owners,
                                const ReplicaPlacer& placer);

  bool empty() const { return tokens_.empty(); }
  uint32_t size() const { return static_cast<uint32_t>(tokens_.size()); }
  uint32_t replica_count() const { return stride_; }

  // The range (tokens[i-1], tokens[i]] that holds t: index of the first token >= t, wrapping.
  // Precondition: !empty().
  uint32_t range_index(Token t) const {
    const uint64_t x = t.value();
    uint32_t i = bucket_[x >> shift_];
    const uint64_t* tok = tokens_.data();
    const uint32_t n = size();
    while (i < n && tok[i] < x) ++i;
    return i == n ? 0 : i;
  }
  std::span<const uint32_t> replicas(uint32_t range) const {
    return {replicas_.data() + static_cast<size_t>(range) * stride_, stride_};
  }
  Token token_at(uint32_t i) const { return Token(tokens_[i]); }
  uint32_t owner_at(uint32_t i) const { return owners_[i]; }
  TokenRange range_at(uint32_t i) const;

  // Fraction of the ring each node index holds as a replica (sums to replica_count()).
  std::vector<double> ownership(size_t node_count) const;

 private:
  BigVector<uint64_t> tokens_;
  BigVector<uint32_t> owners_;
  FixedArray<uint32_t> replicas_;  // size() * stride_
  FixedArray<uint32_t> bucket_;    // bucket_[p] = first token index whose prefix >= p
  uint32_t stride_ = 0;
  uint32_t shift_ = 63;
};

}  // namespace ringkeeper
