// TcpTransport: gossip frames over TCP with Boost.Asio. Outbound, one connection per peer
// address with a bounded queue, connect and write timeouts and reconnect backoff (names are
// re-resolved on every connect); inbound, a reader per accepted connection that hands each
// length-prefixed frame to the owner and closes the connection when the owner refuses one.
// Every call and callback runs on the io_context's thread (the node thread); not thread-safe.
//   TcpTransport t(io, config, [&](std::string_view frame, const std::string& peer) { return ok; });
//   t.listen();  t.send("127.0.0.1:7001", encode(msg, codec));
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace ringkeeper::gossip {

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

class TcpTransport {
 public:
  // `on_frame` gets each whole frame (length prefix included) — or only the 4-byte prefix of
  // one larger than max_frame, which is never read — and the peer's endpoint; it returns false
  // to close that connection.
  using FrameHandler = std::function<bool(std::string_view frame, const std::string& peer)>;

  TcpTransport(boost::asio::io_context& io, TransportConfig config, FrameHandler on_frame);
  ~TcpTransport();

  // Binds and starts accepting; returns the bound "host:port" (port 0 resolved). Throws
  // std::runtime_error with the reason when the address cannot be bound.
  std::string listen();
  // Queues a frame for `address`; never blocks. Dropped (and counted) when the peer is in
  // backoff after a failed connect or its queue is full: gossip tolerates loss.
  void send(const std::string& address, std::string frame);
  // Frames still queued or being written.
  size_t pending() const;
  // Called (node thread) when a connect to `address` is refused outright: nothing listens there.
  void on_refused(std::function<void(const std::string& address)> f);
  // Closes the listener and every connection.
  void close();
  const TransportStats& stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ringkeeper::gossip
