#include "kv/range_hash.h"

#include <algorithm>

namespace ringkeeper::kv {

namespace {

// FNV-1a, then a splitmix64 finaliser so that sums of record hashes spread over all 64 bits.
uint64_t hash_bytes(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ULL;

}  // namespace

RangeHashes::RangeHashes(TokenRange range) : range_(range) {
  const unsigned __int128 w = width();
  leaves_.assign(static_cast<size_t>(std::min<unsigned __int128>(kMaxLeaves, w)), 0);
}

unsigned __int128 RangeHashes::width() const {
  const uint64_t w = range_.end.value() - range_.start.value();
  return w == 0 ? (static_cast<unsigned __int128>(1) << 64) : w;
}

unsigned __int128 RangeHashes::offset(Token t) const {
  const uint64_t o = t.value() - range_.start.value();
  return o == 0 ? (static_cast<unsigned __int128>(1) << 64) : o;
}

// Leaf i holds the offsets o with floor((o - 1) * L / W) == i, i.e. o in
// (ceil(i W / L), ceil((i + 1) W / L)].
TokenRange RangeHashes::leaf_range(uint32_t i) const {
  const unsigned __int128 w = width(), l = leaves_.size();
  auto bound = [&](unsigned __int128 k) { return static_cast<uint64_t>((k * w + l - 1) / l); };
  return TokenRange{Token{range_.start.value() + bound(i)}, Token{range_.start.value() + bound(i + 1)}};
}

uint32_t RangeHashes::leaf_of(Token t) const {
  return static_cast<uint32_t>((offset(t) - 1) * leaves_.size() / width());
}

void RangeHashes::add(std::string_view key, Token t, const Record& r) {
  uint64_t h = hash_bytes(kFnvBasis, key);
  h = hash_bytes(h, std::string_view("\0", 1));
  h = hash_bytes(h, encode_record(r));
  leaves_[leaf_of(t)] += mix(h);
}

uint64_t RangeHashes::root() const {
  std::string words = encode_leaves();
  return mix(hash_bytes(kFnvBasis, words));
}

std::vector<uint32_t> RangeHashes::differing(const std::vector<uint64_t>& other) const {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < leaves_.size(); ++i) {
    if (i >= other.size() || other[i] != leaves_[i]) out.push_back(i);
  }
  return out;
}

std::string RangeHashes::encode_leaves() const {
  std::string out;
  out.reserve(leaves_.size() * 8);
  for (uint64_t h : leaves_) put_u64_be(out, h);
  return out;
}

std::optional<std::vector<uint64_t>> RangeHashes::decode_leaves(std::string_view bytes, uint32_t count) {
  if (bytes.size() != static_cast<size_t>(count) * 8) return std::nullopt;
  std::vector<uint64_t> out;
  for (uint32_t i = 0; i < count; ++i) out.push_back(get_u64_be(bytes.substr(i * 8)));
  return out;
}

Result<RangeHashes> hash_range(const KvStore& store, TokenRange range, uint64_t* bytes_scanned) {
  RangeHashes tree(range);
  uint64_t bytes = 0;
  Status s = store.scan(range, "", [&](KvStore::Entry&& e) {
    tree.add(e.key, e.token, e.record);
    bytes += e.key.size() + e.record.value.size() + 10;
    return true;
  });
  if (!s.ok()) return s;
  if (bytes_scanned) *bytes_scanned += bytes;
  return tree;
}

}  // namespace ringkeeper::kv
