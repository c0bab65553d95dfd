// kvd's own flags — --kv and the --kv-* tuning flags — beside the node flags of tools/settings.h:
// CLI11 options (settable in the --config file too) and their checks: each value in a documented
// range, an error naming the setting as the user gave it (the flag, or the file). Main thread,
// while kvd starts.
//   CLI::App app;  NodeFlags node;  KvdFlags kvd;
//   add_node_flags(app, node);  add_kvd_flags(app, kvd);
//   app.parse(argc, argv);                                   // then resolve_node_flags
//   kv::KvConfig config;  std::string error;
//   if (!resolve_kvd_flags(node, kvd, config, &error)) { /* exit 2 with `error` */ }
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "kv/kv_server.h"
#include "tools/settings.h"

namespace ringkeeper::tools {

// As given (decimal text), checked by resolve_kvd_flags; the defaults are KvConfig's.
struct KvdFlags {
  std::string kv = kv::KvConfig{}.kv_listen;
  std::string anti_entropy_ms = std::to_string(kv::KvConfig{}.anti_entropy_interval_ms);
  std::string anti_entropy_rate = std::to_string(kv::KvConfig{}.anti_entropy_bytes_per_s);
  std::string collect_outside_ms = std::to_string(kv::KvConfig{}.outside_collect_interval_ms);
  std::string max_hints = std::to_string(kv::KvConfig{}.max_hints);
  std::string ack_delay_ms = std::to_string(kv::KvConfig{}.ack_delay_ms);
};

// Adds --kv and the --kv-* flags to `app`, bound to `flags` (which must outlive the parse).
void add_kvd_flags(CLI::App& app, KvdFlags& flags);
// After app.parse (and resolve_node_flags, which knows what the --config file set): checks each
// value against its range and fills `config`'s kv fields. false with a one-line `error` naming
// the setting (and the file when the value came from it).
bool resolve_kvd_flags(const NodeFlags& node_flags, const KvdFlags& flags, kv::KvConfig& config, std::string* error);

}  // namespace ringkeeper::tools
