// Streamer: moves kvd's data when ownership changes. It follows the node's ownership events
// (<ringkeeper/node.h>, OwnershipEvent) on a worker thread of its own:
//   kPending    streams each gained range from its sources (their /internal/range pages, merged
//               last-write-wins), then acknowledges the change (Node::acknowledge_ranges); the
//               ranges answer reads "not ready" until they are in;
//   kReleased   drops the released ranges once no change is in flight (never a range this node
//               replicates again by then);
//   kCancelled  drops what it streamed for the aborted change.
// Joins, moves, rebalances, decommissions, removals and replacements all arrive as these events.
//
// A range is in once a majority of the replication factor of its sources (all of them, when it
// has fewer; at least one) were read completely; until then it is retried every 500 ms. Every
// event is handled idempotently: merging twice changes nothing.
//
// Thread rules: construct, start() and stop() on the owner's thread; the node calls the
// subscriptions on its thread, which only enqueue; the work runs on the streamer's thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "kv/metrics.h"
#include "kv/peer_client.h"
#include "kv/range_set.h"
#include "kv/store.h"
#include "ringkeeper/node.h"

namespace ringkeeper::kv {

class KvService;

class Streamer {
 public:
  // `ack_delay` (tests only, kvd --kv-ack-delay-ms): waits this long after a change's ranges are
  // in before acknowledging them, so a test can hold the change in write_both and abort it.
  Streamer(Node& node, KvStore& store, PeerClient& peers, KvService& service, KvMetrics& metrics, RangeSet& streaming,
           LogSink log, std::chrono::milliseconds ack_delay = std::chrono::milliseconds(0));
  ~Streamer();
  // Subscribes to ownership events; call before Node::start() so that a change
  // resumed after a restart is seen.
  void subscribe();
  void start();
  void stop();

  // Tests and metrics: ranges waiting to be dropped.
  size_t pending_drops() const;

 private:
  struct Task {
    enum class Kind { kStream, kDrop } kind;
    std::optional<NodeId> change;        // kStream: the change to acknowledge
    std::vector<RangeTransfer> gained;   // kStream
    std::vector<TokenRange> ranges;      // kDrop: cancelled ranges, dropped at once
  };
  void on_ownership(const OwnershipEvent& e);
  void enqueue(Task t);
  void run();
  // Streams every gained range; false when `change` was cancelled (or kvd stops) first.
  bool stream_all(const std::vector<RangeTransfer>& gained, const std::optional<NodeId>& change);
  // One range from enough of its sources; false when not enough could be read.
  bool stream_range(const RangeTransfer& t);
  bool stream_from(const NodeId& source, TokenRange range);
  void drop_released_if_done();
  bool replicates_any_of(TokenRange r) const;
  // True once `change` was cancelled (or kvd stops).
  bool given_up(const std::optional<NodeId>& change) const;
  void log(LogLevel level, const std::string& line) const {
    if (log_) log_(level, line);
  }

  Node& node_;
  KvStore& store_;
  PeerClient& peers_;
  KvService& service_;
  KvMetrics& metrics_;
  RangeSet& streaming_;
  const LogSink log_;
  const std::chrono::milliseconds ack_delay_;
  Subscription ownership_sub_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Task> queue_;                 // guarded by mu_
  std::vector<TokenRange> release_later_;  // guarded by mu_
  std::vector<NodeId> cancelled_;          // guarded by mu_: changes whose streams must stop
  bool stopping_ = false;                  // guarded by mu_
  std::thread worker_;
};

}  // namespace ringkeeper::kv
