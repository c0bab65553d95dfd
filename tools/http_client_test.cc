#include "tools/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

namespace ringkeeper::tools {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A one-connection HTTP server on loopback port 0, written on plain sockets so that it shares
// nothing with the client under test. Its thread accepts one connection, reads the request
// (headers and a Content-Length body), then sends the scripted pieces in turn, pausing before
// each, and closes — after holding the connection open for `hold` if asked. Every wait ends
// early when the client hangs up, so a test never waits out a pause it no longer needs.
class ScriptedServer {
 public:
  struct Piece {
    std::chrono::milliseconds pause;
    std::string bytes;
  };

  // `ipv6`: listen on [::1] instead of 127.0.0.1; ok() is false if that is not possible here.
  explicit ScriptedServer(std::vector<Piece> pieces, std::chrono::milliseconds hold = 0ms, bool ipv6 = false)
      : pieces_(std::move(pieces)), hold_(hold) {
    listen_fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage addr{};
    socklen_t len;
    if (ipv6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a;
    }
    if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listen_fd_, 4) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    const uint16_t port = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                     : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    address_ = (ipv6 ? "[::1]:" : "127.0.0.1:") + std::to_string(port);
    thread_ = std::thread([this] { serve(); });
  }

  ~ScriptedServer() {
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) close(listen_fd_);
  }

  bool ok() const { return !address_.empty(); }
  const std::string& address() const { return address_; }
  uint16_t port() const { return static_cast<uint16_t>(std::stoi(address_.substr(address_.rfind(':') + 1))); }
  // What the client sent; call after the client returned.
  std::string request() {
    if (thread_.joinable()) thread_.join();
    return request_;
  }

 private:
  // Waits up to `d` for the client to send or hang up; false once it hung up.
  static bool client_still_there(int fd, std::chrono::milliseconds d) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(d.count())) != 1) return true;
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  void serve() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) return;
    const int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    read_request(fd);
    bool there = true;
    for (const Piece& piece : pieces_) {
      if (!(there = client_still_there(fd, piece.pause))) break;
      if (send(fd, piece.bytes.data(), piece.bytes.size(), MSG_NOSIGNAL) < 0) break;
    }
    if (there && hold_ > 0ms) client_still_there(fd, hold_);
    close(fd);
  }

  void read_request(int fd) {
    char buf[4096];
    size_t want = std::string::npos;
    while (request_.size() < want) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 5000) != 1) return;
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      request_.append(buf, static_cast<size_t>(n));
      const size_t end = request_.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      const size_t cl = request_.find("Content-Length: ");
      want = end + 4 + (cl != std::string::npos && cl < end ? std::stoul(request_.substr(cl + 16)) : 0);
    }
  }

  std::vector<Piece> pieces_;
  std::chrono::milliseconds hold_;
  int listen_fd_ = -1;
  std::string address_;
  std::thread thread_;
  std::string request_;
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

