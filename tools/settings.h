// The node flags shared by ringd and kvd: CLI11 options, the --config file read by CLI11's own
// TOML/INI reader (one `name = value` a line, the flag names without dashes; flags win), and their
// translation into a NodeConfig. Main thread, while the process starts.
//   CLI::App app;  NodeFlags flags;  add_node_flags(app, flags);
//   app.parse(argc, argv);                                  // CLI::ParseError: exit 2
//   NodeConfig config;  std::string error;
//   if (!resolve_node_flags(app, flags, config, &error)) { /* exit 2 with `error` */ }
#pragma once

#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "ringkeeper/node.h"

namespace ringkeeper::tools {

struct NodeFlags {
  std::string cluster = "ringkeeper";
  std::string listen = "127.0.0.1:7000";
  std::string admin = "127.0.0.1:7180";
  std::string data_dir;
  std::string advertise;
  std::vector<std::string> seeds;   // --seeds A,B or a list in the file
  std::string num_tokens = "16";
  std::vector<std::string> tokens;  // --tokens T1,T2 or a list in the file
  std::string dc = "dc1";
  std::string rack = "rack1";
  std::string strategy = "simple";
  std::vector<std::string> rf = {"3"};  // N, or DC:N items
  std::string secret_file;  // gone: refused, naming --gossip-key-file
  std::string gossip_key_file;
  bool gossip_accept_plaintext = false;
  std::string admin_token_file;
  bool admin_token_reads = false;
  std::string admin_tls_cert;
  std::string admin_tls_key;
  std::string log_level = "info";
  bool reset_generation = false;
  std::string replace;  // --replace NODE_ID

  // Filled while parsing: the --config file read, and the settings whose value it supplied (the
  // names without dashes; a setting also given as a flag is not among them). For error messages.
  std::string config_file;
  std::set<std::string> set_by_config_file;
};

// Adds the flags, `--config FILE`, and the config file reader to `app`. `flags` must outlive
// `app`'s parse.
void add_node_flags(CLI::App& app, NodeFlags& flags);
// How an error names a setting (`name` without dashes): `--listen` for a flag or a default,
// `listen (in FILE)` for a value the --config file supplied. For the daemons' own flags too.
std::string setting_name(const NodeFlags& flags, const std::string& name);
// After app.parse: validates everything (an error names the setting, and the file when the value
// came from it) and fills `config`. false with a one-line `error` on bad input.
bool resolve_node_flags(CLI::App& app, NodeFlags& flags, NodeConfig& config, std::string* error);

}  // namespace ringkeeper::tools
