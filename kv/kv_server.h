// KvServer: a whole kvd — a ringkeeper Node (streams_data on), its data in RocksDB under
// DIR/kv, the HTTP server on the --kv address (data API, /internal/ replica routes, /metrics),
// the streamer that follows ownership changes, the hint replayer, anti-entropy and the outside
// collector; replica requests signed under the gossip keyring when it has a primary key.
// tools/kvd.cc is this plus flags; tests may embed it directly.
//
// Thread rules: open(), start() and stop() from one owner thread; node() and the accessors from
// any thread once started. stop() joins every thread kvd made.
//   KvConfig cfg;  cfg.node.data_dir = dir;  cfg.kv_listen = "127.0.0.1:0";
//   auto kv = KvServer::open(cfg);              // Result<unique_ptr<KvServer>>
//   if (Status s = (*kv)->start(); !s.ok()) ...
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ringkeeper/node.h"
#include "ringkeeper/status.h"

namespace ringkeeper::kv {

struct KvConfig {
  NodeConfig node;                         // the ring node; streams_data is set by open()
  std::string kv_listen = "127.0.0.1:7280";
  int io_threads = 4;                      // the HTTP server's fixed pool
  int64_t tombstone_grace_ms = 3600 * 1000;  // tombstones are kept at least this long
  int64_t max_clock_ahead_ms = 10'000;       // writes stamped further ahead are refused
  uint64_t max_hints = 100'000;             // 0: no hints (tests of anti-entropy)
  // Anti-entropy (kv/anti_entropy.h): between the starts of two repair cycles; 0 turns it off
  // (tombstones then go after the grace period alone). Repair traffic is paced to the rate.
  int64_t anti_entropy_interval_ms = 10 * 60 * 1000;
  uint64_t anti_entropy_bytes_per_s = 8 << 20;
  // The outside collector (kv/outside_collector.h): between the starts of two passes over the
  // ranges this node does not replicate; 0 turns it off. Paced to anti_entropy_bytes_per_s.
  int64_t outside_collect_interval_ms = 60 * 1000;
  // Tests only (kvd --kv-ack-delay-ms): hold each change's acknowledgement this long after its
  // ranges are in, so that a test can abort a change while it is in write_both.
  int64_t ack_delay_ms = 0;
  // Where kvd's own lines go (streaming progress, dropped ranges); empty: none. The node's lines
  // go to node.log_sink.
  LogSink log;
};

struct KvMetrics;

class KvServer {
 public:
  // Binds the kv address (so addresses.json can name it), opens the node and the stores.
  // Errors as Node::open's, plus kIoError when the kv address cannot be bound.
  static Result<std::unique_ptr<KvServer>> open(KvConfig config);
  ~KvServer();
  // Starts the node, the HTTP pool, the streamer and hint replay, and publishes the kv address.
  Status start();
  void stop();

  Node& node();
  // The bound kv "host:port".
  const std::string& kv_address() const;
  const KvMetrics& metrics() const;

 private:
  struct Impl;
  explicit KvServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ringkeeper::kv
