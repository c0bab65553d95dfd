#include "tests/kv/kv_client.h"

#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace ringkeeper::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct KvClient::Impl {
  asio::io_context io;
  std::unique_ptr<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::string host;
  std::string port;
  std::string source_ip;
  int timeout_ms;

  bool connect(std::string* error) {
    stream = std::make_unique<beast::tcp_stream>(io);
    buffer.clear();
    boost::system::error_code ec;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(host, port, ec);
    if (ec) {
      *error = ec.message();
      return false;
    }
    if (!source_ip.empty()) {
      stream->socket().open(tcp::v4());
      stream->socket().bind(tcp::endpoint(asio::ip::make_address(source_ip), 0), ec);
      if (ec) {
        *error = "bind " + source_ip + ": " + ec.message();
        return false;
      }
      stream->expires_after(std::chrono::milliseconds(timeout_ms));
      stream->socket().connect(*results.begin(), ec);
    } else {
      stream->expires_after(std::chrono::milliseconds(timeout_ms));
      stream->connect(results, ec);
    }
    if (ec) *error = "connect: " + ec.message();
    return !ec;
  }
};

std::string encode_key(const std::string& key) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

KvClient::KvClient(std::string address, std::string source_ip, int timeout_ms)
    : address_(std::move(address)), impl_(std::make_unique<Impl>()) {
  const size_t colon = address_.rfind(':');
  impl_->host = address_.substr(0, colon);
  impl_->port = address_.substr(colon + 1);
  impl_->source_ip = std::move(source_ip);
  impl_->timeout_ms = timeout_ms;
}

KvClient::~KvClient() = default;

KvReply KvClient::request(const std::string& method, const std::string& target, const std::string& body,
                          const std::string& extra_header_name, const std::string& extra_header_value) {
  Headers headers;
  if (!extra_header_name.empty()) headers.emplace_back(extra_header_name, extra_header_value);
  return request(method, target, body, headers);
}

KvReply KvClient::request(const std::string& method, const std::string& target, const std::string& body,
                          const Headers& headers) {
  KvReply reply;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool fresh = !impl_->stream;
    if (fresh && !impl_->connect(&reply.error)) return reply;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, address_);
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();
    boost::system::error_code ec;
    impl_->stream->expires_after(std::chrono::milliseconds(impl_->timeout_ms));
    http::write(*impl_->stream, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    if (!ec) http::read(*impl_->stream, impl_->buffer, parser, ec);
    if (ec) {
      impl_->stream.reset();
      reply.error = ec.message();
      if (!fresh) continue;  // the server closed an idle connection: once more on a new one
      return reply;
    }
    auto res = parser.release();
    reply.status = res.result_int();
    reply.body = res.body();
    reply.timestamp = std::string(res["X-Ringkeeper-Timestamp"]);
    if (!res.keep_alive()) impl_->stream.reset();
    return reply;
  }
  return reply;
}

std::string KvClient::raw(const std::string& bytes) {
  std::string error;
  impl_->stream.reset();
  if (!impl_->connect(&error)) return "";
  boost::system::error_code ec;
  asio::write(impl_->stream->socket(), asio::buffer(bytes), ec);
  std::string out;
  char buf[4096];
  impl_->stream->expires_after(std::chrono::seconds(2));
  for (;;) {
    size_t n = impl_->stream->read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  impl_->stream.reset();
  return out;
}

}  // namespace ringkeeper::testing
