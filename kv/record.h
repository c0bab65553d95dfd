// Record: one key's value as kvd stores and ships it — the value bytes (or a tombstone) and the
// hybrid-logical-clock stamp of the write that made it — and last-write-wins between two
// records. Pure values; any thread.
//   Record a{.stamp = 5, .value = "x"}, b{.stamp = 7, .tombstone = true};
//   supersedes(b, a) == true   // the later delete wins
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringkeeper::kv {

struct Record {
  uint64_t stamp = 0;      // HybridClock stamp of the write
  bool tombstone = false;  // a delete; `value` is then empty
  std::string value;
  bool operator==(const Record&) const = default;
};

// True when `a` wins over `b` under last-write-wins: the higher stamp; on equal stamps (two
// coordinators in the same millisecond and logical count) a tombstone, then the greater value
// bytes — an arbitrary but deterministic rule, so every replica keeps the same one.
bool supersedes(const Record& a, const Record& b);

// The bytes a record is stored as (and shipped in streams): format byte, flags, 8-byte
// big-endian stamp, value.
std::string encode_record(const Record& r);
std::optional<Record> decode_record(std::string_view bytes);

// Big-endian helpers shared by the store and the wire.
void put_u64_be(std::string& out, uint64_t v);
uint64_t get_u64_be(std::string_view in);  // in.size() >= 8
void put_u32_be(std::string& out, uint32_t v);
uint32_t get_u32_be(std::string_view in);  // in.size() >= 4

}  // namespace ringkeeper::kv
