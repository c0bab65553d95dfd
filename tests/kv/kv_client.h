// KvClient: a blocking HTTP/1.1 client for kvd's data API that keeps one connection open
// (keep-alive), so thousands of requests in a test cost one connect. Reconnects once when the
// server closed the connection. One thread per client; make one per thread.
//   KvClient c("127.0.0.1:7280");
//   auto r = c.request("PUT", "/kv/user%3A42?w=2", "value");   // r.status 204, r.timestamp
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ringkeeper::testing {

struct KvReply {
  int status = 0;          // 0: no answer (unreachable, timed out, not HTTP)
  std::string body;
  std::string timestamp;   // X-Ringkeeper-Timestamp, if any
  std::string error;       // why status is 0
};

class KvClient {
 public:
  // `source_ip`: bind the client side to this local address (tests of member-only routes).
  explicit KvClient(std::string address, std::string source_ip = "", int timeout_ms = 10000);
  ~KvClient();
  KvReply request(const std::string& method, const std::string& target, const std::string& body = "",
                  const std::string& extra_header_name = "", const std::string& extra_header_value = "");
  // The same with any number of extra headers (a replica request as a member sends it).
  using Headers = std::vector<std::pair<std::string, std::string>>;
  KvReply request(const std::string& method, const std::string& target, const std::string& body,
                  const Headers& headers);
  // Sends raw bytes and returns the raw answer (up to the server closing or 2 s of silence).
  std::string raw(const std::string& bytes);
  const std::string& address() const { return address_; }

 private:
  struct Impl;
  std::string address_;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a key for a URL path.
std::string encode_key(const std::string& key);

}  // namespace ringkeeper::testing
