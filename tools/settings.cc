#include "tools/settings.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "gossip/seal.h"
#include "node/address.h"

namespace ringkeeper::tools {

namespace {

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

bool is_boolean(std::string value) {
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* word : {"true", "false", "yes", "no", "on", "off", "1", "0"}) {
    if (value == word) return true;
  }
  return false;
}

// The file's text with every list that runs over several lines joined into one line, as
// CLI11's reader takes it: a value that opens with `[` and does not close on its line takes the
// following lines up to the one holding `]` (comments dropped, a trailing comma before `]` too).
// CLI11 alone joins only a list whose first item follows `[` on its line. Throws
// CLI::ConfigError naming `file` and the setting for a list that is never closed.
std::string join_list_lines(std::istream& input, const std::string& file) {
  auto uncommented = [](std::string line) { return trim(line.substr(0, line.find('#'))); };
  std::string out, line;
  while (std::getline(input, line)) {
    const std::string text = uncommented(line);
    const size_t eq = text.find('=');
    const std::string value = eq == std::string::npos ? "" : trim(text.substr(eq + 1));
    if (value.empty() || value.front() != '[' || value.find(']') != std::string::npos) {
      out += line + "\n";
      continue;
    }
    std::string list = value;
    while (list.find(']') == std::string::npos) {
      if (!std::getline(input, line)) {
        throw CLI::ConfigError(file + ": the list of " + trim(text.substr(0, eq)) + " is not closed with ]");
      }
      const std::string more = uncommented(line);
      if (!more.empty()) list += (list.back() == '[' || list.back() == ',' ? "" : " ") + more;
    }
    const size_t close = list.find(']');
    std::string items = trim(list.substr(1, close - 1));
    if (!items.empty() && items.back() == ',') items.pop_back();  // TOML's trailing comma
    out += trim(text.substr(0, eq)) + " = [" + items + "]" + list.substr(close + 1) + "\n";
  }
  return out;
}

// The --config file, read by CLI11's TOML/INI reader: `#` comments, quotes taken off values,
// lists as `[a, b]` (over several lines too: join_list_lines) or `a,b`. CLI11 then fills every option not given on the command line. This
// reader refuses what CLI11 would pass over or misread — names that are no setting (sections and
// dotted names included), several values for a one-value setting, a flag value that is not a
// boolean, a name set twice — naming the file, and remembers which settings the file supplied.
class NodeConfigFile final : public CLI::ConfigTOML {
 public:
  NodeConfigFile(const CLI::App& app, NodeFlags& flags) : app_(app), flags_(flags) {}

  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    const std::string file = app_.get_config_ptr()->as<std::string>();
    std::istringstream joined(join_list_lines(input, file));
    std::vector<CLI::ConfigItem> items = CLI::ConfigTOML::from_config(joined);
    flags_.config_file = file;
    std::set<std::string> seen;
    for (CLI::ConfigItem& item : items) {
      std::replace(item.name.begin(), item.name.end(), '_', '-');  // data_dir = ... as TOML writes it
      const CLI::Option* option = setting(item);
      if (option == nullptr) {
        const bool section = item.name == "++" || item.name == "--";  // CLI11's marks around a [section]
        throw CLI::ConfigError(file + ": unknown " +
                               (section ? "section [" + CLI::detail::join(item.parents, ".") + "]"
                                        : "setting '" + item.fullname() + "'") +
                               " (settings are the flag names without dashes, one `name = value` a line)");
      }
      if (option->get_expected_min() == 0) {  // a flag
        if (item.inputs.size() != 1 || !is_boolean(item.inputs[0])) {
          throw CLI::ConfigError(file + ": " + item.name + ": expected true or false, got '" +
                                 CLI::detail::join(item.inputs, ",") + "'");
        }
      } else if (option->get_items_expected_max() <= 1 && item.inputs.size() > 1) {
        throw CLI::ConfigError(file + ": " + item.name + " takes one value, got " + std::to_string(item.inputs.size()) +
                               " (quote a value that holds spaces or commas)");
      }
      // CLI11 joins consecutive lines of one name into a list; anywhere else, a name is given once.
      if (!seen.insert(item.name).second) throw CLI::ConfigError(file + ": " + item.name + " is set twice");
      if (option->empty()) flags_.set_by_config_file.insert(item.name);  // else the flag wins
    }
    return items;
  }

