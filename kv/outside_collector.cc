#include "kv/outside_collector.h"

#include "kv/service.h"

namespace ringkeeper::kv {

std::vector<TokenRange> ranges_outside(const RingSnapshot& ring, const NodeId& self) {
  std::vector<TokenRange> out;
  for (uint32_t i = 0; i < ring.current().size(); ++i) {
    const TokenRange r = ring.current().range_at(i);
    if (ring.natural_replicas(r.end).contains(self)) continue;
    if (!out.empty() && out.back().end == r.start) {
      out.back().end = r.end;
    } else {
      out.push_back(r);
    }
  }
  return out;
}

OutsideCollector::OutsideCollector(Node& node, KvStore& store, KvService& service, KvMetrics& metrics,
                                   const RangeSet& streaming, const Streamer& streamer, Options options, LogSink log)
    : node_(node), store_(store), service_(service), metrics_(metrics), streaming_(streaming), streamer_(streamer),
      log_(std::move(log)), worker_(options.interval, options.bytes_per_second) {}

void OutsideCollector::start() { worker_.start([this] { pass(); }); }
void OutsideCollector::stop() { worker_.stop(); }

bool OutsideCollector::settled(const RingSnapshot& ring) const {
  return !ring.current().empty() && !ring.has_pending_changes() && streaming_.size() == 0 &&
         streamer_.pending_drops() == 0 && node_.converged();
}

void OutsideCollector::pass() {
  auto ring = node_.ring();
  if (!settled(*ring)) {
    settled_version_.reset();
    return;
  }
  const bool quiet = settled_version_ == ring->version();
  settled_version_ = ring->version();
  if (!quiet) return;  // settled since the last pass only
  metrics_.outside_passes++;
  const uint64_t found = metrics_.outside_found, collected = metrics_.outside_collected;
  for (const TokenRange& r : ranges_outside(*ring, node_.id())) {
    if (!collect(*ring, r)) break;
  }
  if (log_ && metrics_.outside_found != found) {
    log_(LogLevel::kInfo, "outside collector: " + std::to_string(metrics_.outside_found - found) +
                              " records outside this node's ranges, " +
                              std::to_string(metrics_.outside_collected - collected) +
                              " handed to every natural replica and deleted here");
  }
}

bool OutsideCollector::collect(const RingSnapshot& ring, TokenRange range) {
  constexpr size_t kPageRecords = 256, kPageBytes = 4 << 20;
  std::string after;
  for (;;) {
    std::vector<KvStore::Entry> page;
    size_t bytes = 0;
    Status s = store_.scan(range, after, [&](KvStore::Entry&& e) {
      bytes += e.key.size() + e.record.value.size();
      page.push_back(std::move(e));
      return page.size() < kPageRecords && bytes < kPageBytes;
    });
    if (!s.ok() || page.empty()) return s.ok();
    for (const KvStore::Entry& e : page) {
      metrics_.outside_found++;
      if (hand_off(ring, e) && erase(ring, e)) {
        metrics_.outside_collected++;
      } else {
        metrics_.outside_kept++;
      }
      if (worker_.stopping() || node_.ring()->version() != ring.version()) return false;
    }
    if (page.size() < kPageRecords && bytes < kPageBytes) return true;
    after = page.back().position;
  }
}

bool OutsideCollector::hand_off(const RingSnapshot& ring, const KvStore::Entry& e) {
  const ReplicaSet replicas = ring.natural_replicas(e.token);
  if (replicas.empty()) return false;
  for (const NodeId& replica : replicas) {
    const PeerLiveness live = node_.liveness(replica);
    auto address = service_.kv_address(replica);
    if (replica == node_.id() || !address || live == PeerLiveness::kDown || live == PeerLiveness::kSuspect) {
      return false;
    }
    if (!service_.push_record_blocking(*address, e.key, e.record, ring.version())) return false;
    metrics_.outside_pushed++;
    if (!worker_.pace(e.key.size() + e.record.value.size() + 200)) return false;
  }
  return true;
}

bool OutsideCollector::erase(const RingSnapshot& ring, const KvStore::Entry& e) {
  auto erased = store_.erase_if(e.key, e.record, [&] {
    auto now = node_.ring();
    return now->version() == ring.version() && !now->has_pending_changes() && !streaming_.contains(e.token);
  });
  return erased.ok() && *erased;
}

}  // namespace ringkeeper::kv
