// The protocol's counters and the cluster's id as strong types: Generation (a node's run),
// Version (a value within a run), Incarnation (a liveness record within a run), RingEpoch (the
// ring version a node gossips) and ClusterId. Claim stamps are the ring's HlcStamp.
// Zero-cost wrappers over the integers and the UUID the wire and disk formats carry: construction
// from the raw value is explicit, and one kind cannot be passed, compared or assigned where
// another is expected. Pure values; any thread.
//   Generation g{1'700'000'000};  Version v = Version{}.next();  g.value() == 1'700'000'000
//   ClusterId c{NodeId::from_random_bits(hi, lo)};  c.to_string()
#pragma once

#include <charconv>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ringkeeper/ring/types.h"

namespace ringkeeper::gossip {

// An unsigned 64-bit counter of one kind (Tag). Only the same kind compares; `value()` is the
// raw number for the codec, the disk records, hashes and log lines.
template <class Tag>
class Counter {
 public:
  constexpr Counter() = default;
  constexpr explicit Counter(uint64_t value) : value_(value) {}
  constexpr uint64_t value() const { return value_; }
  // The counter after this one (a new version, a raised incarnation).
  constexpr Counter next() const { return Counter(value_ + 1); }
  constexpr auto operator<=>(const Counter&) const = default;
  std::string to_string() const { return std::to_string(value_); }

 private:
  uint64_t value_ = 0;
};

// A node's run: the wall clock's seconds at start, at least one above the previous run's
// (persisted synced before the node says anything). Entries and liveness records of a newer
// generation replace older ones. 0: unknown.
using Generation = Counter<struct GenerationTag>;
// The version of one value within a generation of a node's entry; grows with every value the
// node authors. An entry's max version is the highest of its values'.
using Version = Counter<struct VersionTag>;
// A liveness record's counter within a generation: only the node itself raises it, to refute a
// suspicion or announce its shutdown.
using Incarnation = Counter<struct IncarnationTag>;
// The ring version a node gossips (key "epoch"): the highest over all entries is the cluster's
// ring version (RingSnapshot::version()); a node about to change the ring gossips that one's
// next(). 0: none gossiped.
using RingEpoch = Counter<struct RingEpochTag>;

// The unsigned 64-bit number a decimal text holds, strictly: nullopt unless the whole text is
// decimal digits (no sign, space or trailing text) and fits. How every counter and stamp kept as
// text (gossiped values, the data dir's meta records) is read back: garbage must not read as 0.
inline std::optional<uint64_t> decode_decimal(std::string_view text) {
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

// A tombstone's generation: above every real one, so a removed node can never come back.
inline constexpr Generation kTombstoneGeneration{UINT64_MAX};
// A generation (a run's start, in seconds) further ahead of the receiver's wall clock than this
// is refused: a clock that ran ahead must not lock the node's later, honest runs out.
inline constexpr uint64_t kMaxGenerationAheadS = 366ull * 24 * 3600;

// The cluster's identity: a UUID made by the founding node and learned by every joiner, carried
// on every message. Nil until founded or learned.
class ClusterId {
 public:
  constexpr ClusterId() = default;
  constexpr explicit ClusterId(const NodeId& uuid) : uuid_(uuid) {}
  constexpr const NodeId& uuid() const { return uuid_; }
  constexpr bool is_nil() const { return uuid_.is_nil(); }
  constexpr auto operator<=>(const ClusterId&) const = default;
  // The UUID's canonical text.
  std::string to_string() const { return uuid_.to_string(); }
  static std::optional<ClusterId> parse(std::string_view text) {
    auto id = NodeId::parse(text);
    return id ? std::optional<ClusterId>(ClusterId(*id)) : std::nullopt;
  }

 private:
  NodeId uuid_;
};

}  // namespace ringkeeper::gossip
