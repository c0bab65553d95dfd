#include "tools/settings.h"

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "node/address.h"

namespace ringkeeper::tools {

namespace {

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    part = trim(part);
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

bool read_secret(const std::string& path, const char* what, std::string* out, std::string* error) {
  std::ifstream f(path);
  if (!f) {
    *error = std::string(what) + ": cannot read " + path;
    return false;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  *out = trim(ss.str());
  if (out->empty()) {
    *error = std::string(what) + ": " + path + " is empty";
    return false;
  }
  return true;
}

}  // namespace

void add_node_flags(CLI::App& app, NodeFlags& f) {
  app.add_option("--cluster", f.cluster, "cluster name; nodes of other clusters are refused")->capture_default_str();
  app.add_option("--listen", f.listen, "gossip address HOST:PORT (port 0: any free port)")->capture_default_str();
  app.add_option("--admin", f.admin, "admin HTTP address HOST:PORT (port 0: any free port)")->capture_default_str();
  app.add_option("--data-dir", f.data_dir, "where this node keeps its identity and state (required)");
  app.add_option("--advertise", f.advertise, "gossip address peers should use, if not the bound one");
  app.add_option("--seeds", f.seeds, "HOST:PORT,... to learn the cluster from; none or only itself: found one");
  app.add_option("--num-tokens", f.num_tokens, "tokens to claim at first start, from the balanced allocator")
      ->capture_default_str();
  app.add_option("--tokens", f.tokens, "T1,T2,... exact tokens to claim at first start (instead of --num-tokens)");
  app.add_option("--dc", f.dc, "datacenter")->capture_default_str();
  app.add_option("--rack", f.rack, "rack")->capture_default_str();
  app.add_option("--strategy", f.strategy, "replication strategy: simple|topology (cluster-wide)")->capture_default_str();
  app.add_option("--rf", f.rf, "replication factor N, or DC:N,DC:N with topology (cluster-wide)")->capture_default_str();
  app.add_option("--secret-file", f.secret_file, "file holding the gossip secret (frames are then HMAC-signed)");
  app.add_option("--admin-token-file", f.admin_token_file,
                 "file holding the token that lets non-loopback callers make state-changing admin calls");
  app.add_option("--config", f.config_file, "file of `name = value` lines with these settings; flags win");
  app.add_option("--log-level", f.log_level, "trace|debug|info|warn|error|critical|off")->capture_default_str();
  app.add_flag("--reset-generation", f.reset_generation,
               "start from the wall clock's generation even if the persisted one is higher (a clock that ran ahead)");
}

bool resolve_node_flags(CLI::App& app, NodeFlags& f, NodeConfig& c, std::string* error) {
  if (!f.config_file.empty()) {
    std::ifstream in(f.config_file);
    if (!in) {
      *error = "--config: cannot read " + f.config_file;
      return false;
    }
    std::map<std::string, std::string*> strings = {
        {"cluster", &f.cluster},       {"listen", &f.listen},       {"admin", &f.admin},
        {"data-dir", &f.data_dir},     {"advertise", &f.advertise}, {"seeds", &f.seeds},
        {"num-tokens", &f.num_tokens}, {"tokens", &f.tokens},       {"dc", &f.dc},
        {"rack", &f.rack},             {"strategy", &f.strategy},   {"rf", &f.rf},
        {"secret-file", &f.secret_file}, {"admin-token-file", &f.admin_token_file},
        {"log-level", &f.log_level}};
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      line = trim(line);
      if (line.empty() || line[0] == '#') continue;
      const size_t eq = line.find('=');
      if (eq == std::string::npos) {
        *error = f.config_file + ":" + std::to_string(n) + ": expected `name = value`";
        return false;
      }
      std::string name = trim(line.substr(0, eq));
      std::string value = trim(line.substr(eq + 1));
      std::replace(name.begin(), name.end(), '_', '-');
      if (name == "reset-generation") {
        if (app.count("--reset-generation") == 0) f.reset_generation = value == "true" || value == "1";
        continue;
      }
      auto it = strings.find(name);
      if (it == strings.end()) {
        *error = f.config_file + ":" + std::to_string(n) + ": unknown setting '" + name + "'";
        return false;
      }
      if (app.count("--" + name) == 0) *it->second = value;  // flags win
    }
  }
  if (f.data_dir.empty()) {
    *error = "--data-dir is required";
    return false;
  }
  c.cluster = f.cluster;
  c.listen = f.listen;
  c.admin = f.admin;
  c.data_dir = f.data_dir;
  c.advertise = f.advertise;
  c.dc = f.dc;
  c.rack = f.rack;
  c.reset_generation = f.reset_generation;
  for (const auto& [flag, value] : {std::pair{"--listen", &c.listen}, std::pair{"--admin", &c.admin}}) {
    if (!gossip::parse_host_port(*value)) {
      *error = std::string(flag) + ": expected HOST:PORT ([v6]:PORT for IPv6), got '" + *value + "'";
      return false;
    }
  }
  if (!c.advertise.empty() && !gossip::parse_host_port(c.advertise)) {
    *error = "--advertise: expected HOST:PORT, got '" + c.advertise + "'";
    return false;
  }
  c.seeds = split(f.seeds);
  for (const std::string& s : c.seeds) {
    if (!gossip::parse_host_port(s)) {
      *error = "--seeds: expected HOST:PORT,..., got '" + s + "'";
      return false;
    }
  }
  if (!f.tokens.empty() && app.count("--num-tokens") > 0) {
    *error = "give --num-tokens or --tokens, not both";
    return false;
  }
  for (const std::string& t : split(f.tokens)) {
    auto token = Token::parse(t);
    if (!token) {
      *error = "--tokens: not an unsigned 64-bit decimal token: '" + t + "'";
      return false;
    }
    c.tokens.push_back(*token);
  }
  uint32_t num = 0;
  auto [p, ec] = std::from_chars(f.num_tokens.data(), f.num_tokens.data() + f.num_tokens.size(), num);
  if (ec != std::errc() || p != f.num_tokens.data() + f.num_tokens.size() || num == 0 || num > 4096) {
    *error = "--num-tokens: expected 1..4096, got '" + f.num_tokens + "'";
    return false;
  }
  c.num_tokens = num;
  std::string rep_error;
  auto rep = ReplicationConfig::parse(f.strategy, f.rf, &rep_error);
  if (!rep) {
    *error = "--strategy/--rf: " + rep_error;
    return false;
  }
  c.replication = *rep;
  if (!f.secret_file.empty() && !read_secret(f.secret_file, "--secret-file", &c.secret, error)) return false;
  if (!f.admin_token_file.empty() && !read_secret(f.admin_token_file, "--admin-token-file", &c.admin_token, error)) {
    return false;
  }
  static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::find(std::begin(levels), std::end(levels), f.log_level) == std::end(levels)) {
    *error = "--log-level: expected trace|debug|info|warn|error|critical|off, got '" + f.log_level + "'";
    return false;
  }
  return true;
}

}  // namespace ringkeeper::tools
