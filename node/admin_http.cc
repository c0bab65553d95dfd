#include "node/admin_http.h"

#include <chrono>
#include <utility>
#include <stdexcept>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "node/acceptor.h"

namespace ringkeeper {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct AdminServer::Impl : std::enable_shared_from_this<Impl> {
  asio::io_context& io;
  std::string listen;
  Handler handler;
  tcp::acceptor acceptor;
  bool closed = false;

  Impl(asio::io_context& io_, std::string l, Handler h)
      : io(io_), listen(std::move(l)), handler(std::move(h)), acceptor(io_) {}

  asio::awaitable<void> serve(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    const auto remote = stream.socket().remote_endpoint(ec);
    const bool loopback = !ec && remote.address().is_loopback();
    for (;;) {
      http::request<http::string_body> req;
      http::request_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      stream.expires_after(std::chrono::seconds(10));
      boost::system::error_code rec;
      auto rn = co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, rec));
      (void)rn;
      if (rec) break;
      req = parser.release();
      AdminRequest ar;
      ar.method = std::string(req.method_string());
      ar.target = std::string(req.target());
      ar.body = req.body();
      if (auto it = req.find(http::field::authorization); it != req.end()) ar.authorization = std::string(it->value());
      ar.loopback = loopback;
      AdminResponse resp;
      try {
        resp = handler(ar);
      } catch (const std::exception& e) {
        resp = {500, "application/json", std::string("{\"error\":\"internal error\"}")};
      }
      http::response<http::string_body> res{static_cast<http::status>(resp.status), req.version()};
      res.set(http::field::server, "ringkeeper");
      res.set(http::field::content_type, resp.content_type);
      res.keep_alive(req.keep_alive());
      res.body() = std::move(resp.body);
      res.prepare_payload();
      boost::system::error_code wec;
      auto wn = co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, wec));
      (void)wn;
      if (wec || !res.keep_alive() || closed) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (closed || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
      if (ec) {
        asio::steady_timer t(io, std::chrono::milliseconds(50));
        boost::system::error_code tec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, tec));
        continue;
      }
      asio::co_spawn(io, serve(std::move(socket)), asio::detached);
    }
  }
};

AdminServer::AdminServer(asio::io_context& io, std::string listen, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(listen), std::move(handler))) {}

AdminServer::~AdminServer() { close(); }

std::string AdminServer::start() {
  std::string bound = gossip::bind_acceptor(impl_->io, impl_->acceptor, impl_->listen, "admin");
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return bound;
}

void AdminServer::close() {
  impl_->closed = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace ringkeeper
