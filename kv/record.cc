#include "kv/record.h"

namespace ringkeeper::kv {

namespace {
constexpr char kFormat = 1;
constexpr uint8_t kTombstoneFlag = 1;
}  // namespace

bool supersedes(const Record& a, const Record& b) {
  if (a.stamp != b.stamp) return a.stamp > b.stamp;
  if (a.tombstone != b.tombstone) return a.tombstone;
  return a.value > b.value;
}

void put_u64_be(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_u64_be(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

void put_u32_be(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t get_u32_be(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string encode_record(const Record& r) {
  std::string out;
  out.reserve(10 + r.value.size());
  out.push_back(kFormat);
  out.push_back(static_cast<char>(r.tombstone ? kTombstoneFlag : 0));
  put_u64_be(out, r.stamp);
  if (!r.tombstone) out += r.value;
  return out;
}

std::optional<Record> decode_record(std::string_view bytes) {
  if (bytes.size() < 10 || bytes[0] != kFormat) return std::nullopt;
  const auto flags = static_cast<uint8_t>(bytes[1]);
  if (flags & ~kTombstoneFlag) return std::nullopt;
  Record r;
  r.tombstone = (flags & kTombstoneFlag) != 0;
  r.stamp = get_u64_be(bytes.substr(2));
  if (r.tombstone && bytes.size() != 10) return std::nullopt;
  r.value.assign(bytes.substr(10));
  return r;
}

}  // namespace ringkeeper::kv
