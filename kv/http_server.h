// HttpServer: kvd's HTTP/1.1 listener (Boost.Beast, C++20 coroutines) on an io_context that the
// owner runs on a small fixed pool of threads. Each connection is one coroutine on its own
// strand, serving requests one after another with keep-alive; the handler is a coroutine too, so
// a coordinator waiting on replicas holds no thread. Bodies over `max_body` and heads over
// `max_head` are answered 413 (then the connection closes); bytes that are not HTTP close it. A
// request must arrive whole — head and body — within `read_timeout` of its first byte, or the
// connection closes (so slow senders cannot pin connections); a keep-alive connection may wait
// `idle_timeout` for its next request. All of these are reported through `on_rejected` so the
// owner can count them.
//
// Thread rules: start() and close() from the owner's thread; the handler runs on the pool.
// The handler, and whatever it captures, must outlive the io_context's threads.
//   HttpServer server(io, "127.0.0.1:0", handler, {});
//   Result<std::string> bound = server.start();   // "127.0.0.1:41234"
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <utility>  // before Asio: its awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "kv/metrics.h"
#include "ringkeeper/status.h"

namespace ringkeeper::kv {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// One request as the handler sees it: the message and who sent it.
struct HttpCall {
  HttpRequest request;
  boost::asio::ip::address remote;
};

// A JSON answer {"error": message} with `status` (and version/keep-alive from `req`).
HttpResponse json_error(const HttpRequest& req, http::status status, const std::string& message);

class HttpServer {
 public:
  using Handler = std::function<boost::asio::awaitable<HttpResponse>(HttpCall&)>;
  struct Limits {
    size_t max_head = 16 * 1024;
    size_t max_body = (1 << 20) + 64 * 1024;  // a 1 MiB value plus room for a stream page's framing
    std::chrono::milliseconds read_timeout{10'000};   // a request's first byte to its last
    std::chrono::milliseconds idle_timeout{120'000};  // a keep-alive connection between requests
  };
  HttpServer(boost::asio::io_context& io, std::string listen, Handler handler, Limits limits,
             std::function<void(Rejection)> on_rejected);
  ~HttpServer();
  // Binds and starts accepting; the bound "host:port". kIoError when the address cannot be bound.
  Result<std::string> start();
  // Stops accepting (connections in flight end when the io_context stops).
  void close();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ringkeeper::kv
