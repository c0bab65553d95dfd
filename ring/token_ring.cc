#include "ring/token_ring.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace ringkeeper {

void sort_token_entries(std::vector<TokenEntry>& entries) {
  const size_t n = entries.size();
  if (n < 64) {
    std::sort(entries.begin(), entries.end(),
              [](const TokenEntry& a, const TokenEntry& b) { return a.token < b.token; });
    return;
  }
  std::vector<TokenEntry> tmp(n);
  std::vector<uint32_t> counts(1u << 16);
  TokenEntry* src = entries.data();
  TokenEntry* dst = tmp.data();
  for (int pass = 0; pass < 4; ++pass) {
    const int shift = pass * 16;
    std::fill(counts.begin(), counts.end(), 0);
    for (size_t i = 0; i < n; ++i) ++counts[(src[i].token >> shift) & 0xFFFF];
    uint32_t sum = 0;
    for (auto& c : counts) {
      uint32_t v = c;
      c = sum;
      sum += v;
    }
    for (size_t i = 0; i < n; ++i) dst[counts[(src[i].token >> shift) & 0xFFFF]++] = src[i];
    std::swap(src, dst);
  }
  // Four passes: the sorted data is back in `entries`.
}

TokenRing TokenRing::build(std::vector<TokenEntry> entries, const ReplicaPlacer& placer) {
  sort_token_entries(entries);
  return build_sorted(std::move(entries), placer);
}

TokenRing TokenRing::build_sorted(std::vector<TokenEntry> entries, const ReplicaPlacer& placer) {
  TokenRing ring;
  const uint32_t n = static_cast<uint32_t>(entries.size());
  ring.tokens_.resize(n);
  ring.owners_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    ring.tokens_[i] = entries[i].token;
    ring.owners_[i] = entries[i].node;
    assert(i == 0 || ring.tokens_[i - 1] < ring.tokens_[i]);
  }
  ring.stride_ = n == 0 ? 0 : placer.replica_count();
  ring.replicas_.resize(static_cast<size_t>(n) * ring.stride_);
  const uint32_t* owners = ring.owners_.data();
  auto owner_at = [owners](uint32_t i) { return owners[i]; };
  for (uint32_t i = 0; i < n; ++i) {
    placer.place(i, n, owner_at, ring.replicas_.data() + static_cast<size_t>(i) * ring.stride_);
  }
  // Prefix table: about two buckets per token keeps the scan after the jump to ~0.5 steps.
  const int bits = std::max(1, std::min(24, static_cast<int>(std::bit_width(std::max<uint32_t>(n, 1)))));
  ring.shift_ = 64 - bits;
  ring.bucket_.resize((size_t{1} << bits) + 1);
  uint32_t i = 0;
  for (size_t p = 0; p < ring.bucket_.size(); ++p) {
    const unsigned __int128 start = static_cast<unsigned __int128>(p) << ring.shift_;
    while (i < n && ring.tokens_[i] < start) ++i;
    ring.bucket_[p] = i;
  }
  return ring;
}

TokenRange TokenRing::range_at(uint32_t i) const {
  const uint32_t prev = i == 0 ? size() - 1 : i - 1;
  return TokenRange{Token(tokens_[prev]), Token(tokens_[i])};
}

std::vector<double> TokenRing::ownership(size_t node_count) const {
  std::vector<double> out(node_count, 0.0);
  for (uint32_t i = 0; i < size(); ++i) {
    const double f = range_at(i).fraction();
    for (uint32_t node : replicas(i)) out[node] += f;
  }
  return out;
}

}  // namespace ringkeeper