TEST(HttpClientTest, ContentLengthEndsTheBodyWithoutWaitingForTheClose) {
  ScriptedServer server({{0ms, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
                               "{\"a\": true}"}},
                        10s);  // the connection stays open after the answer
  ASSERT_TRUE(server.ok());
  std::string error;
  const auto t0 = Clock::now();
  auto r = http_request(server.address(), "POST", "/v1/move", "{\"tokens\": [\"1\"]}", &error, 5000, "Bearer t0k");
  ASSERT_TRUE(r) << error;
  EXPECT_LT(seconds_since(t0), 3.0) << "answered by Content-Length, not by the connection closing";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{\"a\": true}");

  const std::string req = server.request();
  EXPECT_TRUE(req.starts_with("POST /v1/move HTTP/1.1\r\n")) << req;
  EXPECT_NE(req.find("\r\nHost: " + server.address() + "\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("\r\nContent-Length: 17\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("\r\nAuthorization: Bearer t0k\r\n"), std::string::npos) << req;
  EXPECT_TRUE(req.ends_with("\r\n\r\n{\"tokens\": [\"1\"]}")) << req;
}

TEST(HttpClientTest, GetCarriesNoBodyHeaders) {
  ScriptedServer server({{0ms, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"}});
  ASSERT_TRUE(server.ok());
  std::string error;
  auto r = http_request(server.address(), "GET", "/v1/owners?key=" + url_encode("a b/c"), "", &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->status, 404) << "any status is an answer";
  EXPECT_EQ(r->body, "{}");
  const std::string req = server.request();
  EXPECT_TRUE(req.starts_with("GET /v1/owners?key=a%20b%2Fc HTTP/1.1\r\n")) << req;
  EXPECT_EQ(req.find("Content-Type"), std::string::npos) << req;
  EXPECT_EQ(req.find("Authorization"), std::string::npos) << req;
}

TEST(HttpClientTest, ChunkedBody) {
  ScriptedServer server({{0ms, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"}},
                        10s);
  ASSERT_TRUE(server.ok());
  std::string error;
  const auto t0 = Clock::now();
  auto r = http_request(server.address(), "GET", "/", "", &error);
  ASSERT_TRUE(r) << error;
  EXPECT_LT(seconds_since(t0), 3.0) << "the last chunk ends the body";
  EXPECT_EQ(r->body, "hello world");
}

TEST(HttpClientTest, AnswerSplitAcrossManyWrites) {
  ScriptedServer server({{0ms, "HTTP/1.1 2"},
                         {30ms, "00 OK\r\nContent-Le"},
                         {30ms, "ngth: 11\r\n"},
                         {30ms, "\r\nhel"},
                         {30ms, "lo wor"},
                         {30ms, "ld"}},
                        10s);
  ASSERT_TRUE(server.ok());
  std::string error;
  auto r = http_request(server.address(), "GET", "/", "", &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
}

TEST(HttpClientTest, BodyWithoutLengthRunsToTheClose) {
  ScriptedServer server({{0ms, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of "}, {30ms, "this"}});
  ASSERT_TRUE(server.ok());
  std::string error;
  auto r = http_request(server.address(), "GET", "/", "", &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->body, "all of this");
}

TEST(HttpClientTest, ASlowAnswerHitsTheDeadline) {
  for (const std::vector<ScriptedServer::Piece>& script : {
           std::vector<ScriptedServer::Piece>{},  // never answers
           std::vector<ScriptedServer::Piece>{{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe"}, {20s, "llo"}},
       }) {
    ScriptedServer server(script, 20s);
    ASSERT_TRUE(server.ok());
    std::string error;
    const auto t0 = Clock::now();
    auto r = http_request(server.address(), "GET", "/", "", &error, 300);
    EXPECT_FALSE(r) << r->body;
    EXPECT_EQ(error, "timed out waiting for the answer");
    EXPECT_LT(seconds_since(t0), 3.0) << "the deadline is kept, the server's pause is not waited out";
  }
}

TEST(HttpClientTest, RefusedConnection) {
  // A port bound but not listening: nobody else takes it while the test runs, and connects to
  // it are refused.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::string error;
  auto r = http_request("127.0.0.1:" + std::to_string(ntohs(a.sin_port)), "GET", "/", "", &error, 2000);
  close(fd);
  EXPECT_FALSE(r);
  EXPECT_EQ(error, std::strerror(ECONNREFUSED));
}

TEST(HttpClientTest, NotHttpIsAnError) {
  ScriptedServer server({{0ms, "SSH-2.0-OpenSSH\r\n\r\n"}});
  ASSERT_TRUE(server.ok());
  std::string error;
  EXPECT_FALSE(http_request(server.address(), "GET", "/", "", &error));
  EXPECT_TRUE(error.starts_with("not an HTTP answer")) << error;

  EXPECT_FALSE(http_request("no-port-here", "GET", "/", "", &error));
  EXPECT_EQ(error, "not HOST:PORT: no-port-here");
}

TEST(HttpClientTest, IPv6LiteralAndHostNames) {
  ScriptedServer v6({{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6"}}, 0ms, /*ipv6=*/true);
  if (v6.ok()) {
    std::string error;
    auto r = http_request(v6.address(), "GET", "/", "", &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->body, "v6");
    EXPECT_NE(v6.request().find("\r\nHost: " + v6.address() + "\r\n"), std::string::npos) << v6.request();
  } else {
    std::printf("no IPv6 loopback here: the [::1] case is not run\n");
  }
  // `localhost` may resolve to ::1 first; the client then tries 127.0.0.1.
  ScriptedServer v4({{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv4"}});
  ASSERT_TRUE(v4.ok());
  std::string error;
  const std::string by_name = "localhost:" + std::to_string(v4.port());
  auto r = http_request(by_name, "GET", "/", "", &error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->body, "v4");
  EXPECT_NE(v4.request().find("\r\nHost: " + by_name + "\r\n"), std::string::npos) << v4.request();
}

}  // namespace
}  // namespace ringkeeper::tools
