// A blocking HTTP/1.1 client for the admin API (ringctl, the multi-process tests, benchmarks),
// on Boost.Beast, over TLS when given a CA file (HTTPS, the server's certificate verified against
// it and the host). One request per connection; any thread; no RocksDB or protocol code, so
// ringctl starts fast.
//   std::string error;
//   auto r = http_request("[::1]:7180", "GET", "/v1/status", "", &error);
//   if (!r) { /* unreachable, timed out or not HTTP: `error` says which */ }
#pragma once

#include <optional>
#include <string>

namespace ringkeeper::tools {

struct HttpResponse {
  int status = 0;
  std::string body;  // whole: by Content-Length, chunked, or up to the end of the connection
};

// Sends METHOD TARGET to HOST:PORT (an IPv4 address, `[IPv6]` or a name) — over HTTPS when
// `cacert` names a PEM file of trusted CA certificates (the server's certificate must chain to one
// and name the host: a DNS name, or the IP address) — with a Host header
// naming it, `Authorization: <authorization>` if not empty, and `body` with
// `Content-Type: application/json` (also when empty, for any method but GET and HEAD). Connecting must succeed within min(timeout_ms, 5 s)
// and the whole exchange within timeout_ms; a name is resolved first, by the system resolver.
// nullopt (with `error` set) when the node could not be reached, did not answer in time, or
// answered something that is not HTTP.
std::optional<HttpResponse> http_request(const std::string& host_port, const std::string& method,
                                         const std::string& target, const std::string& body,
                                         std::string* error, int timeout_ms = 5000,
                                         const std::string& authorization = "", const std::string& cacert = "");

// Percent-encodes a query value.
std::string url_encode(const std::string& s);

}  // namespace ringkeeper::tools
