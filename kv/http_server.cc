#include "kv/http_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>

#include "kv/http_util.h"

namespace ringkeeper::kv {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

HttpResponse json_error(const HttpRequest& req, http::status status, const std::string& message) {
  HttpResponse res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = nlohmann::json{{"error", message}}.dump();
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, std::string listen, Handler handler, Limits limits, std::function<void(Rejection)> rej)
      : io(io), listen(std::move(listen)), handler(std::move(handler)), limits(limits), on_rejected(std::move(rej)),
        acceptor(io) {}

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::make_strand(io), asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) continue;  // a connection reset before it was accepted, descriptors exhausted: keep serving
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket)), asio::detached);
    }
  }

  // Answers a request the server refuses before the handler sees it, then closes.
  asio::awaitable<void> refuse(beast::tcp_stream& stream, http::status status, Rejection why, const std::string& msg) {
    on_rejected(why);
    HttpRequest req;
    req.keep_alive(false);
    HttpResponse res = json_error(req, status, msg);
    boost::system::error_code ec;
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  }

  // Reads the next request into `parser`: up to idle_timeout for its first byte (a keep-alive
  // connection between requests), then read_timeout for the whole head and body. An idle timeout
  // reads as end_of_stream; a read timeout is counted and reads as beast::error::timeout (Beast
  // has closed the socket then, so nothing can be answered).
  asio::awaitable<boost::system::error_code> read_request(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                          http::request_parser<http::string_body>& parser) {
    boost::system::error_code ec;
    if (buffer.size() == 0) {
      stream.expires_after(limits.idle_timeout);
      const size_t n = co_await stream.async_read_some(buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return http::error::end_of_stream;  // closed, reset, or idle too long
      buffer.commit(n);
    }
    stream.expires_after(limits.read_timeout);
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec == beast::error::timeout) on_rejected(Rejection::kReadTimeout);
    co_return ec;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    auto self = shared_from_this();
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec).address();
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(limits.max_head));
      parser.body_limit(limits.max_body);
      ec = co_await read_request(stream, buffer, parser);
      if (ec == http::error::body_limit) {
        co_await refuse(stream, http::status::payload_too_large, Rejection::kValueTooLarge, "body over 1 MiB");
        break;
      }
      if (ec == http::error::header_limit) {
        co_await refuse(stream, http::status::payload_too_large, Rejection::kHeadTooLarge,
                        "request line and headers over " + std::to_string(limits.max_head) + " bytes");
        break;
      }
      if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
          ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
        break;
      }
      if (ec) {
        co_await refuse(stream, http::status::bad_request, Rejection::kMalformedHttp, "not an HTTP/1.1 request");
        break;
      }
      HttpCall call{parser.release(), remote};
      const bool keep_alive = call.request.keep_alive();
      stream.expires_never();  // a coordinator's own deadlines bound the handler
      HttpResponse res;
      try {
        res = co_await handler(call);
      } catch (const std::exception& e) {  // a bug: answer it rather than drop the connection
        res = json_error(call.request, http::status::internal_server_error, std::string("internal: ") + e.what());
      }
      res.keep_alive(keep_alive);
      res.prepare_payload();
      stream.expires_after(std::chrono::seconds(30));
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !keep_alive) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::io_context& io;
  const std::string listen;
  const Handler handler;
  const Limits limits;
  const std::function<void(Rejection)> on_rejected;
  tcp::acceptor acceptor;
};

HttpServer::HttpServer(asio::io_context& io, std::string listen, Handler handler, Limits limits,
                       std::function<void(Rejection)> on_rejected)
    : impl_(std::make_shared<Impl>(io, std::move(listen), std::move(handler), limits, std::move(on_rejected))) {}

HttpServer::~HttpServer() { close(); }

Result<std::string> HttpServer::start() {
  auto hp = split_host_port(impl_->listen);
  if (!hp) return Status::invalid_argument("--kv " + impl_->listen + ": expected HOST:PORT");
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto results = resolver.resolve(hp->first, std::to_string(hp->second), ec);
  if (ec || results.empty()) return Status::io_error("--kv " + impl_->listen + ": " + ec.message());
  const tcp::endpoint endpoint = results.begin()->endpoint();
  tcp::acceptor& a = impl_->acceptor;
  if (a.open(endpoint.protocol(), ec); ec) return Status::io_error("kv listener: " + ec.message());
  a.set_option(asio::socket_base::reuse_address(true), ec);
  if (a.bind(endpoint, ec); ec) return Status::io_error("cannot bind --kv " + impl_->listen + ": " + ec.message());
  if (a.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Status::io_error("kv listener: " + ec.message());
  }
  const tcp::endpoint bound = a.local_endpoint(ec);
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string();
  return host + ":" + std::to_string(bound.port());
}

void HttpServer::close() {
  boost::system::error_code ec;
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
}

}  // namespace ringkeeper::kv
