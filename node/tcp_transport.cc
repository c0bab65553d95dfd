#include "node/tcp_transport.h"

#include <chrono>
#include <utility>
#include <deque>
#include <unordered_map>

#include <boost/asio.hpp>

#include "node/acceptor.h"
#include "node/address.h"

namespace ringkeeper {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
std::string endpoint_text(const tcp::endpoint& ep) {
  HostPort hp{ep.address().to_string(), ep.port()};
  return hp.to_string();
}
}  // namespace

struct TcpTransport::Impl : std::enable_shared_from_this<Impl> {
  struct Peer {
    std::string address;
    std::deque<std::string> queue;
    tcp::socket socket;
    asio::steady_timer timer;
    bool running = false;
    uint64_t epoch = 0;  // bumped whenever the socket is closed
    int64_t backoff_ms = 0;
    bool last_refused = false;  // the last connect was refused (nothing listens there)
    Clock::time_point retry_at{};
    size_t in_flight = 0;
    Peer(asio::io_context& io, std::string a) : address(std::move(a)), socket(io), timer(io) {}
  };

  asio::io_context& io;
  TransportConfig config;
  FrameHandler on_frame;
  std::function<void(const std::string&)> refused;
  TransportStats stats;
  tcp::acceptor acceptor;
  std::unordered_map<std::string, std::shared_ptr<Peer>> peers;
  std::unordered_map<uint64_t, std::weak_ptr<tcp::socket>> inbound;
  uint64_t next_inbound = 0;
  bool closed = false;

  Impl(asio::io_context& io_, TransportConfig c, FrameHandler h)
      : io(io_), config(std::move(c)), on_frame(std::move(h)), acceptor(io_) {}

  static void close_peer(Peer& p) {
    boost::system::error_code ec;
    p.socket.close(ec);
    ++p.epoch;
  }

  void fail(Peer& p, bool connecting) {
    close_peer(p);
    (connecting ? stats.connect_failures : stats.write_failures)++;
    stats.dropped_backoff += p.queue.size();
    p.queue.clear();
    p.backoff_ms = std::clamp(p.backoff_ms * 2, config.backoff_min_ms, config.backoff_max_ms);
    p.retry_at = Clock::now() + milliseconds(p.backoff_ms);
  }

  // Closes the socket if the operation outlives its deadline.
  void arm(const std::shared_ptr<Peer>& p, int64_t ms) {
    p->timer.expires_after(milliseconds(ms));
    p->timer.async_wait([p, epoch = p->epoch](const boost::system::error_code& ec) {
      if (!ec && p->epoch == epoch) {
        boost::system::error_code ignored;
        p->socket.close(ignored);
      }
    });
  }

  asio::awaitable<void> drain_reads(std::shared_ptr<Peer> p, uint64_t epoch) {
    // Peers never write on our outbound connections; a read that ends means the peer closed
    // (or restarted), so the next send reconnects instead of writing into a dead socket.
    char buf[256];
    for (;;) {
      boost::system::error_code ec;
      auto n = co_await p->socket.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      (void)n;
      if (ec) break;
    }
    if (p->epoch == epoch) close_peer(*p);
  }

  asio::awaitable<void> run_peer(std::shared_ptr<Peer> p) {
    auto self = shared_from_this();
    while (!p->queue.empty() && !closed) {
      if (!p->socket.is_open()) {
        auto hp = parse_host_port(p->address);
        if (!hp) {
          stats.dropped_unresolvable += p->queue.size();
          p->queue.clear();
          break;
        }
        tcp::resolver resolver(io);
        boost::system::error_code rec;
        auto results = co_await resolver.async_resolve(hp->host, std::to_string(hp->port),
                                                       asio::redirect_error(asio::use_awaitable, rec));
        if (rec || closed) {
          if (!closed) fail(*p, true);
          break;
        }
        arm(p, config.connect_timeout_ms);
        boost::system::error_code cec;
        auto ep = co_await asio::async_connect(p->socket, results, asio::redirect_error(asio::use_awaitable, cec));
        (void)ep;
        p->timer.cancel();
        if (cec || !p->socket.is_open() || closed) {
          if (!closed) {
            fail(*p, true);
            p->last_refused = cec == asio::error::connection_refused;
            if (p->last_refused && refused) refused(p->address);
          }
          break;
        }
        ++stats.connects;
        p->backoff_ms = 0;
        p->last_refused = false;
        boost::system::error_code ignored;
        p->socket.set_option(tcp::no_delay(true), ignored);
        asio::co_spawn(io, drain_reads(p, p->epoch), asio::detached);
      }
      std::string frame = std::move(p->queue.front());
      p->queue.pop_front();
      p->in_flight = 1;
      arm(p, config.write_timeout_ms);
      boost::system::error_code wec;
      auto n = co_await asio::async_write(p->socket, asio::buffer(frame), asio::redirect_error(asio::use_awaitable, wec));
      p->timer.cancel();
      p->in_flight = 0;
      if (wec) {
        if (!closed) fail(*p, false);
        break;
      }
      stats.bytes_out += n;
      ++stats.frames_out;
    }
    p->running = false;
  }

