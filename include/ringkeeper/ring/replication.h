// Replication strategies: which nodes hold a range. ReplicationConfig is a plain value (the
// cluster-wide setting); ReplicaPlacer walks a ring's owners clockwise and picks the replicas.
// A ReplicaPlacer keeps scratch space: use one per thread.
//   auto cfg = ReplicationConfig::parse("topology", "dc1:3,dc2:2");
//   ReplicaPlacer placer(*cfg, locations);   // locations: dc/rack per node index
//   placer.place(start, n, owner_at, out);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringkeeper {

enum class StrategyKind : uint8_t { kSimple = 0, kTopology = 1 };

struct ReplicationConfig {
  StrategyKind strategy = StrategyKind::kSimple;
  // Simple: the replication factor. Topology without dc_rf: the factor in every DC.
  uint32_t rf = 3;
  // Topology only: explicit per-DC factors, sorted by DC name. A DC not listed holds no replicas.
  std::vector<std::pair<std::string, uint32_t>> dc_rf;

  // The factor for one DC under this config.
  uint32_t rf_for_dc(std::string_view dc) const;
  // Canonical text, identical on every node with the same settings: "simple:3",
  // "topology:*=3", "topology:dc1=3,dc2=2". Compared at the handshake and hashed into digests.
  std::string canonical() const;
  // From the --strategy and --rf flag values. nullopt + message on bad input.
  static std::optional<ReplicationConfig> parse(std::string_view strategy, std::string_view rf,
                                                std::string* error);
  bool operator==(const ReplicationConfig&) const = default;
};

// Where a node sits, as dense indices (dc in [0, dc_count), rack unique across DCs).
struct NodeLocation {
  uint32_t dc = 0;
  uint32_t rack = 0;
};

// Dense dc/rack indexing of string names, shared by snapshot building and the allocator.
class LocationIndex {
 public:
  NodeLocation locate(const std::string& dc, const std::string& rack);
  uint32_t dc_count() const { return static_cast<uint32_t>(dc_names_.size()); }
  uint32_t rack_count() const { return static_cast<uint32_t>(rack_keys_.size()); }
  const std::string& dc_name(uint32_t dc) const { return dc_names_[dc]; }

 private:
  std::vector<std::string> dc_names_;
  std::vector<std::pair<uint32_t, std::string>> rack_keys_;
};

class ReplicaPlacer {
 public:
  static constexpr uint32_t kNoNode = 0xFFFFFFFFu;

  // locations[i]: node i's location; in_ring[i]: node i owns at least one token in the ring the
  // placer will walk (counts of nodes and racks per DC come from these).
  ReplicaPlacer(const ReplicationConfig& config, const LocationIndex& index,
                std::vector<NodeLocation> locations, const std::vector<bool>& in_ring);

  // Replicas every range gets: min(rf, nodes) summed over DCs. Constant across ranges.
  uint32_t replica_count() const { return replica_count_; }

  // Walks ring positions start, start+1, ... (mod n), where owner_at(i) is the node index at
  // position i, and writes replica_count() node indices to out; slots the walk could not fill
  // (a node counted in the ring that owns no token yet) get kNoNode. Returns how many positions
  // were examined (the walk's reach, >= 1; n when it went all the way round).
  template <class OwnerAt>
  uint32_t place(uint32_t start, uint32_t n, const OwnerAt& owner_at, uint32_t* out) const;

 private:
  struct DcState {
    uint32_t need = 0;         // replicas wanted in this DC
    uint32_t racks = 0;        // distinct racks with nodes in the ring
    uint32_t have = 0;         // scratch: replicas chosen so far
    uint32_t racks_seen = 0;   // scratch
    std::vector<uint32_t> skipped;  // scratch: nodes on already-seen racks, in ring order
  };

  StrategyKind strategy_;
  uint32_t replica_count_ = 0;
  uint32_t simple_need_ = 0;
  std::vector<NodeLocation> locations_;
  mutable std::vector<DcState> dcs_;
  mutable std::vector<uint32_t> rack_seen_stamp_;  // per rack
  mutable std::vector<uint32_t> node_stamp_;       // per node: added in walk #stamp
  mutable std::vector<uint32_t> skip_stamp_;       // per node: skipped in walk #stamp
  mutable uint32_t stamp_ = 0;

  uint32_t next_stamp() const;
};

// Long on purpose: the one ring walk every placement (routing, snapshots, the allocator's inner
// loop) runs; the simple and topology walks share the stamps, the step count and the output,
// which helpers would have to pass around on the hottest path of the library.
template <class OwnerAt>
uint32_t ReplicaPlacer::place(uint32_t start, uint32_t n, const OwnerAt& owner_at,
                              uint32_t* out) const {
  uint32_t count = 0;
  if (replica_count_ == 0 || n == 0) {
    for (uint32_t k = 0; k < replica_count_; ++k) out[k] = kNoNode;
    return 1;
  }
  const uint32_t stamp = next_stamp();
  uint32_t steps = 0;
  uint32_t pos = start;
  if (strategy_ == StrategyKind::kSimple) {
    while (count < simple_need_ && steps < n) {
      uint32_t node = owner_at(pos);
      ++steps;
      if (++pos == n) pos = 0;
      if (node_stamp_[node] == stamp) continue;
      node_stamp_[node] = stamp;
      out[count++] = node;
    }
    for (uint32_t k = count; k < replica_count_; ++k) out[k] = kNoNode;
    return steps;
  }
  uint32_t dcs_open = 0;
  for (auto& dc : dcs_) {
    dc.have = 0;
    dc.racks_seen = 0;
    dc.skipped.clear();
    if (dc.need > 0) ++dcs_open;
  }
  auto add = [&](uint32_t node, DcState& dc) {
    node_stamp_[node] = stamp;
    out[count++] = node;
    if (++dc.have == dc.need) --dcs_open;
  };
  while (dcs_open > 0 && steps < n) {
    uint32_t node = owner_at(pos);
    ++steps;
    if (++pos == n) pos = 0;
    const NodeLocation loc = locations_[node];
    DcState& dc = dcs_[loc.dc];
    if (dc.have == dc.need || node_stamp_[node] == stamp) continue;
    if (rack_seen_stamp_[loc.rack] != stamp) {
      rack_seen_stamp_[loc.rack] = stamp;
      add(node, dc);
      if (++dc.racks_seen == dc.racks) {
        // Every rack of this DC has a replica: fill up from the nodes skipped so far.
        for (uint32_t s : dc.skipped) {
          if (dc.have == dc.need) break;
          if (node_stamp_[s] != stamp) add(s, dc);
        }
        dc.skipped.clear();
      }
    } else if (dc.racks_seen == dc.racks) {
      add(node, dc);
    } else if (skip_stamp_[node] != stamp) {
      skip_stamp_[node] = stamp;
      dc.skipped.push_back(node);
    }
  }
  // A DC whose racks were not all seen (a rack counted but without tokens yet): use the skipped.
  for (auto& dc : dcs_) {
    for (uint32_t s : dc.skipped) {
      if (dc.have == dc.need) break;
      if (node_stamp_[s] != stamp) add(s, dc);
    }
  }
  for (uint32_t k = count; k < replica_count_; ++k) out[k] = kNoNode;
  return steps;
}

}  // namespace ringkeeper
