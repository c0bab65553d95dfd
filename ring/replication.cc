#include "ringkeeper/ring/replication.h"

#include <algorithm>
#include <charconv>

namespace ringkeeper {

uint32_t ReplicationConfig::rf_for_dc(std::string_view dc) const {
  if (strategy == StrategyKind::kSimple || dc_rf.empty()) return rf;
  for (const auto& [name, factor] : dc_rf) {
    if (name == dc) return factor;
  }
  return 0;
}

std::string ReplicationConfig::canonical() const {
  if (strategy == StrategyKind::kSimple) return "simple:" + std::to_string(rf);
  if (dc_rf.empty()) return "topology:*=" + std::to_string(rf);
  std::string out = "topology:";
  for (size_t i = 0; i < dc_rf.size(); ++i) {
    if (i) out += ',';
    out += dc_rf[i].first + "=" + std::to_string(dc_rf[i].second);
  }
  return out;
}

namespace {
std::optional<uint32_t> parse_factor(std::string_view text) {
  uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v == 0 || v > 64) return std::nullopt;
  return v;
}
}  // namespace

std::optional<ReplicationConfig> ReplicationConfig::parse(std::string_view strategy,
                                                          std::string_view rf,
                                                          std::string* error) {
  ReplicationConfig cfg;
  if (strategy == "simple") {
    cfg.strategy = StrategyKind::kSimple;
  } else if (strategy == "topology") {
    cfg.strategy = StrategyKind::kTopology;
  } else {
    *error = "unknown strategy '" + std::string(strategy) + "' (expected simple or topology)";
    return std::nullopt;
  }
  if (rf.find(':') == std::string_view::npos) {
    auto v = parse_factor(rf);
    if (!v) {
      *error = "bad replication factor '" + std::string(rf) + "' (expected 1..64 or DC:N,DC:N)";
      return std::nullopt;
    }
    cfg.rf = *v;
    return cfg;
  }
  if (cfg.strategy == StrategyKind::kSimple) {
    *error = "per-DC replication factors need --strategy topology";
    return std::nullopt;
  }
  size_t pos = 0;
  while (pos <= rf.size()) {
    size_t comma = rf.find(',', pos);
    std::string_view item = rf.substr(pos, comma == std::string_view::npos ? rf.npos : comma - pos);
    size_t colon = item.find(':');
    std::optional<uint32_t> v;
    if (colon != std::string_view::npos && colon > 0) v = parse_factor(item.substr(colon + 1));
    if (!v) {
      *error = "bad per-DC replication factor '" + std::string(item) + "' (expected DC:N)";
      return std::nullopt;
    }
    std::string dc(item.substr(0, colon));
    for (const auto& [name, _] : cfg.dc_rf) {
      if (name == dc) {
        *error = "DC '" + dc + "' given twice in --rf";
        return std::nullopt;
      }
    }
    cfg.dc_rf.emplace_back(std::move(dc), *v);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  std::sort(cfg.dc_rf.begin(), cfg.dc_rf.end());
  cfg.rf = 0;
  for (const auto& [_, f] : cfg.dc_rf) cfg.rf += f;
  return cfg;
}

NodeLocation LocationIndex::locate(const std::string& dc, const std::string& rack) {
  uint32_t dc_idx = 0;
  auto it = std::find(dc_names_.begin(), dc_names_.end(), dc);
  if (it == dc_names_.end()) {
    dc_idx = static_cast<uint32_t>(dc_names_.size());
    dc_names_.push_back(dc);
  } else {
    dc_idx = static_cast<uint32_t>(it - dc_names_.begin());
  }
  std::pair<uint32_t, std::string> key{dc_idx, rack};
  auto rit = std::find(rack_keys_.begin(), rack_keys_.end(), key);
  uint32_t rack_idx = static_cast<uint32_t>(rit - rack_keys_.begin());
  if (rit == rack_keys_.end()) rack_keys_.push_back(std::move(key));
  return NodeLocation{dc_idx, rack_idx};
}

ReplicaPlacer::ReplicaPlacer(const ReplicationConfig& config, const LocationIndex& index,
                             std::vector<NodeLocation> locations, const std::vector<bool>& in_ring)
    : strategy_(config.strategy), locations_(std::move(locations)) {
  const size_t nodes = locations_.size();
  node_stamp_.assign(nodes, 0);
  skip_stamp_.assign(nodes, 0);
  rack_seen_stamp_.assign(index.rack_count(), 0);
  uint32_t ring_nodes = 0;
  std::vector<uint32_t> dc_nodes(index.dc_count(), 0);
  std::vector<std::vector<bool>> dc_racks(index.dc_count(), std::vector<bool>(index.rack_count()));
  for (size_t i = 0; i < nodes; ++i) {
    if (!in_ring[i]) continue;
    ++ring_nodes;
    ++dc_nodes[locations_[i].dc];
    dc_racks[locations_[i].dc][locations_[i].rack] = true;
  }
  if (strategy_ == StrategyKind::kSimple) {
    simple_need_ = std::min(config.rf, ring_nodes);
    replica_count_ = simple_need_;
    return;
  }
  dcs_.resize(index.dc_count());
  for (uint32_t d = 0; d < index.dc_count(); ++d) {
    dcs_[d].need = std::min(config.rf_for_dc(index.dc_name(d)), dc_nodes[d]);
    dcs_[d].racks = static_cast<uint32_t>(std::count(dc_racks[d].begin(), dc_racks[d].end(), true));
    replica_count_ += dcs_[d].need;
  }
}

uint32_t ReplicaPlacer::next_stamp() const {
  if (++stamp_ == 0) {
    // Wrapped after 2^32 walks: clear the stamps so no old mark matches.
    std::fill(node_stamp_.begin(), node_stamp_.end(), 0);
    std::fill(skip_stamp_.begin(), skip_stamp_.end(), 0);
    std::fill(rack_seen_stamp_.begin(), rack_seen_stamp_.end(), 0);
    stamp_ = 1;
  }
  return stamp_;
}

}  // namespace ringkeeper