 private:
  // The option `item` sets, or nullptr if it is none a file may set.
  const CLI::Option* setting(const CLI::ConfigItem& item) const {
    if (!item.parents.empty()) return nullptr;
    const CLI::Option* option = app_.get_option_no_throw("--" + item.name);
    // --help, --version and --config itself are not configurable.
    return option != nullptr && option->get_configurable() ? option : nullptr;
  }

  const CLI::App& app_;
  NodeFlags& flags_;
};

bool read_secret(const NodeFlags& f, const std::string& name, const std::string& path, std::string* out,
                 std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = setting_name(f, name) + ": cannot read " + path;
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  *out = trim(ss.str());
  if (out->empty()) {
    *error = setting_name(f, name) + ": " + path + " is empty";
    return false;
  }
  return true;
}

// The gossip key, the admin token and TLS files: readable, well formed, and the old HMAC secret
// refused with the flag that replaces it.
bool resolve_security_flags(const NodeFlags& f, NodeConfig& c, std::string* error) {
  if (!f.secret_file.empty()) {
    *error = setting_name(f, "secret-file") + " is no longer supported (it HMAC-signed gossip): gossip is now "
             "encrypted with AES-256-GCM; give --gossip-key-file FILE with a base64-encoded 32-byte key "
             "(`openssl rand -base64 32`) instead (docs/security.md)";
    return false;
  }
  c.gossip_key.clear();
  if (!f.gossip_key_file.empty()) {
    if (!read_secret(f, "gossip-key-file", f.gossip_key_file, &c.gossip_key, error)) return false;
    if (auto key = gossip::decode_key_base64(c.gossip_key); !key.ok()) {
      *error = setting_name(f, "gossip-key-file") + ": " + f.gossip_key_file + ": " + key.status().message();
      return false;
    }
  }
  c.gossip_accept_plaintext = f.gossip_accept_plaintext;
  if (!f.admin_token_file.empty() &&
      !read_secret(f, "admin-token-file", f.admin_token_file, &c.admin_token, error)) {
    return false;
  }
  c.admin_token_reads = f.admin_token_reads;
  if (c.admin_token_reads && c.admin_token.empty()) {
    *error = setting_name(f, "admin-token-reads") + " needs --admin-token-file (the token reads must present)";
    return false;
  }
  if (f.admin_tls_cert.empty() != f.admin_tls_key.empty()) {
    *error = setting_name(f, f.admin_tls_cert.empty() ? "admin-tls-key" : "admin-tls-cert") +
             ": --admin-tls-cert and --admin-tls-key go together: give both";
    return false;
  }
  for (const auto& [name, path] : {std::pair{"admin-tls-cert", &f.admin_tls_cert}, std::pair{"admin-tls-key", &f.admin_tls_key}}) {
    if (!path->empty() && !std::ifstream(*path)) {
      *error = setting_name(f, name) + ": cannot read " + *path;
      return false;
    }
  }
  c.admin_tls_cert = f.admin_tls_cert;
  c.admin_tls_key = f.admin_tls_key;
  return true;
}

}  // namespace

std::string setting_name(const NodeFlags& f, const std::string& name) {
  if (f.set_by_config_file.count(name) > 0) return name + " (in " + f.config_file + ")";
  return "--" + name;
}

