// PeerClient: kvd's client for replica-to-replica requests (/internal/ on a peer's kv port):
// HTTP/1.1 over pooled keep-alive connections, one pool per peer address, as coroutines on the
// server's io_context. A request on a pooled connection that the peer closed meanwhile is sent
// again once on a fresh one.
//
// Every request is passed to `sign` (when given) right before it goes out: kvd adds its cluster
// MAC there (internal_auth.h), so no caller can forget it.
//
// Thread-safe: send() may run on any strand of the io_context at once; the pool is locked only
// to take or return a connection.
//   PeerClient client(io, [&auth](HttpRequest& r) { auth.sign(r); });
//   Result<HttpResponse> r = co_await client.send("127.0.0.1:7281", std::move(req), 2000ms);
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <utility>  // before Asio: its awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "kv/http_server.h"
#include "ringkeeper/status.h"

namespace ringkeeper::kv {

class PeerClient {
 public:
  using Signer = std::function<void(HttpRequest&)>;
  explicit PeerClient(boost::asio::io_context& io, Signer sign = {}, size_t max_idle_per_peer = 16);
  ~PeerClient();
  // Sends `req` (its Host header is set here) to `address`; the response, or kNotRunning when the
  // peer cannot be reached or does not answer within `timeout`.
  boost::asio::awaitable<Result<HttpResponse>> send(std::string address, HttpRequest req,
                                                    std::chrono::milliseconds timeout);
  // The same from a thread outside the io_context (the streamer): blocks until done.
  Result<HttpResponse> send_blocking(const std::string& address, HttpRequest req, std::chrono::milliseconds timeout);

 private:
  struct Connection;
  std::unique_ptr<Connection> take(const std::string& address);
  void give_back(const std::string& address, std::unique_ptr<Connection> c);
  boost::asio::awaitable<std::unique_ptr<Connection>> connect(const std::string& address,
                                                               std::chrono::milliseconds timeout);

  boost::asio::io_context& io_;
  const Signer sign_;
  const size_t max_idle_per_peer_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;  // guarded by mu_
};

}  // namespace ringkeeper::kv