  asio::awaitable<void> read_inbound(tcp::socket socket, uint64_t key) {
    auto self = shared_from_this();
    auto sock = std::make_shared<tcp::socket>(std::move(socket));
    inbound[key] = sock;
    boost::system::error_code ec;
    const std::string peer = endpoint_text(sock->remote_endpoint(ec));
    asio::steady_timer idle(io);
    auto arm_idle = [&] {
      idle.expires_after(milliseconds(config.idle_timeout_ms));
      idle.async_wait([sock](const boost::system::error_code& e) {
        if (!e) {
          boost::system::error_code ignored;
          sock->close(ignored);
        }
      });
    };
    std::string frame;
    for (;;) {
      arm_idle();
      char header[4];
      boost::system::error_code hec;
      auto hn = co_await asio::async_read(*sock, asio::buffer(header), asio::redirect_error(asio::use_awaitable, hec));
      (void)hn;
      if (hec) break;
      uint32_t len = 0;
      for (char c : header) len = (len << 8) | static_cast<uint8_t>(c);
      if (len > config.max_frame) {
        stats.bytes_in += 4;
        on_frame(std::string_view(header, 4), peer);  // the owner counts and logs it
        ++stats.closed_bad_frame;
        break;
      }
      // Grow the buffer with the bytes that actually arrive: a length prefix alone must not make
      // us allocate (thousands of connections each announcing 4 MiB would).
      frame.assign(header, 4);
      boost::system::error_code bec;
      while (!bec && frame.size() < 4 + size_t{len}) {
        const size_t have = frame.size();
        const size_t want = std::min<size_t>(64 << 10, 4 + size_t{len} - have);
        frame.resize(have + want);
        co_await asio::async_read(*sock, asio::buffer(frame.data() + have, want),
                                  asio::redirect_error(asio::use_awaitable, bec));
      }
      if (bec) break;
      stats.bytes_in += frame.size();
      ++stats.frames_in;
      if (!on_frame(frame, peer)) {
        ++stats.closed_bad_frame;
        break;
      }
    }
    idle.cancel();
    sock->close(ec);
    inbound.erase(key);
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (closed) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
        // Out of descriptors or similar: wait a moment rather than spin.
        asio::steady_timer t(io, milliseconds(50));
        boost::system::error_code tec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, tec));
        continue;
      }
      ++stats.accepted;
      if (inbound.size() >= config.max_inbound) {
        ++stats.refused_inbound;
        continue;  // the socket closes as it goes out of scope
      }
      asio::co_spawn(io, read_inbound(std::move(socket), next_inbound++), asio::detached);
    }
  }
};

TcpTransport::TcpTransport(asio::io_context& io, TransportConfig config, FrameHandler on_frame)
    : impl_(std::make_shared<Impl>(io, std::move(config), std::move(on_frame))) {}

TcpTransport::~TcpTransport() { close(); }

Result<std::string> TcpTransport::listen() {
  Result<std::string> bound = bind_acceptor(impl_->io, impl_->acceptor, impl_->config.listen, "gossip");
  if (!bound.ok()) return bound;
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  return bound;
}

void TcpTransport::send(const std::string& address, std::string frame) {
  Impl& m = *impl_;
  if (m.closed) return;
  auto it = m.peers.find(address);
  if (it == m.peers.end()) {
    if (m.peers.size() >= m.config.max_peers) {
      // Addresses come from the network: keep the table bounded by forgetting idle peers.
      std::erase_if(m.peers, [](const auto& kv) {
        const Impl::Peer& p = *kv.second;
        return !p.running && p.queue.empty() && !p.socket.is_open();
      });
    }
    it = m.peers.emplace(address, std::make_shared<Impl::Peer>(m.io, address)).first;
  }
  auto& p = it->second;
  // After a refused connect there is no backoff: a refusal costs the peer nothing (its kernel
  // answers at once), and each new attempt is fresh evidence — a process that came back on that
  // address is reached, one still gone is refused again. Other failures back off.
  if (!p->socket.is_open() && Clock::now() < p->retry_at && !p->last_refused) {
    ++m.stats.dropped_backoff;
    return;
  }
  if (p->queue.size() >= m.config.max_queue) {
    ++m.stats.dropped_queue_full;
    return;
  }
  p->queue.push_back(std::move(frame));
  if (!p->running) {
    p->running = true;
    asio::co_spawn(m.io, m.run_peer(p), asio::detached);
  }
}

void TcpTransport::on_refused(std::function<void(const std::string&)> f) { impl_->refused = std::move(f); }

size_t TcpTransport::pending() const {
  size_t n = 0;
  for (const auto& [_, p] : impl_->peers) n += p->queue.size() + p->in_flight;
  return n;
}

void TcpTransport::close() {
  Impl& m = *impl_;
  if (m.closed) return;
  m.closed = true;
  boost::system::error_code ec;
  m.acceptor.close(ec);
  for (auto& [_, p] : m.peers) {
    p->timer.cancel();
    Impl::close_peer(*p);
  }
  for (auto& [_, w] : m.inbound) {
    if (auto s = w.lock()) s->close(ec);
  }
}

const TransportStats& TcpTransport::stats() const { return impl_->stats; }

}  // namespace ringkeeper
