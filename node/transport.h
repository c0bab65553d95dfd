// Transport: how the runtime moves gossip frames (length-prefixed codec bytes) between nodes.
// The Env makes one per node (Env::make_transport): TcpTransport over Boost.Asio in production
// (node/tcp_transport.h), an in-memory one on a SimNetwork in tests (node/sim_env.h). Every call
// and callback runs on the node thread; not thread-safe. Stats may be read from any thread.
//   auto t = env.make_transport(config, [&](std::string_view frame, const std::string& peer) { return ok; });
//   Result<std::string> bound = t->listen();  t->send("127.0.0.1:7001", encode(msg, codec));
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "ringkeeper/status.h"

namespace ringkeeper {

struct TransportConfig {
  std::string listen = "127.0.0.1:7000";
  size_t max_frame = 4 << 20;        // bytes after the 4-byte length prefix
  int64_t connect_timeout_ms = 1000;
  int64_t write_timeout_ms = 2000;
  int64_t idle_timeout_ms = 120'000; // an inbound connection silent this long is closed
  size_t max_queue = 256;            // frames waiting per peer; more are dropped and counted
  size_t max_inbound = 4096;         // accepted connections at once
  size_t max_peers = 8192;           // outbound peer records; idle ones are dropped beyond this
  int64_t backoff_min_ms = 100;      // after a failed connect, sends wait this long, doubling
  int64_t backoff_max_ms = 2000;
};

// Counters, read from any thread (metrics).
struct TransportStats {
  std::atomic<uint64_t> bytes_in{0}, bytes_out{0}, frames_in{0}, frames_out{0};
  std::atomic<uint64_t> connects{0}, connect_failures{0}, write_failures{0};
  std::atomic<uint64_t> dropped_queue_full{0}, dropped_backoff{0}, dropped_unresolvable{0};
  std::atomic<uint64_t> accepted{0}, refused_inbound{0}, closed_bad_frame{0};
};

class Transport {
 public:
  // Gets each whole frame (length prefix included) — or only the 4-byte prefix of one larger
  // than max_frame, which is never read — and the peer's endpoint; returns false to close that
  // connection.
  using FrameHandler = std::function<bool(std::string_view frame, const std::string& peer)>;

  virtual ~Transport() = default;
  // Binds and starts accepting: the bound "host:port" (port 0 resolved), or kIoError with the
  // reason when the address does not resolve or cannot be bound.
  virtual Result<std::string> listen() = 0;
  // Queues a frame for `address`; never blocks. May drop it (and count it): gossip tolerates loss.
  virtual void send(const std::string& address, std::string frame) = 0;
  // Frames still queued or being written.
  virtual size_t pending() const = 0;
  // Called (node thread) when a connect to `address` is refused outright: nothing listens there.
  virtual void on_refused(std::function<void(const std::string& address)> f) = 0;
  // Closes the listener and every connection.
  virtual void close() = 0;
  virtual const TransportStats& stats() const = 0;
};

}  // namespace ringkeeper
