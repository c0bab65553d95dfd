// The node flags shared by ringd and kvd: CLI11 options, the --config file (one `name = value`
// a line, the flag names without dashes; flags win), and their translation into a NodeConfig.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "ringkeeper/node.h"

namespace ringkeeper::tools {

struct NodeFlags {
  std::string cluster = "ringkeeper";
  std::string listen = "127.0.0.1:7000";
  std::string admin = "127.0.0.1:7180";
  std::string data_dir;
  std::string advertise;
  std::string seeds;
  std::string num_tokens = "16";
  std::string tokens;
  std::string dc = "dc1";
  std::string rack = "rack1";
  std::string strategy = "simple";
  std::string rf = "3";
  std::string secret_file;
  std::string admin_token_file;
  std::string config_file;
  std::string log_level = "info";
  bool reset_generation = false;
};

void add_node_flags(CLI::App& app, NodeFlags& flags);
// Applies the config file (for flags not given), validates everything, fills `config`.
// false with a one-line `error` on bad input.
bool resolve_node_flags(CLI::App& app, NodeFlags& flags, NodeConfig& config, std::string* error);

}  // namespace ringkeeper::tools
