// TcpTransport: the real Env's Transport — gossip frames over TCP with Boost.Asio. Outbound, one
// connection per peer address with a bounded queue, connect and write timeouts and reconnect
// backoff (names are re-resolved on every connect); inbound, a reader per accepted connection
// that hands each length-prefixed frame to the owner and closes the connection when the owner
// refuses one. Every call and callback runs on the io_context's thread (the node thread).
//   TcpTransport t(io, config, [&](std::string_view frame, const std::string& peer) { return ok; });
//   Result<std::string> bound = t.listen();  t.send("127.0.0.1:7001", encode(msg, codec));
#pragma once

#include <memory>

#include "node/transport.h"

namespace boost::asio {
class io_context;
}

namespace ringkeeper {

class TcpTransport final : public Transport {
 public:
  TcpTransport(boost::asio::io_context& io, TransportConfig config, FrameHandler on_frame);
  ~TcpTransport() override;

  Result<std::string> listen() override;
  // Dropped (and counted) when the peer is in backoff after a failed connect or its queue is full.
  void send(const std::string& address, std::string frame) override;
  size_t pending() const override;
  void on_refused(std::function<void(const std::string& address)> f) override;
  void close() override;
  const TransportStats& stats() const override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ringkeeper
