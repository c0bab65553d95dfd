#include "node/admin_http.h"

#include <chrono>
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "node/acceptor.h"

namespace ringkeeper {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace ssl = asio::ssl;

namespace {

// TLS 1.2 and later, the certificate chain and its key from PEM files; kInvalidArgument naming
// the flag when a file does not load. Asio reports a bad file by throwing: caught here, where
// the reason is known.
Result<std::unique_ptr<ssl::context>> tls_context(const AdminTls& tls) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  try {
    ctx->use_certificate_chain_file(tls.cert_file);
  } catch (const std::exception& e) {
    return Status::invalid_argument("--admin-tls-cert: cannot load " + tls.cert_file + ": " + e.what());
  }
  try {
    ctx->use_private_key_file(tls.key_file, ssl::context::pem);
  } catch (const std::exception& e) {
    return Status::invalid_argument("--admin-tls-key: cannot load " + tls.key_file + " (or it is not the key of " +
                                    tls.cert_file + "): " + e.what());
  }
  return ctx;
}

// Admin requests are small: a body over this is answered 413 (as is a head over Beast's 8 KiB).
constexpr uint64_t kMaxBody = 1 << 20;

// What a plain-HTTP request to the HTTPS port gets: a readable refusal instead of TLS garbage.
const std::string kPlainHttpRefusal = [] {
  const std::string body =
      "{\"error\":\"this admin port speaks HTTPS: call it with https:// (ringctl: --cacert FILE)\"}\n";
  return "HTTP/1.1 400 Bad Request\r\nServer: ringkeeper\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}();

}  // namespace

Status check_admin_tls(const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() && key_file.empty()) return {};
  if (cert_file.empty() || key_file.empty()) {
    return Status::invalid_argument("--admin-tls-cert and --admin-tls-key go together: give both");
  }
  Result<std::unique_ptr<ssl::context>> loaded = tls_context(AdminTls{cert_file, key_file});
  return loaded.ok() ? Status() : loaded.status();
}

struct AdminServer::Impl : std::enable_shared_from_this<Impl> {
  asio::io_context& io;
  std::string listen;
  Handler handler;
  AdminTls tls_files;
  std::unique_ptr<ssl::context> tls;  // null: plain HTTP (loaded by start())
  tcp::acceptor acceptor;
  bool closed = false;

  Impl(asio::io_context& io_, std::string l, Handler h, AdminTls t)
      : io(io_), listen(std::move(l)), handler(std::move(h)), tls_files(std::move(t)), acceptor(io_) {}

  AdminResponse answer(const http::request<http::string_body>& req, bool loopback) {
    AdminRequest ar;
    ar.method = std::string(req.method_string());
    ar.target = std::string(req.target());
    ar.body = req.body();
    if (auto it = req.find(http::field::authorization); it != req.end()) ar.authorization = std::string(it->value());
    ar.loopback = loopback;
    if (auto it = req.find(http::field::content_type); it != req.end()) ar.content_type = std::string(it->value());
    if (auto it = req.find(http::field::host); it != req.end()) ar.host = std::string(it->value());
    try {
      return handler(ar);
    } catch (const std::exception& e) {
      return {500, "application/json", std::string("{\"error\":\"internal error\"}")};
    }
  }

  // A request over the size limits gets 413 with a JSON error; then what the client still sends
  // is read and dropped (for up to 2 s, 16 MiB): closing on unread bytes would reset the
  // connection, and the client would lose the answer.
  template <class Stream>
  asio::awaitable<void> refuse_too_large(Stream& stream, beast::flat_buffer& buffer, const char* what) {
    http::response<http::string_body> res{http::status::payload_too_large, 11};
    res.set(http::field::server, "ringkeeper");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(false);
    res.body() = std::string("{\"error\":\"") + what + "\"}\n";
    res.prepare_payload();
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    for (size_t drained = 0; !ec && drained < (16u << 20);) {
      buffer.clear();
      drained += co_await stream.async_read_some(buffer.prepare(64 * 1024), asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  // Requests on one connection (plain or TLS) until it closes, errs or asks to.
  template <class Stream>
  asio::awaitable<void> session(Stream& stream, beast::flat_buffer& buffer, bool loopback) {
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBody);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
      boost::system::error_code rec;
      auto rn = co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, rec));
      (void)rn;
      if (rec == http::error::body_limit || rec == http::error::header_limit) {
        co_await refuse_too_large(stream, buffer, rec == http::error::body_limit
                                                      ? "request body over 1 MiB"
                                                      : "request line and headers over 8 KiB");
        break;
      }
      if (rec) break;
      http::request<http::string_body> req = parser.release();
      AdminResponse resp = answer(req, loopback);
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
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    const auto remote = stream.socket().remote_endpoint(ec);
    const bool loopback = !ec && remote.address().is_loopback();
    if (!tls) {
      co_await session(stream, buffer, loopback);
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
    stream.expires_after(std::chrono::seconds(10));
    const bool is_tls = co_await beast::async_detect_ssl(stream, buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    if (!is_tls) {
      co_await asio::async_write(stream, asio::buffer(kPlainHttpRefusal), asio::redirect_error(asio::use_awaitable, ec));
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> secure(std::move(stream), *tls);
    const size_t used = co_await secure.async_handshake(ssl::stream_base::server, buffer.data(),
                                                        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    buffer.consume(used);
    co_await session(secure, buffer, loopback);
    beast::get_lowest_layer(secure).expires_after(std::chrono::seconds(2));
    co_await secure.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
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

AdminServer::AdminServer(asio::io_context& io, std::string listen, Handler handler, AdminTls tls)
    : impl_(std::make_shared<Impl>(io, std::move(listen), std::move(handler), std::move(tls))) {}

AdminServer::~AdminServer() { close(); }

Result<std::string> AdminServer::start() {
  if (impl_->tls_files.enabled()) {
    // Checked at open (check_admin_tls); a file that stopped loading since is an I/O failure.
    Result<std::unique_ptr<ssl::context>> loaded = tls_context(impl_->tls_files);
    if (!loaded.ok()) return Status::io_error(loaded.status().message());
    impl_->tls = std::move(loaded).value();
  }
  Result<std::string> bound = bind_acceptor(impl_->io, impl_->acceptor, impl_->listen, "admin");
  if (!bound.ok()) return bound;
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return bound;
}

void AdminServer::close() {
  impl_->closed = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace ringkeeper
