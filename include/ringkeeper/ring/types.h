// Strong value types shared by every module: Token, TokenRange, NodeId, NodeStatus, HlcStamp.
// Pure values: no I/O, no globals. Safe to use from any thread.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ringkeeper {

// A position on the ring: an unsigned 64-bit integer. The ring wraps from 2^64-1 to 0.
//   Token t{42}; t.value() == 42
class Token {
 public:
  constexpr Token() = default;
  constexpr explicit Token(uint64_t value) : value_(value) {}
  constexpr uint64_t value() const { return value_; }
  constexpr auto operator<=>(const Token&) const = default;
  std::string to_string() const { return std::to_string(value_); }
  // Parses a decimal token; nullopt on anything else (sign, overflow, junk).
  static std::optional<Token> parse(std::string_view text);

 private:
  uint64_t value_ = 0;
};

// The most tokens one node may claim — at first start (--num-tokens, --tokens) or in a move: a
// node's token list travels as one gossiped value, which every peer bounds at 256 KiB; 4,096
// tokens take at most ~86 KB (21 bytes each).
inline constexpr size_t kMaxTokensPerNode = 4096;

// The half-open arc (start, end] walking clockwise. start == end is the whole ring.
struct TokenRange {
  Token start;  // exclusive
  Token end;    // inclusive
  bool contains(Token t) const;
  bool is_full_ring() const { return start == end; }
  // Number of tokens in the range, as a fraction of the whole ring (1.0 for the full ring).
  double fraction() const;
  auto operator<=>(const TokenRange&) const = default;
};

// A node's permanent identity: a 128-bit UUID made at first start. The address may change,
// the id never does.   NodeId::parse("0f1e...") ; id.to_string()
class NodeId {
 public:
  constexpr NodeId() = default;
  constexpr NodeId(uint64_t hi, uint64_t lo) : hi_(hi), lo_(lo) {}
  constexpr uint64_t hi() const { return hi_; }
  constexpr uint64_t lo() const { return lo_; }
  constexpr bool is_nil() const { return hi_ == 0 && lo_ == 0; }
  constexpr auto operator<=>(const NodeId&) const = default;
  // Canonical lowercase 8-4-4-4-12 form.
  std::string to_string() const;
  // Accepts the canonical form (either case); nullopt otherwise.
  static std::optional<NodeId> parse(std::string_view text);
  // A version-4 UUID from 128 random bits supplied by the caller (the caller owns randomness).
  static NodeId from_random_bits(uint64_t hi, uint64_t lo);

 private:
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
};

// The lifecycle of a node in the ring. REMOVED is a tombstone written by an operator.
enum class NodeStatus : uint8_t {
  kJoining = 0,
  kNormal = 1,
  kLeaving = 2,
  kMoving = 3,
  kLeft = 4,
  kRemoved = 5,
};
std::string_view to_string(NodeStatus status);
std::optional<NodeStatus> parse_node_status(std::string_view text);
// True for statuses whose current tokens own data (NORMAL, LEAVING, MOVING).
bool owns_current_tokens(NodeStatus status);

// Where a JOINING, MOVING or LEAVING node's ownership change stands; routing follows it
// (docs/design.md, "Phased ownership changes"): write to both old and new owners before reading
// from the new ones, and release the old ones last.
//   announce    the change is known; reads and writes go to the old owners only
//   write_both  writes go to old and new owners; reads to the old ones (new owners stream data)
//   read_new    reads go to the new owners; writes still to both
//   release     reads and writes go to the new owners; the old ones drop the ranges
enum class ChangePhase : uint8_t { kAnnounce = 0, kWriteBoth = 1, kReadNew = 2, kRelease = 3 };
std::string_view to_string(ChangePhase phase);
std::optional<ChangePhase> parse_change_phase(std::string_view text);

// A hybrid-logical-clock stamp: milliseconds since the epoch in the high 48 bits, a logical
// counter in the low 16. Orders token claims; earlier wins.
struct HlcStamp {
  uint64_t value = 0;
  static constexpr HlcStamp make(uint64_t millis, uint16_t logical) {
    return HlcStamp{(millis << 16) | logical};
  }
  constexpr uint64_t millis() const { return value >> 16; }
  constexpr auto operator<=>(const HlcStamp&) const = default;
};

}  // namespace ringkeeper

template <>
struct std::hash<ringkeeper::NodeId> {
  size_t operator()(const ringkeeper::NodeId& id) const noexcept {
    return static_cast<size_t>(id.hi() ^ (id.lo() * 0x9E3779B97F4A7C15ULL));
  }
};
template <>
struct std::hash<ringkeeper::Token> {
  size_t operator()(const ringkeeper::Token& t) const noexcept {
    return static_cast<size_t>(t.value() * 0x9E3779B97F4A7C15ULL);
  }
};
