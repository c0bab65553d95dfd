#include "ringkeeper/ring/token_ring.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace ringkeeper {

void sort_token_entries(BigVector<TokenEntry>& entries) {
  const size_t n = entries.size();
  auto by_token = [](const TokenEntry& a, const TokenEntry& b) { return a.token < b.token; };
  if (n < 256) {
    std::sort(entries.begin(), entries.end(), by_token);
    return;
  }
  const int bits = std::min(16, static_cast<int>(std::bit_width(n)) - 2);
  const int shift = 64 - bits;
  std::vector<uint32_t> start((size_t{1} << bits) + 1, 0);
  for (const TokenEntry& e : entries) ++start[(e.token >> shift) + 1];
  for (size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  BigVector<TokenEntry> out;
  out.reserve(n);
  std::vector<uint32_t> fill(start.begin(), start.end() - 1);
  TokenEntry* dst = out.data();
  for (const TokenEntry& e : entries) dst[fill[e.token >> shift]++] = e;
  for (size_t b = 0; b + 1 < start.size(); ++b) {
    TokenEntry* lo = dst + start[b];
    TokenEntry* hi = dst + start[b + 1];
    if (hi - lo > 32) {
      std::sort(lo, hi, by_token);
      continue;
    }
    for (TokenEntry* i = lo + 1; i < hi; ++i) {
      TokenEntry v = *i;
      TokenEntry* j = i;
      for (; j > lo && (j - 1)->token > v.token; --j) *j = *(j - 1);
      *j = v;
    }
  }
  std::copy(dst, dst + n, entries.data());
}

TokenRing TokenRing::build(BigVector<TokenEntry> entries, const ReplicaPlacer& placer) {
  sort_token_entries(entries);
  BigVector<uint64_t> tokens;
  BigVector<uint32_t> owners;
  tokens.reserve(entries.size());
  owners.reserve(entries.size());
  for (const TokenEntry& e : entries) {
    tokens.push_back(e.token);
    owners.push_back(e.node);
  }
  return build_sorted(std::move(tokens), std::move(owners), placer);
}

TokenRing TokenRing::build_sorted(BigVector<uint64_t> tokens, BigVector<uint32_t> owners,
                                  const ReplicaPlacer& placer) {
  TokenRing ring;
  const uint32_t n = static_cast<uint32_t>(tokens.size());
  ring.tokens_ = std::move(tokens);
  ring.owners_ = std::move(owners);
  for (uint32_t i = 1; i < n; ++i) assert(ring.tokens_[i - 1] < ring.tokens_[i]);
  ring.stride_ = n == 0 ? 0 : placer.replica_count();
  ring.replicas_ = FixedArray<uint32_t>(static_cast<size_t>(n) * ring.stride_);
  const uint32_t* owner_ptr = ring.owners_.data();
  auto owner_at = [owner_ptr](uint32_t i) { return owner_ptr[i]; };
  for (uint32_t i = 0; i < n; ++i) {
    placer.place(i, n, owner_at, ring.replicas_.data() + static_cast<size_t>(i) * ring.stride_);
  }
  // Prefix table: about one bucket per token keeps the scan after the jump to ~1 step.
  const int bits = std::max(1, std::min(24, static_cast<int>(std::bit_width(std::max<uint32_t>(n, 1)))));
  ring.shift_ = 64 - bits;
  ring.bucket_ = FixedArray<uint32_t>((size_t{1} << bits) + 1);
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
