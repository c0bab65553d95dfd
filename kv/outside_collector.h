// OutsideCollector: removes the records a kvd holds outside the ranges it replicates — a hint
// replayed to a node that gave the range up meanwhile, a write that raced a release, a member's
// late copy. Such a record may be the newest (or the only) copy of an acknowledged write, so it
// is never just deleted: each pass pushes it to every natural replica of its key (an ordinary
// fenced replica write at this node's ring version, last-write-wins there) and deletes it here
// only once every one of them acknowledged — and only if it is still the same record and the
// ring has not moved meanwhile (KvStore::erase_if). A natural replica that is down or does not
// answer keeps the record here for a later pass. Hints are not records: the hint rules keep them.
//
// A pass runs only while the node's view is settled: no change in flight (no pending ranges,
// nothing streaming, no released range waiting for the streamer to drop it), the node converged
// (every member up routes with the same ring), and the same ring version already settled at the
// previous pass, so the streamer's own drops after a change go first. It walks only the ranges
// this node does not replicate (one RocksDB seek each when they are empty: the steady state).
// Pushes are paced like anti-entropy's (paced_worker.h). Progress: kv_outside_* metrics.
//
// Thread rules: construct, start() and stop() on the owner's thread; the passes run on a thread
// of their own, blocking on KvService::push_record_blocking.
//   OutsideCollector collector(node, store, service, metrics, streaming, streamer, {.interval = 1min}, log);
//   collector.start();  ...  collector.stop();
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "kv/metrics.h"
#include "kv/paced_worker.h"
#include "kv/range_set.h"
#include "kv/store.h"
#include "kv/streamer.h"
#include "ringkeeper/node.h"

namespace ringkeeper::kv {

class KvService;

// The ranges of `ring`'s read ring whose natural replicas do not include `self`, in ring order,
// adjacent ones merged.
std::vector<TokenRange> ranges_outside(const RingSnapshot& ring, const NodeId& self);

class OutsideCollector {
 public:
  struct Options {
    std::chrono::milliseconds interval{std::chrono::minutes(1)};  // between pass starts
    uint64_t bytes_per_second = 8 << 20;                           // pushed bytes
  };
  OutsideCollector(Node& node, KvStore& store, KvService& service, KvMetrics& metrics, const RangeSet& streaming,
                   const Streamer& streamer, Options options, LogSink log);
  void start();
  void stop();

 private:
  void pass();
  bool settled(const RingSnapshot& ring) const;
  // Hands off and collects the records of `range`; false when the pass must stop (the ring
  // moved, or kvd stops).
  bool collect(const RingSnapshot& ring, TokenRange range);
  // Pushes `e` to every natural replica of its key; true once each acknowledged it.
  bool hand_off(const RingSnapshot& ring, const KvStore::Entry& e);
  // Deletes `e` if it is unchanged and the view is still that of `ring`.
  bool erase(const RingSnapshot& ring, const KvStore::Entry& e);

  Node& node_;
  KvStore& store_;
  KvService& service_;
  KvMetrics& metrics_;
  const RangeSet& streaming_;
  const Streamer& streamer_;
  const LogSink log_;
  std::optional<uint64_t> settled_version_;  // worker thread: the ring version settled at the last pass
  PacedWorker worker_;
};

}  // namespace ringkeeper::kv
