// AntiEntropy: kvd's background repair. Every `interval` it walks the ranges this node
// replicates (the read ring's ranges whose natural replicas include it) and, for each other
// natural replica, compares the range's hash tree (range_hash.h) with the replica's
// (GET /internal/tree: the root first, the 64 leaves only when roots differ). For each leaf
// that differs it pulls the replica's records of that slice (/internal/range, merged
// last-write-wins) and pushes the records it holds newer or alone (/internal/kv, fenced writes),
// so after one comparison both replicas hold the union. Keys then reach every replica even when
// nobody reads them and hints were lost.
//
// Rate limit: repair and tree traffic is paced to `bytes_per_second` (the worker sleeps off what
// it moved; paced_worker.h). It skips while a change is in flight (streaming owns those ranges then). A cycle
// in which every range was compared with every natural replica sets
// KvStore::set_repaired_before_ms(cycle start): tombstones older than that may be collected.
// Progress: kv_antientropy_* metrics.
//
// Thread rules: construct, start() and stop() on the owner's thread; the work runs on a thread of
// its own, blocking on PeerClient::send_blocking.
//   AntiEntropy ae(node, store, peers, service, metrics, streaming, {.interval = 10min}, log);
//   ae.start();  ...  ae.stop();
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kv/metrics.h"
#include "kv/paced_worker.h"
#include "kv/peer_client.h"
#include "kv/range_set.h"
#include "kv/record.h"
#include "kv/store.h"
#include "ringkeeper/node.h"

namespace ringkeeper::kv {

class KvService;

class AntiEntropy {
 public:
  struct Options {
    std::chrono::milliseconds interval{std::chrono::minutes(10)};  // between cycle starts
    uint64_t bytes_per_second = 8 << 20;                           // repair + tree traffic
  };
  AntiEntropy(Node& node, KvStore& store, PeerClient& peers, KvService& service, KvMetrics& metrics,
              RangeSet& streaming, Options options, LogSink log);
  ~AntiEntropy();
  void start();
  void stop();

 private:
  // One cycle, and what it allows: tombstones older than its start may go once it completed.
  void run_cycle();
  // One pass over every range; true when every one was compared with every natural replica.
  bool cycle();
  // Compares `range` with `peer` and repairs both sides; false when it could not finish.
  bool compare(TokenRange range, const NodeId& peer, const std::string& address);
  bool repair_leaf(TokenRange slice, const std::string& address);
  std::optional<std::vector<std::pair<std::string, Record>>> fetch(TokenRange slice, const std::string& address);
  bool push(const std::string& address, const std::string& key, const Record& r);
  bool pace(uint64_t bytes) { return worker_.pace(bytes); }
  bool stopping() const { return worker_.stopping(); }

  Node& node_;
  KvStore& store_;
  PeerClient& peers_;
  KvService& service_;
  KvMetrics& metrics_;
  RangeSet& streaming_;
  const LogSink log_;
  PacedWorker worker_;
};

}  // namespace ringkeeper::kv
