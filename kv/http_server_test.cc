// HttpServer on a real loopback socket: the read timeout closes connections whose request does
// not arrive whole in time (slowloris) and counts them, while an idle keep-alive connection and
// a request that arrives in pieces within the timeout are served.
#include "kv/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <gtest/gtest.h>

#include "tests/wait_until.h"

namespace ringkeeper::kv {
namespace {

using namespace std::chrono_literals;
using ringkeeper::testing::wait_until;

// A server answering 200 "ok" to everything, on its own io thread.
struct Server {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  KvMetrics metrics;
  HttpServer server;
  std::thread thread;
  uint16_t port = 0;

  explicit Server(HttpServer::Limits limits)
      : server(io, "127.0.0.1:0",
               [](HttpCall& call) -> boost::asio::awaitable<HttpResponse> {
                 HttpResponse res{http::status::ok, call.request.version()};
                 res.body() = "ok";
                 co_return res;
               },
               limits, [this](Rejection r) { metrics.reject(r); }) {
    Result<std::string> bound = server.start();
    EXPECT_TRUE(bound.ok());
    port = static_cast<uint16_t>(std::stoi(bound->substr(bound->rfind(':') + 1)));
    thread = std::thread([this] { io.run(); });
  }
  ~Server() {
    server.close();
    work.reset();
    io.stop();
    thread.join();
  }
};

// A raw client connection.
struct Conn {
  int fd = -1;
  explicit Conn(uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~Conn() { ::close(fd); }
  void send(const std::string& bytes) { EXPECT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size())); }
  // The server closed its side: the socket reads end of stream (or a reset), not just nothing yet.
  bool closed() {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    char c;
    const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
  // Everything the server sends until `want` appears (or 5 s pass).
  std::string read_until(const std::string& want) {
    std::string got;
    wait_until([&] {
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      return got.find(want) != std::string::npos || n == 0;
    }, 5s, 5ms);
    return got;
  }
};

TEST(HttpServerTest, SlowSendersAreClosedAfterTheReadTimeoutAndCounted) {
  HttpServer::Limits limits;
  limits.read_timeout = 300ms;
  limits.idle_timeout = 20s;
  Server s(limits);
  std::vector<std::unique_ptr<Conn>> slow;
  for (int i = 0; i < 20; ++i) {
    slow.push_back(std::make_unique<Conn>(s.port));
    slow.back()->send("GET /kv/x HTTP/1.1\r\nHost: a\r\n");  // a head that never ends
  }
  slow.push_back(std::make_unique<Conn>(s.port));
  slow.back()->send("PUT /kv/x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");  // a body that never ends
  Conn idle(s.port);  // connected, no request yet: a keep-alive client between requests
  ASSERT_TRUE(wait_until([&] {
    return std::all_of(slow.begin(), slow.end(), [](auto& c) { return c->closed(); });
  }, 10s)) << "slow senders still connected";
  EXPECT_TRUE(wait_until([&] { return s.metrics.rejections(Rejection::kReadTimeout) == slow.size(); }, 5s))
      << s.metrics.rejections(Rejection::kReadTimeout);
  EXPECT_NE(s.metrics.text().find("kv_rejected_total{reason=\"read_timeout\"} 21\n"), std::string::npos);

  // The idle connection is still served, and so is a request sent in pieces within the timeout.
  EXPECT_FALSE(idle.closed());
  idle.send("GET /kv/x HTTP/1.1\r\n");
  idle.send("Host: a\r\n\r\n");
  EXPECT_NE(idle.read_until("ok").find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_EQ(s.metrics.rejections(Rejection::kReadTimeout), slow.size());
}

}  // namespace
}  // namespace ringkeeper::kv
