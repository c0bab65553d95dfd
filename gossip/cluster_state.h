// ClusterState: every known node's versioned entry, merged as a join-semilattice by
// (generation, version), with an incrementally kept summary hash for O(1) steady-state gossip.
// Owned by one GossipEngine; not thread-safe. NodeState values are immutable once shared, so
// simulated nodes can share them (the simulator holds thousands of copies of each).
//   ClusterState s;  s.merge(id, delta);  if (s.summary() == peer_summary) ...
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gossip/types.h"
#include "ringkeeper/ring/types.h"

namespace ringkeeper::gossip {

// Well-known keys of a node's entry. Embedder-defined keys start with "x.".
namespace keys {
inline constexpr std::string_view kStatus = "status";
inline constexpr std::string_view kTokens = "tokens";
inline constexpr std::string_view kAddress = "address";
inline constexpr std::string_view kDc = "dc";
inline constexpr std::string_view kRack = "rack";
inline constexpr std::string_view kRingDigest = "ring_digest";
inline constexpr std::string_view kPlacement = "placement";  // RingSnapshot::placement_digest()
inline constexpr std::string_view kLoad = "load";
inline constexpr std::string_view kStamp = "stamp";  // HLC stamp of the latest token claim
inline constexpr std::string_view kWire = "wire";    // the newest wire version the node speaks
}  // namespace keys

// The `tokens` value: comma-separated decimal tokens. Parsed strictly — nullopt if any piece is
// not a token — and returned sorted, without duplicates.
std::optional<std::vector<Token>> parse_token_list(std::string_view text);
// The same text from tokens (sorted, duplicates dropped).
std::string format_token_list(std::vector<Token> tokens);

struct VersionedValue {
  std::string value;
  Version version;
  bool operator==(const VersionedValue&) const = default;
};

// One node's entry (or a delta of it: only some values). Values sorted by key.
struct NodeState {
  Generation generation;
  Version max_version;
  std::vector<std::pair<std::string, VersionedValue>> values;

  const VersionedValue* get(std::string_view key) const;
  bool is_tombstone() const { return generation == kTombstoneGeneration; }
  bool operator==(const NodeState&) const = default;
};
using NodeStatePtr = std::shared_ptr<const NodeState>;

// (id, generation, max version): what a peer needs to tell whether it is behind.
struct Digest {
  NodeId id;
  Generation generation;
  Version max_version;
  bool operator==(const Digest&) const = default;
};

struct NodeDelta {
  NodeId id;
  NodeState state;
  bool operator==(const NodeDelta&) const = default;
};

class ClusterState {
 public:
  static constexpr uint32_t kBuckets = 64;
  static uint32_t bucket_of(const NodeId& id) { return static_cast<uint32_t>(id.lo() % kBuckets); }

  size_t size() const { return entries_.size(); }
  const NodeState* find(const NodeId& id) const;
  NodeStatePtr find_shared(const NodeId& id) const;

  // Merges a remote delta. A higher generation replaces the entry (the delta must then be whole);
  // the same generation takes the values with higher versions; a lower one is ignored.
  // Returns true if anything changed.
  bool merge(const NodeId& id, const NodeState& delta);
  // Installs an entry shared with other holders (the simulator's pre-converged start).
  void put_shared(const NodeId& id, NodeStatePtr state);

  // Order-independent hash of every (id, generation, max_version); equal summaries mean equal
  // states (up to 64-bit collisions).
  uint64_t summary() const;
  const std::array<uint64_t, kBuckets>& buckets() const { return buckets_; }
  std::vector<Digest> digests_in(const std::vector<uint32_t>& buckets) const;
  std::vector<Digest> all_digests() const;

  // The values of `id` newer than `after_version` (all of them when the asker's generation is
  // older). nullopt if unknown.
  std::optional<NodeState> delta_since(const NodeId& id, Generation asker_generation,
                                       Version after_version) const;

  // The i-th entry in id order, i < size().
  const NodeId& id_at(size_t i) const { return entries_[i].first; }
  const NodeState& state_at(size_t i) const { return *entries_[i].second; }

  template <class F>
  void for_each(F&& f) const {
    for (const auto& [id, st] : entries_) f(id, *st);
  }
  // Removes an entry entirely (tests and dead-state collection only).
  void erase(const NodeId& id);

 private:
  static uint64_t entry_hash(const NodeId& id, Generation generation, Version max_version);
  void rehash(const NodeId& id, const NodeState* before, const NodeState* after);

  size_t slot(const NodeId& id) const;  // index of the first entry with id >= `id`

  std::vector<std::pair<NodeId, NodeStatePtr>> entries_;  // sorted by id
  std::array<uint64_t, kBuckets> buckets_{};
  mutable uint64_t summary_ = 0;  // of buckets_, recomputed on demand after a change
  mutable bool summary_stale_ = true;
};

}  // namespace ringkeeper::gossip
