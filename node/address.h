// Addresses as users write them: "host:port", "[v6]:port". Pure parsing; any thread.
//   auto hp = parse_host_port("[::1]:7000");   // hp->host == "::1", hp->port == 7000
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringkeeper {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
  // "host:port", with brackets around an IPv6 literal.
  std::string to_string() const;
};

// nullopt for anything but host:port with a port in 0..65535 and a non-empty host.
std::optional<HostPort> parse_host_port(std::string_view text);

}  // namespace ringkeeper
