#include "gossip/cluster_state.h"

#include <algorithm>

#include "gossip/hash.h"

namespace ringkeeper::gossip {

std::optional<std::vector<Token>> parse_token_list(std::string_view text) {
  std::vector<Token> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    auto token = Token::parse(text.substr(pos, comma - pos));
    if (!token) return std::nullopt;
    out.push_back(*token);
    pos = comma + 1;
    if (pos == text.size()) return std::nullopt;  // a trailing comma
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string format_token_list(std::vector<Token> tokens) {
  std::sort(tokens.begin(), tokens.end());
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  std::string s;
  for (Token t : tokens) {
    if (!s.empty()) s += ',';
    s += t.to_string();
  }
  return s;
}

const VersionedValue* NodeState::get(std::string_view key) const {
  auto it = std::lower_bound(values.begin(), values.end(), key,
                             [](const auto& kv, std::string_view k) { return kv.first < k; });
  return it != values.end() && it->first == key ? &it->second : nullptr;
}


uint64_t ClusterState::entry_hash(const NodeId& id, Generation generation, Version max_version) {
  return mix64(id.hi() ^ mix64(id.lo() ^ mix64(generation.value() ^ mix64(max_version.value() + 0x9E3779B97F4A7C15ULL))));
}

void ClusterState::rehash(const NodeId& id, const NodeState* before, const NodeState* after) {
  summary_stale_ = true;
  uint64_t& b = buckets_[bucket_of(id)];
  if (before) b ^= entry_hash(id, before->generation, before->max_version);
  if (after) b ^= entry_hash(id, after->generation, after->max_version);
}

uint64_t ClusterState::summary() const {
  if (summary_stale_) {
    summary_ = 0;
    for (uint32_t i = 0; i < kBuckets; ++i) summary_ ^= mix64(buckets_[i] + i);
    summary_stale_ = false;
  }
  return summary_;
}

size_t ClusterState::slot(const NodeId& id) const {
  return std::lower_bound(entries_.begin(), entries_.end(), id,
                          [](const auto& e, const NodeId& v) { return e.first < v; }) -
         entries_.begin();
}

const NodeState* ClusterState::find(const NodeId& id) const {
  const size_t i = slot(id);
  return i < entries_.size() && entries_[i].first == id ? entries_[i].second.get() : nullptr;
}

NodeStatePtr ClusterState::find_shared(const NodeId& id) const {
  const size_t i = slot(id);
  return i < entries_.size() && entries_[i].first == id ? entries_[i].second : nullptr;
}

void ClusterState::put_shared(const NodeId& id, NodeStatePtr state) {
  auto it = entries_.begin() + slot(id);
  if (it != entries_.end() && it->first == id) {
    rehash(id, it->second.get(), state.get());
    it->second = std::move(state);
  } else {
    rehash(id, nullptr, state.get());
    entries_.insert(it, {id, std::move(state)});
  }
}

void ClusterState::erase(const NodeId& id) {
  auto it = entries_.begin() + slot(id);
  if (it == entries_.end() || it->first != id) return;
  rehash(id, it->second.get(), nullptr);
  entries_.erase(it);
}

bool ClusterState::merge(const NodeId& id, const NodeState& delta) {
  const NodeState* local = find(id);
  if (!local || delta.generation > local->generation) {
    auto next = std::make_shared<NodeState>(delta);
    next->max_version = Version{};
    for (const auto& [_, v] : next->values) next->max_version = std::max(next->max_version, v.version);
    put_shared(id, std::move(next));
    return true;
  }
  if (delta.generation < local->generation) return false;
  // Same generation: take newer values.
  std::shared_ptr<NodeState> next;
  for (const auto& [key, v] : delta.values) {
    const VersionedValue* mine = (next ? next.get() : local)->get(key);
    if (mine && mine->version >= v.version) continue;
    if (!next) next = std::make_shared<NodeState>(*local);
    auto it = std::lower_bound(next->values.begin(), next->values.end(), key,
                               [](const auto& kv, const std::string& k) { return kv.first < k; });
    if (it != next->values.end() && it->first == key) {
      it->second = v;
    } else {
      next->values.insert(it, {key, v});
    }
    next->max_version = std::max(next->max_version, v.version);
  }
  if (!next) return false;
  put_shared(id, std::move(next));
  return true;
}

std::vector<Digest> ClusterState::digests_in(const std::vector<uint32_t>& buckets) const {
  std::array<bool, kBuckets> want{};
  for (uint32_t b : buckets) {
    if (b < kBuckets) want[b] = true;
  }
  std::vector<Digest> out;
  for (const auto& [id, st] : entries_) {
    if (want[bucket_of(id)]) out.push_back({id, st->generation, st->max_version});
  }
  return out;
}

std::vector<Digest> ClusterState::all_digests() const {
  std::vector<Digest> out;
  out.reserve(entries_.size());
  for (const auto& [id, st] : entries_) out.push_back({id, st->generation, st->max_version});
  return out;
}

std::optional<NodeState> ClusterState::delta_since(const NodeId& id, Generation asker_generation,
                                                   Version after_version) const {
  const NodeState* st = find(id);
  if (!st) return std::nullopt;
  if (asker_generation < st->generation) after_version = Version{};
  NodeState out;
  out.generation = st->generation;
  for (const auto& kv : st->values) {
    if (kv.second.version > after_version) {
      out.values.push_back(kv);
      out.max_version = std::max(out.max_version, kv.second.version);
    }
  }
  return out;
}

}  // namespace ringkeeper::gossip