void add_node_flags(CLI::App& app, NodeFlags& f) {
  app.add_option("--cluster", f.cluster, "cluster name; nodes of other clusters are refused")->capture_default_str();
  app.add_option("--listen", f.listen, "gossip address HOST:PORT (port 0: any free port)")->capture_default_str();
  app.add_option("--admin", f.admin, "admin HTTP address HOST:PORT (port 0: any free port)")->capture_default_str();
  app.add_option("--data-dir", f.data_dir, "where this node keeps its identity and state (required)");
  app.add_option("--advertise", f.advertise, "gossip address peers should use, if not the bound one");
  app.add_option("--seeds", f.seeds, "HOST:PORT,... to learn the cluster from; none or only itself: found one")
      ->delimiter(',');
  app.add_option("--num-tokens", f.num_tokens, "tokens to claim at first start, from the balanced allocator")
      ->capture_default_str();
  app.add_option("--tokens", f.tokens, "T1,T2,... exact tokens to claim at first start (instead of --num-tokens)")
      ->delimiter(',');
  app.add_option("--dc", f.dc, "datacenter")->capture_default_str();
  app.add_option("--rack", f.rack, "rack")->capture_default_str();
  app.add_option("--strategy", f.strategy, "replication strategy: simple|topology (cluster-wide)")->capture_default_str();
  app.add_option("--rf", f.rf, "replication factor N, or DC:N,DC:N with topology (cluster-wide)")
      ->delimiter(',')
      ->default_str(join(f.rf));
  app.add_option("--gossip-key-file", f.gossip_key_file,
                 "file with a base64 32-byte AES-256 key: encrypt gossip, refuse plaintext peers; it starts the "
                 "keyring kept in DIR (then: ringctl keys)");
  app.add_flag("--gossip-accept-plaintext", f.gossip_accept_plaintext,
               "take plaintext gossip too: the migration mode that turns encryption on across a running cluster");
  // Gone (it signed frames with HMAC); kept as an option so that its use gets a clear refusal.
  app.add_option("--secret-file", f.secret_file, "replaced by --gossip-key-file")->group("");
  app.add_option("--admin-token-file", f.admin_token_file,
                 "file holding the token that lets non-loopback callers make state-changing admin calls");
  app.add_flag("--admin-token-reads", f.admin_token_reads,
               "read-only admin calls (and /metrics) from non-loopback callers need the token too");
  app.add_option("--admin-tls-cert", f.admin_tls_cert, "PEM certificate (chain): serve the admin API over HTTPS");
  app.add_option("--admin-tls-key", f.admin_tls_key, "PEM private key of --admin-tls-cert");
  app.set_config("--config", "", "file of `name = value` lines with these settings (names without dashes); flags win")
      ->type_name("FILE");
  app.config_formatter(std::make_shared<NodeConfigFile>(app, f));
  app.add_option("--log-level", f.log_level, "trace|debug|info|warn|error|critical|off")->capture_default_str();
  app.add_flag("--reset-generation", f.reset_generation,
               "start from the wall clock's generation even if the persisted one is higher (a clock that ran ahead)");
  app.add_option("--replace", f.replace,
                 "NODE_ID of a dead NORMAL node whose tokens this new node takes over, phase by phase (first start "
                 "only; needs --seeds)");
}

