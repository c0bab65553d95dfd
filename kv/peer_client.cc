#include "kv/peer_client.h"

#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "kv/http_util.h"

namespace ringkeeper::kv {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

struct PeerClient::Connection {
  explicit Connection(asio::io_context& io) : stream(io.get_executor()) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

PeerClient::PeerClient(asio::io_context& io, Signer sign, size_t max_idle_per_peer)
    : io_(io), sign_(std::move(sign)), max_idle_per_peer_(max_idle_per_peer) {}
PeerClient::~PeerClient() = default;

std::unique_ptr<PeerClient::Connection> PeerClient::take(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = idle_.find(address);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  auto c = std::move(it->second.back());
  it->second.pop_back();
  return c;
}

void PeerClient::give_back(const std::string& address, std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  auto& pool = idle_[address];
  if (pool.size() < max_idle_per_peer_) pool.push_back(std::move(c));
}

asio::awaitable<std::unique_ptr<PeerClient::Connection>> PeerClient::connect(const std::string& address,
                                                                             std::chrono::milliseconds timeout) {
  auto hp = split_host_port(address);
  if (!hp) co_return nullptr;
  boost::system::error_code ec;
  std::vector<tcp::endpoint> endpoints;
  if (auto ip = asio::ip::make_address(hp->first, ec); !ec) {
    endpoints.emplace_back(ip, hp->second);
  } else {
    tcp::resolver resolver(io_);
    auto results = co_await resolver.async_resolve(hp->first, std::to_string(hp->second),
                                                   asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return nullptr;
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  auto c = std::make_unique<Connection>(io_);
  c->stream.expires_after(timeout);
  co_await c->stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return nullptr;
  c->stream.socket().set_option(tcp::no_delay(true), ec);
  co_return c;
}

asio::awaitable<Result<HttpResponse>> PeerClient::send(std::string address, HttpRequest req,
                                                       std::chrono::milliseconds timeout) {
  req.set(http::field::host, address);
  req.keep_alive(true);
  req.prepare_payload();
  if (sign_) sign_(req);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Connection> c = take(address);
    const bool pooled = c != nullptr;
    if (!c) c = co_await connect(address, timeout);
    if (!c) co_return Status::not_running("cannot connect to " + address);
    boost::system::error_code ec;
    c->stream.expires_after(timeout);
    co_await http::async_write(c->stream, req, asio::redirect_error(asio::use_awaitable, ec));
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    if (!ec) co_await http::async_read(c->stream, c->buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      // A pooled connection the peer closed while idle fails at once: try a fresh one.
      if (pooled && ec != beast::error::timeout) continue;
      co_return Status::not_running(address + ": " + ec.message());
    }
    HttpResponse res = parser.release();
    if (res.keep_alive()) {
      c->stream.expires_never();
      give_back(address, std::move(c));
    }
    co_return res;
  }
  co_return Status::not_running(address + ": connection closed");
}

Result<HttpResponse> PeerClient::send_blocking(const std::string& address, HttpRequest req,
                                               std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::promise<Result<HttpResponse>>>();
  auto future = done->get_future();
  asio::co_spawn(
      io_,
      [this, done, address, req = std::move(req), timeout]() mutable -> asio::awaitable<void> {
        done->set_value(co_await send(address, std::move(req), timeout));
      },
      [done](std::exception_ptr e) {
        if (e) done->set_value(Status::internal("peer request failed with an exception"));
      });
  // The io_context may be stopping: never wait past the request's own deadline by much.
  if (future.wait_for(2 * timeout + std::chrono::seconds(1)) != std::future_status::ready) {
    return Status::not_running(address + ": no answer (kvd stopping?)");
  }
  return future.get();
}

}  // namespace ringkeeper::kv
