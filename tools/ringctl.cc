// ringctl: the operator CLI. Talks to one node's admin API (--host, default 127.0.0.1:7180);
// `move`, `rebalance` and `decommission` with --wait follow the change they started by polling
// that node's GET /v1/change.
// Exit codes: 0 done (health: converged), 1 failed or refused (health: not converged),
// 2 usage or not in this build, 3 the node could not be reached.
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ringkeeper/version.h"
#include "node/address.h"
#include "tools/http_client.h"
#include "tools/status_table.h"

namespace {

using json = nlohmann::json;

struct Call {
  std::string method = "GET";
  std::string target;
  std::string body;
};

using ringkeeper::tools::joined;

std::string percent(double fraction) { return fmt::format("{:.1f}%", 100.0 * fraction); }

// A section title in the style of `riak-admin cluster plan`: centred in a line of '='.
void banner(const std::string& title) {
  const size_t width = 79, pad = title.size() + 2 < width ? (width - title.size() - 2) / 2 : 0;
  const std::string left(pad, '='), right(width > pad + title.size() + 2 ? width - pad - title.size() - 2 : 0, '=');
  std::printf("%s %s %s\n", left.c_str(), title.c_str(), right.c_str());
}

const std::string kRule(79, '-');

// move --dry-run, rebalance --dry-run, and a rebalance of a balanced node: the staged change
// (none if balanced), ownership before and after per node, and the ranges whose replicas change.
void print_plan(const std::string& action, const json& p) {
  const std::string node = p.value("node", "");
  const bool balanced = p.value("balanced", false);
  banner("Staged Changes");
  std::printf("%-10s %s\n%s\n", "Action", "Details", kRule.c_str());
  if (balanced) {
    std::printf("%-10s %s is already balanced: new tokens would not lower the largest ownership over the mean "
                "by 1%% or more\n%s\n", "(none)", node.c_str(), kRule.c_str());
    std::printf("(already balanced: nothing was announced)\n\n");
  } else {
    std::printf("%-10s %s to %zu tokens: %s\n%s\n", action.c_str(), node.c_str(), p["tokens"].size(),
                joined(p["tokens"], ", ").c_str(), kRule.c_str());
    std::printf("(dry run: nothing was announced)\n\n");
  }
  banner("Ownership");
  std::printf("%-9s %-9s %s\n%s\n", "Before", "After", "Node", kRule.c_str());
  const json& before = p["ownership_before"];
  const json& after = p["ownership_after"];
  for (auto& [id, f] : after.items()) {
    const double was = before.contains(id) ? before[id].get<double>() : 0.0;
    std::printf("%-9s %-9s %s%s\n", percent(was).c_str(), percent(f.get<double>()).c_str(), id.c_str(),
                id == node && !balanced ? " (moves)" : "");
  }
  std::printf("%s\n(ownership: the fraction of the ring each node holds as a replica; it sums to RF)\n\n",
              kRule.c_str());
  std::printf("Ranges whose replicas change: %zu\n", p["moves"].size());
  for (const json& m : p["moves"]) {
    std::printf("  (%s, %s]  %s -> %s\n", m.value("start", "").c_str(), m.value("end", "").c_str(),
                joined(m["from"], ", ").c_str(), joined(m["to"], ", ").c_str());
  }
}

void print_info(const json& j) {
  for (const char* k : {"id", "cluster", "cluster_id", "address", "admin", "generation", "data_dir", "version"}) {
    const json& v = j.contains(k) ? j[k] : json();
    std::printf("%-11s: %s\n", k, v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
  }
}

void print_ring(const json& j) {
  std::printf("ring digest %s, %zu tokens\n%-22s %s\n", j.value("ring_digest", "").c_str(), j["tokens"].size(),
              "Token", "Node");
  for (const json& t : j["tokens"]) std::printf("%-22s %s\n", t.value("token", "").c_str(), t.value("node", "").c_str());
  if (j.contains("pending") && !j["pending"].empty()) {
    std::printf("\npending (tokens moving in: a MOVING node's new tokens, a JOINING node's claim)\n");
    for (const json& t : j["pending"]) std::printf("%-22s %s\n", t.value("token", "").c_str(), t.value("node", "").c_str());
  }
}

void print_owners(const json& j) {
  std::printf("key %s -> token %s\n", j.value("key", "").c_str(), j.value("token", "").c_str());
  auto list = [&](const char* name) {
    std::printf("%-10s", name);
    if (j[name].empty()) std::printf(" -");
    for (const json& id : j[name]) std::printf(" %s", id.get<std::string>().c_str());
    std::printf("\n");
  };
  list("replicas");
  list("reachable");
  list("pending");
}

void print_health(const json& j) {
  std::printf("converged: %s   live: %d   down: %d\n", j.value("converged", false) ? "yes" : "no",
              j.value("live", 0), j.value("down", 0));
  for (auto& [d, n] : j["ring_digests"].items()) {
    std::printf("  ring digest %s on %d live nodes\n", d.empty() ? "(none gossiped yet)" : d.c_str(), n.get<int>());
  }
}

void print_gossipinfo(const json& j) {
  for (const json& n : j["nodes"]) {
    std::printf("%s  generation %s  version %s\n", n.value("id", "").c_str(), ringkeeper::tools::generation_text(n["generation"]).c_str(),
                n["version"].dump().c_str());
    for (auto& [k, v] : n["values"].items()) {
      std::printf("  %-12s %s  (v%s)\n", k.c_str(), v.value("value", "").c_str(), v["version"].dump().c_str());
    }
  }
}

// The answer to a change command (move, rebalance, decommission, abort, removenode).
void print_change(const std::string& cmd, const json& j) {
  if (cmd == "abort") {
    std::printf("change %s %s of %s: %s (rolled back)\n", j.value("change", "").c_str(), j.value("kind", "").c_str(),
                j.value("node", "").c_str(), j.value("phase", "").c_str());
    return;
  }
  if (cmd == "removenode") {
    if (j.value("phase", "") == "done") {
      std::printf("removed %s: its REMOVED tombstone is gossiped; it owns nothing from now on\n",
                  j.value("node", "").c_str());
      return;
    }
    std::printf("change %s removenode of %s: %s\n", j.value("change", "").c_str(), j.value("node", "").c_str(),
                j.value("phase", "").c_str());
    std::printf("(its ranges go to their next owners phase by phase; at done its REMOVED tombstone is gossiped; "
                "`ringctl status` shows where it stands, --wait follows it)\n");
    return;
  }
  std::printf("change %s %s of %s: %s\n", j.value("change", "").c_str(), j.value("kind", "").c_str(),
              j.value("node", "").c_str(), j.value("phase", "").c_str());
  if (j.contains("tokens")) std::printf("  new tokens: %s\n", joined(j["tokens"], " ").c_str());
  if (cmd == "decommission") {
    std::printf("(its ranges go to their next owners phase by phase; at done the node is LEFT: it owns nothing "
                "and keeps running until stopped)\n");
  }
  std::printf("(it advances phase by phase as every member acknowledges; `ringctl status` shows where it "
              "stands, --wait follows it)\n");
}

void print_human(const std::string& cmd, const json& j) {
  if (cmd == "status") {
    std::fputs(ringkeeper::tools::status_table(j).c_str(), stdout);
    return;
  }
  if (cmd == "info") return print_info(j);
  if (cmd == "ring") return print_ring(j);
  if (cmd == "owners") return print_owners(j);
  if (cmd == "health") return print_health(j);
  if (cmd == "gossipinfo") return print_gossipinfo(j);
  if ((cmd == "move" || cmd == "rebalance") && !j.contains("change")) return print_plan(cmd, j);
  if (cmd == "move" || cmd == "rebalance" || cmd == "decommission" || cmd == "abort" || cmd == "removenode") {
    return print_change(cmd, j);
  }
  std::printf("%s\n", j.dump(2).c_str());
}

// One node's admin API, as ringctl calls it.
struct Client {
  std::string host;
  std::string authorization;  // "Bearer <token>" or empty
  std::string cacert;         // HTTPS, verified against this CA file; empty: HTTP
  std::optional<ringkeeper::tools::HttpResponse> request(const Call& call, std::string* error,
                                                         int timeout_ms = 10000) const {
    return ringkeeper::tools::http_request(host, call.method, call.target, call.body, error, timeout_ms,
                                           authorization, cacert);
  }
};

// A gossip key as `keys` takes it: 44 base64 characters (32 bytes). The node checks it again.
bool looks_like_key(const std::string& k) {
  if (k.size() != 44 || k[43] != '=') return false;
  for (size_t i = 0; i < 43; ++i) {
    const char c = k[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') return false;
  }
  return true;
}

void print_keys(const json& j) {
  const json& primary = j.contains("primary") ? j["primary"] : json();
  if (j.value("kind", "") == "list") {
    std::printf("primary key: %s\n%-18s %s\n", primary.is_string() ? primary.get<std::string>().c_str() : "(none: "
                "gossip is plaintext)", "Key fingerprint", "Nodes");
    for (const json& k : j["keys"]) {
      std::printf("%-18s %zu of %zu\n", k.value("fingerprint", "").c_str(), k.value("nodes", size_t{0}),
                  j.value("nodes", size_t{0}));
    }
  } else {
    std::printf("keys %s %s: %zu of %zu live nodes acknowledged\n", j.value("kind", "").c_str(),
                j.value("key", "").c_str(), j.value("acked", size_t{0}), j.value("nodes", size_t{0}));
  }
  const json errors = j.contains("errors") ? j["errors"] : json::object();
  for (auto& [id, why] : errors.items()) {
    std::printf("  %s: %s\n", id.c_str(), why.get<std::string>().c_str());
  }
}

// keys: the command answers {"op"} at once; GET /v1/keys/op follows it until every live member
// answered or the node's deadline passed. Exit 0 only if every live node acknowledged.
int follow_keys(const Client& client, const json& started, bool as_json) {
  using namespace std::chrono_literals;
  const Call poll{"GET", "/v1/keys/op?id=" + ringkeeper::tools::url_encode(started.value("op", "")), ""};
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    std::string error;
    auto resp = client.request(poll, &error);
    if (!resp) {
      std::fprintf(stderr, "ringctl: lost the node at %s while following the keys command: %s\n",
                   client.host.c_str(), error.c_str());
      return 3;
    }
    json j = json::parse(resp->body, nullptr, false);
    if (resp->status != 200 || j.is_discarded()) {
      std::fprintf(stderr, "ringctl: %s\n", j.is_discarded() ? resp->body.c_str() : j.value("error", "").c_str());
      return 1;
    }
    if (j.value("done", false) || std::chrono::steady_clock::now() > give_up) {
      if (as_json) {
        std::printf("%s\n", j.dump().c_str());
      } else {
        print_keys(j);
      }
      const bool all = j.value("done", false) && j["failed"].empty() && j.value("acked", 0) == j.value("nodes", -1);
      if (!all) {
        std::fprintf(stderr, "ringctl: keys %s: %zu of %zu live nodes acknowledged\n", j.value("kind", "").c_str(),
                     j.value("acked", size_t{0}), j.value("nodes", size_t{0}));
      }
      return all ? 0 : 1;
    }
    std::this_thread::sleep_for(50ms);  // the poll interval
  }
}

// A token as the node takes it: an unsigned 64-bit decimal, digits only.
bool is_token(const std::string& s) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return !s.empty() && s.front() != '+' && ec == std::errc() && end == s.data() + s.size();
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// A change's phases in the order it passes them (an aborted change stops before read_new).
constexpr const char* kPhases[] = {"announce", "write_both", "read_new", "release", "done"};

int phase_index(const std::string& phase) {
  for (int i = 0; i < static_cast<int>(std::size(kPhases)); ++i) {
    if (phase == kPhases[i]) return i;
  }
  return -1;
}

// What --wait has said so far about one change, and how it says the next step.
class ChangeFollower {
 public:
  ChangeFollower(json answer, bool as_json)
      : answer_(std::move(answer)), as_json_(as_json), id_(answer_.value("change", "")),
        kind_(answer_.value("kind", "")) {}

  const std::string& id() const { return id_; }
  const std::string& phase() const { return phase_; }
  bool ended() const { return phase_ == "done" || phase_ == "aborted" || phase_ == "failed"; }
  const json& answer() const { return answer_; }

  // A line for the phase `reached` (with --json: the answer with that phase; `why`: its error).
  void print(const std::string& reached, const std::string& why) {
    answer_["phase"] = reached;
    if (!why.empty()) answer_["error"] = why;
    if (as_json_) {
      std::printf("%s\n", answer_.dump().c_str());
    } else {
      const std::string who = joined(waiting_, ", ");
      std::printf("change %s %s: %s%s\n", id_.c_str(), kind_.c_str(), reached.c_str(),
                  who.empty() ? "" : (" (waiting for: " + who + ")").c_str());
    }
    std::fflush(stdout);
  }

  // The change is at `next`, waiting for `next_waiting`: says what is new.
  void reach(const std::string& next, const json& next_waiting) {
    if (next == phase_) {
      if (next_waiting == waiting_) return;
      waiting_ = next_waiting;
      if (!as_json_) print(phase_, "");
      return;
    }
    // Phases passed between two polls were reached too: say so, in order.
    const int from = phase_index(phase_), to = phase_index(next);
    waiting_ = json::array();
    for (int k = from + 1; from >= 0 && to > from && k < to; ++k) print(kPhases[k], "");
    waiting_ = next_waiting;
    phase_ = next;
    if (phase_ == "aborted") {
      print(phase_, "change " + id_ + " was aborted (rolled back)");
    } else if (phase_ == "failed") {
      print(phase_, "change " + id_ + " failed");
    } else {
      print(phase_, "");
    }
  }

 private:
  json answer_;
  const bool as_json_;
  const std::string id_, kind_;
  std::string phase_;
  json waiting_ = json::array();
};

// How long --wait keeps polling a node that does not answer before it exits 3 (the contract).
constexpr std::chrono::milliseconds kUnreachableLimit{10000};

// --wait: follows the change in `answer` (a change command's answer) on the node that gave it,
// polling GET /v1/change, until it is done (0), aborted or failed (1), or the node stays
// unreachable for 10 s (3): counted from the start of the first poll that failed, each poll's
// own timeout cut to what is left of them. A line per phase as it is reached — with --json the
// answer with that phase, the last one the result — and, for people, a line whenever the awaited
// members change.
int follow_change(const Client& client, json answer, bool as_json) {
  using namespace std::chrono_literals;
  using Clock = std::chrono::steady_clock;
  ChangeFollower change(std::move(answer), as_json);
  change.reach(change.answer().value("phase", "announce"), change.answer().value("waiting_for", json::array()));
  const Call poll{"GET", "/v1/change?id=" + ringkeeper::tools::url_encode(change.id()), ""};
  bool failing = false;            // the last poll failed
  Clock::time_point first_failed;  // while failing: the start of the first poll that failed
  while (!change.ended()) {
    std::this_thread::sleep_for(100ms);
    const Clock::time_point started = Clock::now();
    const auto left = kUnreachableLimit - (failing ? started - first_failed : Clock::duration::zero());
    const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(left);
    std::string error = "did not answer for 10 s";
    auto resp = budget > 0ms ? client.request(poll, &error, static_cast<int>(budget.count())) : std::nullopt;
    if (!resp) {
      if (!failing) first_failed = started;
      failing = true;
      if (Clock::now() - first_failed < kUnreachableLimit) continue;
      std::fprintf(stderr, "ringctl: lost the node at %s while following change %s: %s\n", client.host.c_str(),
                   change.id().c_str(), error.c_str());
      return 3;
    }
    failing = false;
    json j = json::parse(resp->body, nullptr, false);
    if (resp->status != 200 || j.is_discarded()) {
      const std::string why = j.is_discarded() ? resp->body : j.value("error", resp->body);
      change.print("failed", "lost track of change " + change.id() + ": " + why);
      std::fprintf(stderr, "ringctl: lost track of change %s: %s\n", change.id().c_str(), why.c_str());
      return 1;
    }
    change.reach(j.value("phase", ""), j.value("waiting_for", json::array()));
  }
  if (change.phase() == "done") return 0;
  std::fprintf(stderr, "ringctl: %s\n", change.answer().value("error", "").c_str());
  return 1;
}

// What ringctl's command line set.
struct Options {
  std::string host = "127.0.0.1:7180";
  bool as_json = false;
  std::string token_file, cacert;
  std::string key, tokens, change_id, node_id, key_arg;  // the subcommands' arguments
  bool dry_run = false, wait = false, force = false;
  CLI::App* keys = nullptr;  // the keys subcommand (its own subcommand says which)
};

// Declares every option and subcommand on `app`, bound to `o`. Long on purpose: the command
// line's whole shape, one declaration after another, as --help lists it.
void define_commands(CLI::App& app, Options& o) {
  app.add_option("--host", o.host, "the node's admin address HOST:PORT")->capture_default_str();
  app.add_flag("--json", o.as_json, "print the node's JSON answer as is (with --wait: one JSON line per phase)");
  app.add_option("--admin-token-file", o.token_file, "file with the admin token (state-changing calls from other hosts)");
  app.add_option("--cacert", o.cacert, "PEM file of the CA that signed the node's admin certificate: talk HTTPS");
  app.set_version_flag("--version", std::string("ringctl ") + ringkeeper::kVersion);
  app.require_subcommand(1);
  app.fallthrough();  // the global options after the subcommand too: `ringctl ring --json`
  app.add_subcommand("info", "the answering node: id, cluster, addresses, generation, data dir, version");
  app.add_subcommand("status", "every member: liveness, status, ownership, tokens, dc, rack, id; changes in flight");
  app.add_subcommand("ring", "the ring's tokens and their owners, sorted by token; tokens moving in");
  app.add_subcommand("owners", "replicas of KEY, the reachable preference list, pending owners")
      ->add_option("KEY", o.key, "the key")->required();
  app.add_subcommand("gossipinfo", "every member's gossiped values and versions");
  app.add_subcommand("health", "is the cluster converged? (exit 0 yes, 1 no)");
  CLI::App* move = app.add_subcommand(
      "move", "move the answering node to new tokens, phase by phase (announce, write_both, read_new, release)");
  move->add_option("--tokens", o.tokens, "T1,T2,... (unsigned 64-bit decimals)")->required();
  move->add_flag("--dry-run", o.dry_run, "print the plan (ranges moving from -> to, ownership before and after); "
                                         "announce nothing");
  move->add_flag("--wait", o.wait, "follow the change until it is done (exit 0) or aborted (exit 1), a line per phase");
  app.add_subcommand("abort", "roll back the answering node's change, if it has not reached read_new")
      ->add_option("CHANGE_ID", o.change_id, "the change's id (as move, rebalance or decommission printed it)")->required();
  CLI::App* rebalance = app.add_subcommand(
      "rebalance", "move the answering node to the allocator's tokens, phase by phase (already balanced: nothing "
                   "starts, exit 0)");
  rebalance->add_flag("--dry-run", o.dry_run, "print the plan (or that it is already balanced); announce nothing");
  rebalance->add_flag("--wait", o.wait, "follow the change until it is done (exit 0) or aborted (exit 1), a line per "
                                        "phase");
  app.add_subcommand("decommission", "hand the answering node's ranges to their next owners, phase by phase; it "
                                     "ends LEFT, owning nothing, running until stopped")
      ->add_flag("--wait", o.wait, "follow the change until it is done, the node LEFT (exit 0), or aborted (exit 1)");
  CLI::App* removenode = app.add_subcommand(
      "removenode", "remove a dead node: its ranges go to their next owners phase by phase, then its REMOVED "
                    "tombstone is gossiped");
  removenode->add_option("NODE_ID", o.node_id, "the dead node's id")->required();
  removenode->add_flag("--force", o.force, "while another change is in flight (one waiting for this dead node): "
                                           "write the tombstone at once, without data phases (see docs/operations.md)");
  removenode->add_flag("--wait", o.wait, "follow the removal until it is done (exit 0) or aborted (exit 1)");
  o.keys = app.add_subcommand("keys", "the gossip keyring of every live node (keys are never printed, only "
                                             "fingerprints); exit 1 unless every live node acknowledged")
                       ->require_subcommand(1);
  o.keys->add_subcommand("list", "the primary key and every installed key with how many live nodes hold it");
  for (const auto& [name, help] : {std::pair{"install", "add KEY to every live node's keyring (not primary yet)"},
                                   std::pair{"use", "make KEY, installed everywhere, the primary (what nodes encrypt with)"},
                                   std::pair{"remove", "take KEY out of every live node's keyring (not the primary)"}}) {
    o.keys->add_subcommand(name, help)->add_option("KEY", o.key_arg, "base64-encoded 32-byte key")->required();
  }
}

// The admin API call for `cmd`; exit code 2 for arguments the node need not see.
int call_for(const std::string& cmd, const Options& o, Call& call) {
  if (cmd == "keys") {
    const std::string sub = o.keys->get_subcommands().front()->get_name();
    if (sub == "list") {
      call.target = "/v1/keys";
    } else if (!looks_like_key(o.key_arg)) {
      std::fprintf(stderr, "ringctl: keys %s: not a base64-encoded 32-byte key (44 characters ending in '=', as "
                           "`openssl rand -base64 32` prints)\n", sub.c_str());
      return 2;
    } else {
      call = {"POST", "/v1/keys/" + sub, json{{"key", o.key_arg}}.dump()};
    }
  } else if (cmd == "owners") {
    call.target = "/v1/owners?key=" + ringkeeper::tools::url_encode(o.key);
  } else if (cmd == "move") {
    if (o.tokens.starts_with("-")) {  // `move --tokens --dry-run`: CLI11 took the next option as the value
      std::fprintf(stderr, "ringctl: move: --tokens needs a value, T1,T2,... (got the option '%s')\n",
                   o.tokens.c_str());
      return 2;
    }
    json list = json::array();
    std::stringstream in(o.tokens);
    std::string t;
    while (std::getline(in, t, ',')) {
      if (!is_token(t)) {
        std::fprintf(stderr, "ringctl: --tokens: not an unsigned 64-bit decimal token (0..18446744073709551615): "
                             "'%s'\n", t.c_str());
        return 2;
      }
      list.push_back(t);
    }
    json body{{"tokens", list}};
    if (o.dry_run) body["dry_run"] = true;
    call = {"POST", "/v1/move", body.dump()};
  } else if (cmd == "abort") {
    if (!is_uuid(o.change_id)) {
      std::fprintf(stderr, "ringctl: abort: not a change id (a UUID): '%s'\n", o.change_id.c_str());
      return 2;
    }
    call = {"POST", "/v1/abort", json{{"change", o.change_id}}.dump()};
  } else if (cmd == "removenode") {
    if (!is_uuid(o.node_id)) {
      std::fprintf(stderr, "ringctl: removenode: not a node id (a UUID): '%s'\n", o.node_id.c_str());
      return 2;
    }
    call = {"POST", "/v1/removenode", json{{"node", o.node_id}, {"force", o.force}}.dump()};
  } else if (cmd == "rebalance") {
    call = {"POST", "/v1/rebalance", o.dry_run ? json{{"dry_run", true}}.dump() : "{}"};
  } else if (cmd == "decommission") {
    call = {"POST", "/v1/decommission", "{}"};
  } else {
    call.target = "/v1/" + cmd;
  }
  return 0;
}

// The client --host, --cacert and --admin-token-file describe; exit code 2 for a --host that is
// not HOST:PORT (a URL, say) or an unreadable file.
int client_for(const Options& o, Client& client) {
  if (!ringkeeper::parse_host_port(o.host)) {
    std::fprintf(stderr, "ringctl: --host: expected the node's admin address as HOST:PORT, without a scheme (e.g. "
                         "127.0.0.1:7180; --cacert for HTTPS), got '%s'\n", o.host.c_str());
    return 2;
  }
  if (!o.cacert.empty() && !std::ifstream(o.cacert)) {
    std::fprintf(stderr, "ringctl: --cacert: cannot read %s\n", o.cacert.c_str());
    return 2;
  }
  client = Client{o.host, "", o.cacert};
  if (!o.token_file.empty()) {
    std::ifstream f(o.token_file);
    std::string token;
    if (!f || !(f >> token)) {
      std::fprintf(stderr, "ringctl: --admin-token-file: cannot read %s\n", o.token_file.c_str());
      return 2;
    }
    client.authorization = "Bearer " + token;
  }
  return 0;
}

// Prints the node's answer to `cmd` (following a change or a keys command when asked) and returns
// the exit code.
int answer(const std::string& cmd, const Options& o, const Client& client, const ringkeeper::tools::HttpResponse& resp) {
  json j = json::parse(resp.body, nullptr, false);
  if (j.is_discarded()) {
    std::fprintf(stderr, "ringctl: %s answered HTTP %d with something that is not JSON\n", o.host.c_str(), resp.status);
    return 1;
  }
  if (resp.status != 200) {
    const std::string msg = j.value("error", resp.body);
    if (o.as_json) std::printf("%s\n", j.dump().c_str());
    std::fprintf(stderr, "ringctl: %s\n", msg.c_str());
    return resp.status == 501 || resp.status == 404 ? 2 : 1;
  }
  if (cmd == "keys") return follow_keys(client, j, o.as_json);
  if (o.wait && !o.dry_run && j.contains("change")) {
    const int rc = follow_change(client, j, o.as_json);
    if (rc == 0 && cmd == "decommission" && !o.as_json) {
      std::printf("node %s left the cluster: it owns nothing and answers its admin API until stopped; started "
                  "again on its data dir it exits 3 (a new node needs a fresh data dir)\n",
                  j.value("node", "").c_str());
    }
    return rc;
  }
  if (o.as_json) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    print_human(cmd, j);
  }
  if (cmd == "health") return j.value("converged", false) ? 0 : 1;
  return 0;
}

// What a usage error says: CLI11's message, except for a word that is no command, where CLI11
// says only that a subcommand is required.
std::string usage_error(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* parent = app.get_subcommands().empty() ? &app : app.get_subcommands().front();
  const std::vector<std::string> extra = app.remaining(true);  // what no command or option took
  if (extra.empty() || extra.front().starts_with("-") || !parent->get_subcommands().empty()) return e.what();
  std::string known;
  for (const CLI::App* sub : parent->get_subcommands({})) known += (known.empty() ? "" : ", ") + sub->get_name();
  if (known.empty()) return e.what();  // a command without subcommands given a word too many
  return "unknown command '" + extra.front() + "'" + (parent == &app ? "" : " for " + parent->get_name()) +
         " (commands: " + known + ")";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringctl: inspect and operate a ringkeeper cluster through one node's admin API.\n"
               "Exit codes: 0 done (health: converged), 1 failed or refused (health: not converged),\n"
               "2 usage or not in this build, 3 the node could not be reached."};
  Options o;
  define_commands(app, o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "ringctl: %s (see ringctl --help)\n", usage_error(app, e).c_str());
    return 2;
  }
  const std::string cmd = app.get_subcommands().front()->get_name();
  Client client;
  if (int rc = client_for(o, client); rc != 0) return rc;
  Call call;
  if (int rc = call_for(cmd, o, call); rc != 0) return rc;
  std::string error;
  auto resp = client.request(call, &error);
  if (!resp) {
    std::fprintf(stderr, "ringctl: cannot reach the node at %s: %s\n", o.host.c_str(), error.c_str());
    return 3;
  }
  return answer(cmd, o, client, *resp);
}