namespace {

// Sets *error to "<setting>: <what>" (the setting named as the user gave it); returns false.
bool refuse(const NodeFlags& f, std::string* error, const std::string& name, const std::string& what) {
  *error = setting_name(f, name) + ": " + what;
  return false;
}

// --listen, --admin, --advertise, --seeds: HOST:PORT each.
bool resolve_addresses(const NodeFlags& f, NodeConfig& c, std::string* error) {
  c.listen = f.listen;
  c.admin = f.admin;
  c.advertise = f.advertise;
  for (const auto& [name, value] : {std::pair{"listen", &c.listen}, std::pair{"admin", &c.admin}}) {
    if (!parse_host_port(*value)) {
      return refuse(f, error, name, "expected HOST:PORT ([v6]:PORT for IPv6), got '" + *value + "'");
    }
  }
  if (!c.advertise.empty() && !parse_host_port(c.advertise)) {
    return refuse(f, error, "advertise", "expected HOST:PORT, got '" + c.advertise + "'");
  }
  c.seeds.clear();
  for (const std::string& s : f.seeds) {
    const std::string seed = trim(s);
    if (seed.empty()) continue;
    if (!parse_host_port(seed)) return refuse(f, error, "seeds", "expected HOST:PORT,..., got '" + seed + "'");
    c.seeds.push_back(seed);
  }
  return true;
}

// The first token of `tokens` that appears again later; nullopt when each is given once.
std::optional<Token> first_repeated(const std::vector<Token>& tokens) {
  std::set<Token> seen;
  for (Token t : tokens) {
    if (!seen.insert(t).second) return t;
  }
  return std::nullopt;
}

// --tokens and --num-tokens (one of them, or the flag over the config file).
bool resolve_token_flags(CLI::App& app, NodeFlags& f, NodeConfig& c, std::string* error) {
  if (!f.tokens.empty() && app.count("--num-tokens") > 0) {
    // Given in the same place, they contradict each other; otherwise the flag wins over the file.
    const bool tokens_from_file = f.set_by_config_file.count("tokens") > 0;
    if (tokens_from_file == (f.set_by_config_file.count("num-tokens") > 0)) {
      *error = "give " + setting_name(f, "num-tokens") + " or " + setting_name(f, "tokens") + ", not both";
      return false;
    }
    if (tokens_from_file) f.tokens.clear();
  }
  c.tokens.clear();
  if (f.tokens.size() > kMaxTokensPerNode) {
    return refuse(f, error, "tokens", std::to_string(f.tokens.size()) + " tokens given; at most " +
                                          std::to_string(kMaxTokensPerNode) + " (as for num-tokens)");
  }
  for (const std::string& t : f.tokens) {
    auto token = Token::parse(trim(t));
    if (!token) return refuse(f, error, "tokens", "not an unsigned 64-bit decimal token: '" + t + "'");
    c.tokens.push_back(*token);
  }
  if (std::optional<Token> twice = first_repeated(c.tokens)) {
    return refuse(f, error, "tokens", "token " + twice->to_string() + " is given twice");
  }
  uint32_t num = 0;
  auto [p, ec] = std::from_chars(f.num_tokens.data(), f.num_tokens.data() + f.num_tokens.size(), num);
  if (ec != std::errc() || p != f.num_tokens.data() + f.num_tokens.size() || num == 0 || num > kMaxTokensPerNode) {
    return refuse(f, error, "num-tokens",
                  "expected 1.." + std::to_string(kMaxTokensPerNode) + ", got '" + f.num_tokens + "'");
  }
  c.num_tokens = num;
  return true;
}

}  // namespace

bool resolve_node_flags(CLI::App& app, NodeFlags& f, NodeConfig& c, std::string* error) {
  if (f.data_dir.empty()) {
    *error = "--data-dir is required (a flag, or data-dir in the --config file)";
    return false;
  }
  c.cluster = f.cluster;
  c.data_dir = f.data_dir;
  c.dc = f.dc;
  c.rack = f.rack;
  c.reset_generation = f.reset_generation;
  c.replace = f.replace;
  if (!c.replace.empty() && (!NodeId::parse(c.replace) || NodeId::parse(c.replace)->is_nil())) {
    return refuse(f, error, "replace", "expected a node id (a UUID), got '" + c.replace + "'");
  }
  if (!resolve_addresses(f, c, error) || !resolve_token_flags(app, f, c, error)) return false;
  std::string rep_error;
  auto rep = ReplicationConfig::parse(f.strategy, join(f.rf), &rep_error);
  if (!rep) {
    *error = setting_name(f, "strategy") + "/" + setting_name(f, "rf") + ": " + rep_error;
    return false;
  }
  c.replication = *rep;
  if (!resolve_security_flags(f, c, error)) return false;
  static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::find(std::begin(levels), std::end(levels), f.log_level) == std::end(levels)) {
    return refuse(f, error, "log-level", "expected trace|debug|info|warn|error|critical|off, got '" + f.log_level + "'");
  }
  return true;
}

}  // namespace ringkeeper::tools
