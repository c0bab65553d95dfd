#include "tools/http_client.h"

#include <cctype>
#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "node/address.h"

namespace ringkeeper::tools {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kConnectTimeout{5};
// Far above any admin answer (a 10,000-node gossipinfo is a few MiB); it only stops a runaway.
constexpr uint64_t kBodyLimit = 256ull << 20;

// Starts one asynchronous operation with `start(handler)` and runs `ioc` until it completes; the
// stream's expiry bounds it (Beast's deadlines apply to asynchronous operations only).
template <class Start>
beast::error_code run_one(asio::io_context& ioc, Start&& start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

// The endpoints of `hp`: an address literal as it is, a name through the system resolver.
bool endpoints_of(asio::io_context& ioc, const HostPort& hp, std::vector<tcp::endpoint>* out,
                  std::string* error) {
  beast::error_code ec;
  const asio::ip::address literal = asio::ip::make_address(hp.host, ec);
  if (!ec) {
    out->emplace_back(literal, hp.port);
    return true;
  }
  tcp::resolver resolver(ioc);
  for (const auto& entry : resolver.resolve(hp.host, std::to_string(hp.port), ec)) out->push_back(entry.endpoint());
  if (ec || out->empty()) {
    *error = "cannot resolve " + hp.host + (ec ? ": " + ec.message() : "");
    return false;
  }
  return true;
}

std::string describe(const beast::error_code& ec, const char* timed_out, const char* what) {
  if (ec == beast::error::timeout) return timed_out;
  return std::string(what) + ": " + ec.message();
}

}  // namespace

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

namespace {

http::request<http::string_body> make_request(const HostPort& hp, const std::string& method,
                                              const std::string& target, const std::string& body,
                                              const std::string& authorization) {
  http::request<http::string_body> req;
  req.version(11);
  if (const http::verb verb = http::string_to_verb(method); verb != http::verb::unknown) {
    req.method(verb);
  } else {
    req.method_string(method);
  }
  req.target(target);
  req.set(http::field::host, hp.to_string());
  req.set(http::field::user_agent, "ringkeeper");
  req.keep_alive(false);
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  if (!body.empty() || (req.method() != http::verb::get && req.method() != http::verb::head)) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  return req;
}

// Writes the request and reads the answer on a connected (and, for TLS, handshaken) stream.
template <class Stream>
std::optional<HttpResponse> exchange(asio::io_context& ioc, Stream& stream, http::request<http::string_body>& req,
                                     Clock::time_point deadline, std::string* error) {
  beast::get_lowest_layer(stream).expires_at(deadline);
  beast::error_code ec = run_one(ioc, [&](auto handler) { http::async_write(stream, req, std::move(handler)); });
  if (ec) {
    *error = describe(ec, "timed out sending the request", "send");
    return std::nullopt;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  ec = run_one(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
  if (ec) {
    *error = describe(ec, "timed out waiting for the answer", "not an HTTP answer");
    return std::nullopt;
  }
  HttpResponse r;
  r.status = static_cast<int>(parser.get().result_int());
  r.body = std::move(parser.get().body());
  return r;
}

// The client side of TLS: the CA file, peer verification and the host name (or IP) check.
std::optional<asio::ssl::context> client_tls(const std::string& cacert, std::string* error) {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  beast::error_code ec;
  ctx.load_verify_file(cacert, ec);
  if (ec) {
    *error = "--cacert: cannot load " + cacert + ": " + ec.message();
    return std::nullopt;
  }
  ctx.set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

}  // namespace

std::optional<HttpResponse> http_request(const std::string& host_port, const std::string& method,
                                         const std::string& target, const std::string& body, std::string* error,
                                         int timeout_ms, const std::string& authorization, const std::string& cacert) {
  auto hp = parse_host_port(host_port);
  if (!hp) {
    *error = "not HOST:PORT: " + host_port;
    return std::nullopt;
  }
  std::optional<asio::ssl::context> tls;
  if (!cacert.empty() && !(tls = client_tls(cacert, error))) return std::nullopt;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(timeout_ms);
  asio::io_context ioc;
  std::vector<tcp::endpoint> endpoints;
  if (!endpoints_of(ioc, *hp, &endpoints, error)) return std::nullopt;

  beast::tcp_stream stream(ioc);
  stream.expires_at(std::min(deadline, start + kConnectTimeout));
  beast::error_code ec =
      run_one(ioc, [&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
  if (ec) {
    *error = ec == beast::error::timeout ? "connect timed out" : ec.message();
    return std::nullopt;
  }
  auto req = make_request(*hp, method, target, body, authorization);
  if (!tls) {
    auto r = exchange(ioc, stream, req, deadline, error);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return r;
  }
  beast::ssl_stream<beast::tcp_stream> secure(std::move(stream), *tls);
  beast::error_code literal;
  (void)asio::ip::make_address(hp->host, literal);
  if (literal) SSL_set_tlsext_host_name(secure.native_handle(), hp->host.c_str());  // SNI: names only
  secure.set_verify_callback(asio::ssl::host_name_verification(hp->host));
  beast::get_lowest_layer(secure).expires_at(deadline);
  ec = run_one(ioc, [&](auto handler) { secure.async_handshake(asio::ssl::stream_base::client, std::move(handler)); });
  if (ec) {
    *error = describe(ec, "timed out in the TLS handshake", "TLS handshake failed (is the admin port HTTPS, and its "
                                                           "certificate signed by --cacert for this host?)");
    return std::nullopt;
  }
  auto r = exchange(ioc, secure, req, deadline, error);
  beast::get_lowest_layer(secure).expires_after(std::chrono::seconds(1));
  (void)run_one(ioc, [&](auto handler) { secure.async_shutdown(std::move(handler)); });
  return r;
}

}  // namespace ringkeeper::tools
