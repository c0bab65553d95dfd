#include "tools/kvd_flags.h"

#include <charconv>
#include <cstdint>
#include <functional>
#include <optional>

#include "node/address.h"

namespace ringkeeper::tools {

namespace {

// One numeric flag: its name without dashes, the text given, its range, what the range means,
// and where its value goes.
struct Bounded {
  const char* name;
  const std::string& text;
  uint64_t min, max;
  const char* meaning;
  std::function<void(uint64_t)> set;
};

// The decimal value of `text` in [min, max]; nullopt for a sign, junk, overflow or out of range.
std::optional<uint64_t> in_range(const std::string& text, uint64_t min, uint64_t max) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) return std::nullopt;
  return value;
}

}  // namespace

void add_kvd_flags(CLI::App& app, KvdFlags& f) {
  app.add_option("--kv", f.kv, "the data API's HOST:PORT (port 0: any; see DIR/addresses.json)")
      ->capture_default_str();
  app.add_option("--kv-anti-entropy-ms", f.anti_entropy_ms,
                 "milliseconds between the starts of two anti-entropy cycles, 0..604800000 (0: off)")
      ->capture_default_str();
  app.add_option("--kv-anti-entropy-rate", f.anti_entropy_rate,
                 "anti-entropy repair traffic, bytes per second, 1024..1099511627776")
      ->capture_default_str();
  app.add_option("--kv-collect-outside-ms", f.collect_outside_ms,
                 "milliseconds between two passes that hand records outside this node's ranges to their "
                 "replicas and delete them here, 0..604800000 (0: off)")
      ->capture_default_str();
  app.add_option("--kv-max-hints", f.max_hints, "hints kept at most, 0..100000000 (0: none)")->capture_default_str();
  app.add_option("--kv-ack-delay-ms", f.ack_delay_ms,
                 "TESTS ONLY: hold each change's data acknowledgement this long, 0..600000 (keeps it in write_both)")
      ->capture_default_str();
}

bool resolve_kvd_flags(const NodeFlags& node_flags, const KvdFlags& f, kv::KvConfig& c, std::string* error) {
  if (!parse_host_port(f.kv)) {
    *error = setting_name(node_flags, "kv") + ": expected HOST:PORT ([v6]:PORT for IPv6), got '" + f.kv + "'";
    return false;
  }
  c.kv_listen = f.kv;
  constexpr uint64_t kWeekMs = 7ull * 24 * 3600 * 1000;
  const Bounded flags[] = {
      {"kv-anti-entropy-ms", f.anti_entropy_ms, 0, kWeekMs, "milliseconds, 0 turns it off",
       [&](uint64_t v) { c.anti_entropy_interval_ms = static_cast<int64_t>(v); }},
      {"kv-anti-entropy-rate", f.anti_entropy_rate, 1024, 1ull << 40, "bytes per second",
       [&](uint64_t v) { c.anti_entropy_bytes_per_s = v; }},
      {"kv-collect-outside-ms", f.collect_outside_ms, 0, kWeekMs, "milliseconds, 0 turns it off",
       [&](uint64_t v) { c.outside_collect_interval_ms = static_cast<int64_t>(v); }},
      {"kv-max-hints", f.max_hints, 0, 100'000'000, "hints, 0 keeps none", [&](uint64_t v) { c.max_hints = v; }},
      {"kv-ack-delay-ms", f.ack_delay_ms, 0, 600'000, "milliseconds",
       [&](uint64_t v) { c.ack_delay_ms = static_cast<int64_t>(v); }},
  };
  for (const Bounded& b : flags) {
    std::optional<uint64_t> v = in_range(b.text, b.min, b.max);
    if (!v) {
      *error = setting_name(node_flags, b.name) + ": expected " + std::to_string(b.min) + ".." + std::to_string(b.max) +
               " (" + b.meaning + "), got '" + b.text + "'";
      return false;
    }
    b.set(*v);
  }
  return true;
}

}  // namespace ringkeeper::tools
