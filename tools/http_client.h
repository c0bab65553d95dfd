// A minimal blocking HTTP/1.1 client for the admin API (ringctl and the multi-process tests).
// One request per connection; connect and response deadlines; any thread.
#pragma once

#include <optional>
#include <string>

namespace ringkeeper::tools {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// nullopt (with `error` set) when the node could not be reached or did not answer in time.
std::optional<HttpResponse> http_request(const std::string& host_port, const std::string& method,
                                         const std::string& target, const std::string& body,
                                         std::string* error, int timeout_ms = 5000,
                                         const std::string& authorization = "");

// Percent-encodes a query value.
std::string url_encode(const std::string& s);

}  // namespace ringkeeper::tools
