#include "kv/anti_entropy.h"

#include <map>

#include "kv/http_util.h"
#include "kv/range_hash.h"
#include "kv/service.h"

namespace ringkeeper::kv {

namespace {
int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::string range_query(TokenRange r) { return "start=" + r.start.to_string() + "&end=" + r.end.to_string(); }
}  // namespace

AntiEntropy::AntiEntropy(Node& node, KvStore& store, PeerClient& peers, KvService& service, KvMetrics& metrics,
                         RangeSet& streaming, Options options, LogSink log)
    : node_(node), store_(store), peers_(peers), service_(service), metrics_(metrics), streaming_(streaming),
      log_(std::move(log)), worker_(options.interval, options.bytes_per_second) {}

AntiEntropy::~AntiEntropy() { stop(); }

void AntiEntropy::start() { worker_.start([this] { run_cycle(); }); }

void AntiEntropy::stop() { worker_.stop(); }

void AntiEntropy::run_cycle() {
  const int64_t started_wall = wall_ms();
  if (cycle()) {
    store_.set_repaired_before_ms(started_wall);
    metrics_.ae_cycles_completed++;
  }
}

bool AntiEntropy::cycle() {
  auto ring = node_.ring();
  // A change in flight: its ranges belong to the streamer until it is done.
  if (ring->has_pending_changes() || streaming_.size() > 0 || ring->current().empty()) return false;
  const NodeId self = node_.id();
  bool complete = true;
  for (uint32_t i = 0; i < ring->current().size() && !stopping(); ++i) {
    const TokenRange range = ring->current().range_at(i);
    const ReplicaSet replicas = ring->natural_replicas(range.end);
    if (!replicas.contains(self)) continue;
    for (const NodeId& peer : replicas) {
      if (peer == self) continue;
      const PeerLiveness live = node_.liveness(peer);
      auto address = service_.kv_address(peer);
      if ((live != PeerLiveness::kUp && live != PeerLiveness::kUnknown) || !address) {
        complete = false;
        continue;
      }
      if (!compare(range, peer, *address)) {
        metrics_.ae_failures++;
        complete = false;
      }
    }
    if (node_.ring()->version() != ring->version()) return false;  // the ring moved: start over later
  }
  return complete && !stopping();
}

bool AntiEntropy::compare(TokenRange range, const NodeId& peer, const std::string& address) {
  uint64_t scanned = 0;
  auto mine = hash_range(store_, range, &scanned);
  if (!mine.ok()) return false;
  HttpRequest req{http::verb::get, "/internal/tree?" + range_query(range) + "&root=" + std::to_string(mine->root()), 11};
  req.set(kRingVersionHeader, std::to_string(node_.ring()->version()));
  auto res = peers_.send_blocking(address, std::move(req), std::chrono::seconds(10));
  if (!res.ok()) return false;
  metrics_.ae_ranges_compared++;
  metrics_.ae_bytes += res->body().size();
  if (res->result() == http::status::no_content) return pace(res->body().size() + 64);
  if (res->result() != http::status::ok) return false;
  auto theirs = RangeHashes::decode_leaves(res->body(), mine->leaf_count());
  if (!theirs) return false;
  const std::vector<uint32_t> differing = mine->differing(*theirs);
  if (!differing.empty()) {
    metrics_.ae_ranges_differing++;
    if (log_) {
      log_(LogLevel::kDebug, "anti-entropy: range (" + range.start.to_string() + ", " + range.end.to_string() +
                                 "] differs from " + peer.to_string() + " in " + std::to_string(differing.size()) +
                                 " of " + std::to_string(mine->leaf_count()) + " leaves");
    }
  }
  for (uint32_t leaf : differing) {
    if (stopping() || !repair_leaf(mine->leaf_range(leaf), address)) return false;
  }
  return true;
}

// Pulls the peer's records of `slice`, merges them, and pushes what this node holds newer or alone.
bool AntiEntropy::repair_leaf(TokenRange slice, const std::string& address) {
  auto theirs = fetch(slice, address);
  if (!theirs) return false;
  std::map<std::string, Record> peer_records;
  for (auto& [key, rec] : *theirs) {
    auto stored = store_.merge(key, rec);
    if (!stored.ok()) return false;
    if (*stored) metrics_.ae_keys_repaired++;
    peer_records.emplace(std::move(key), std::move(rec));
  }
  std::vector<std::pair<std::string, Record>> to_push;
  Status s = store_.scan(slice, "", [&](KvStore::Entry&& e) {
    auto at = peer_records.find(e.key);
    if (at == peer_records.end() || supersedes(e.record, at->second)) to_push.emplace_back(e.key, e.record);
    return true;
  });
  if (!s.ok()) return false;
  for (const auto& [key, rec] : to_push) {
    if (!push(address, key, rec)) return false;
    metrics_.ae_keys_repaired++;
    if (!pace(key.size() + rec.value.size() + 200)) return false;
  }
  return true;
}

std::optional<std::vector<std::pair<std::string, Record>>> AntiEntropy::fetch(TokenRange slice,
                                                                             const std::string& address) {
  std::vector<std::pair<std::string, Record>> out;
  std::string after;
  for (;;) {
    HttpRequest req{http::verb::get, "/internal/range?" + range_query(slice) + "&after=" + to_hex(after), 11};
    req.set(kRingVersionHeader, std::to_string(node_.ring()->version()));
    auto res = peers_.send_blocking(address, std::move(req), std::chrono::seconds(10));
    if (!res.ok() || res->result() != http::status::ok) return std::nullopt;
    metrics_.ae_bytes += res->body().size();
    const bool parsed = for_each_range_frame(res->body(), [&](std::string_view key, Record&& rec) {
      if (!slice.contains(store_.token_of(key))) return false;
      out.emplace_back(std::string(key), std::move(rec));
      return true;
    });
    if (!parsed || !pace(res->body().size())) return std::nullopt;
    const auto next = (*res)[kNextHeader];
    if (next.empty()) return out;
    auto pos = from_hex(std::string_view(next.data(), next.size()));
    if (!pos) return std::nullopt;
    after = std::move(*pos);
  }
}

bool AntiEntropy::push(const std::string& address, const std::string& key, const Record& r) {
  metrics_.ae_bytes += r.value.size();
  return service_.push_record_blocking(address, key, r, node_.ring()->version());
}

}  // namespace ringkeeper::kv
