// Small pure helpers for kvd's HTTP: percent-encoding of keys in URL paths, query strings,
// decimal parsing, splitting "host:port". Any thread.
//   percent_decode("a%2Fb") == "a/b";  parse_query("w=2&r=1") == {{"w","2"},{"r","1"}}
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ringkeeper::kv {

// Every byte but unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX.
std::string percent_encode(std::string_view bytes);
// nullopt on a malformed escape (a '%' without two hex digits).
std::optional<std::string> percent_decode(std::string_view text);
// "a=1&b=2" → {a: 1, b: 2}, values percent-decoded; nullopt on a malformed escape or a repeated name.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);
// A decimal unsigned integer without sign or junk; nullopt otherwise (overflow included).
std::optional<uint64_t> parse_u64(std::string_view text);
// "host:port" or "[v6]:port" → (host without brackets, port); nullopt if malformed.
std::optional<std::pair<std::string, uint16_t>> split_host_port(std::string_view address);
// Lowercase hex of bytes and back (nullopt on odd length or a non-hex digit).
std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace ringkeeper::kv
