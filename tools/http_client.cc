#include "tools/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "node/address.h"

namespace ringkeeper::tools {

namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

int connect_to(const gossip::HostPort& hp, Clock::time_point deadline, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(hp.host.c_str(), std::to_string(hp.port).c_str(), &hints, &res); rc != 0) {
    *error = "cannot resolve " + hp.host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  *error = "connection refused";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, remaining_ms(deadline));
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) break;
      *error = rc == 0 ? "connect timed out" : std::strerror(err ? err : errno);
    } else if (rc == 0) {
      break;
    } else {
      *error = std::strerror(errno);
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

}  // namespace

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<HttpResponse> http_request(const std::string& host_port, const std::string& method,
                                         const std::string& target, const std::string& body, std::string* error,
                                         int timeout_ms, const std::string& authorization) {
  auto hp = gossip::parse_host_port(host_port);
  if (!hp) {
    *error = "not HOST:PORT: " + host_port;
    return std::nullopt;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const int fd = connect_to(*hp, deadline, error);
  if (fd < 0) return std::nullopt;
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host_port +
                    "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n";
  if (!authorization.empty()) req += "Authorization: " + authorization + "\r\n";
  req += "\r\n" + body;
  size_t sent = 0;
  while (sent < req.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, remaining_ms(deadline)) != 1) {
      *error = "timed out sending the request";
      close(fd);
      return std::nullopt;
    }
    ssize_t n = send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      *error = std::string("send: ") + std::strerror(errno);
      close(fd);
      return std::nullopt;
    }
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[16384];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, remaining_ms(deadline)) != 1) {
      *error = "timed out waiting for the answer";
      close(fd);
      return std::nullopt;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t head_end = in.find("\r\n\r\n");
  if (!in.starts_with("HTTP/1.") || head_end == std::string::npos || in.size() < 12) {
    *error = "not an HTTP answer";
    return std::nullopt;
  }
  HttpResponse r;
  r.status = std::atoi(in.c_str() + 9);
  r.body = in.substr(head_end + 4);
  return r;
}

}  // namespace ringkeeper::tools
