// ringctl: the operator CLI. Talks to one node's admin API (--host, default 127.0.0.1:7180).
// Exit codes: 0 done (health: converged), 1 failed or refused (health: not converged),
// 2 usage or not in this build, 3 the node could not be reached.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ringkeeper/version.h"
#include "tools/http_client.h"

namespace {

using json = nlohmann::json;

struct Call {
  std::string method = "GET";
  std::string target;
  std::string body;
};

char state_letter(const std::string& status) {
  if (status == "NORMAL") return 'N';
  if (status == "JOINING") return 'J';
  if (status == "LEAVING") return 'L';
  if (status == "MOVING") return 'M';
  if (status == "LEFT") return 'X';
  if (status == "REMOVED") return 'R';
  return '?';
}

char liveness_letter(const std::string& l) {
  if (l == "up") return 'U';
  if (l == "down") return 'D';
  if (l == "suspect") return 'S';
  return '?';
}

std::string short_gen(const json& g) { return g.is_number() ? std::to_string(g.get<uint64_t>()) : g.dump(); }

void print_status(const json& s) {
  std::printf("Cluster: %s   ring digest: %s   converged: %s\n", s.value("cluster", "").c_str(),
              s.value("ring_digest", "").c_str(), s.value("converged", false) ? "yes" : "no");
  std::map<std::string, std::vector<json>> by_dc;
  for (const json& n : s["nodes"]) by_dc[n.value("dc", "")].push_back(n);
  for (auto& [dc, nodes] : by_dc) {
    std::printf("\nDatacenter: %s\n%s\n", dc.c_str(), std::string(12 + dc.size(), '=').c_str());
    std::printf("Status=Up/Down/Suspect/?=unknown\n|/ State=Normal/Leaving/Joining/Moving/X=left/R=removed\n");
    std::printf("%-3s %-22s %-7s %-8s %-11s %-37s %s\n", "--", "Address", "Tokens", "Owns", "Generation",
                "Host ID", "Rack");
    for (const json& n : nodes) {
      std::string owns = fmt::format("{:.1f}%", 100.0 * n.value("ownership", 0.0));
      std::string id = n.value("id", "") + (n.value("self", false) ? " *" : "");
      // "12/16": owns 12 of the 16 tokens it claims (a lost claim being repaired).
      const size_t owned = n.value("tokens", size_t{0}), claimed = n.value("claimed_tokens", owned);
      std::string tokens = std::to_string(owned) + (claimed > owned ? "/" + std::to_string(claimed) : "");
      std::printf("%c%c  %-22s %-7s %-8s %-11s %-37s %s\n", liveness_letter(n.value("liveness", "")),
                  state_letter(n.value("status", "")), n.value("address", "").c_str(), tokens.c_str(), owns.c_str(),
                  short_gen(n["generation"]).c_str(), id.c_str(), n.value("rack", "").c_str());
    }
  }
  std::printf("\n(* the node that answered; Owns sums to the replication factor; Tokens N/M: owns N of the M it "
              "claims)\n");
  for (const json& n : s["nodes"]) {
    const json& change = n.contains("change") ? n["change"] : json();
    if (!change.is_object()) continue;
    std::string waiting;
    for (const json& w : change.value("waiting_for", json::array())) waiting += (waiting.empty() ? "" : ", ") + w.get<std::string>();
    std::printf("%s %s: %s, phase %s%s\n", n.value("id", "").c_str(), change.value("kind", "").c_str(),
                change.value("id", "").c_str(), change.value("phase", "").c_str(),
                waiting.empty() ? "" : ("; waiting for " + waiting).c_str());
  }
}

void print_human(const std::string& cmd, const json& j) {
  if (cmd == "status") return print_status(j);
  if (cmd == "info") {
    for (const char* k : {"id", "cluster", "cluster_id", "address", "admin", "generation", "data_dir", "version"}) {
      const json& v = j.contains(k) ? j[k] : json();
      std::printf("%-11s: %s\n", k, v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
    }
    return;
  }
  if (cmd == "ring") {
    std::printf("ring digest %s, %zu tokens\n%-22s %s\n", j.value("ring_digest", "").c_str(), j["tokens"].size(),
                "Token", "Node");
    for (const json& t : j["tokens"]) std::printf("%-22s %s\n", t.value("token", "").c_str(), t.value("node", "").c_str());
    return;
  }
  if (cmd == "owners") {
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
    return;
  }
  if (cmd == "health") {
    std::printf("converged: %s   live: %d   down: %d\n", j.value("converged", false) ? "yes" : "no",
                j.value("live", 0), j.value("down", 0));
    for (auto& [d, n] : j["ring_digests"].items()) {
      std::printf("  ring digest %s on %d live nodes\n", d.empty() ? "(none gossiped yet)" : d.c_str(), n.get<int>());
    }
    return;
  }
  if (cmd == "gossipinfo") {
    for (const json& n : j["nodes"]) {
      std::printf("%s  generation %s  version %s\n", n.value("id", "").c_str(), short_gen(n["generation"]).c_str(),
                  n["version"].dump().c_str());
      for (auto& [k, v] : n["values"].items()) {
        std::printf("  %-12s %s  (v%s)\n", k.c_str(), v.value("value", "").c_str(), v["version"].dump().c_str());
      }
    }
    return;
  }
  if (cmd == "move") {
    std::printf("announced %zu new tokens for node %s:", j["tokens"].size(), j.value("id", "").c_str());
    for (const json& t : j["tokens"]) std::printf(" %s", t.get<std::string>().c_str());
    std::printf("\n(they take effect on each node as gossip delivers them; `ringctl health` shows when all agree)\n");
    return;
  }
  if (cmd == "removenode") {
    std::printf("removed %s: its REMOVED tombstone is gossiped; it owns nothing from now on\n", j.value("removed", "").c_str());
    return;
  }
  std::printf("%s\n", j.dump(2).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringctl: inspect and operate a ringkeeper cluster through one node's admin API.\n"
               "Exit codes: 0 done (health: converged), 1 failed or refused (health: not converged),\n"
               "2 usage or not in this build, 3 the node could not be reached."};
  std::string host = "127.0.0.1:7180";
  bool as_json = false;
  std::string token_file;
  app.add_option("--host", host, "the node's admin address HOST:PORT")->capture_default_str();
  app.add_flag("--json", as_json, "print the node's JSON answer as is");
  app.add_option("--admin-token-file", token_file, "file with the admin token (state-changing calls from other hosts)");
  app.set_version_flag("--version", std::string("ringctl ") + ringkeeper::kVersion);
  app.require_subcommand(1);
  app.add_subcommand("info", "the answering node: id, cluster, addresses, generation, data dir, version");
  app.add_subcommand("status", "every member: liveness, status, ownership, tokens, dc, rack, id");
  app.add_subcommand("ring", "the ring's tokens and their owners, sorted by token");
  std::string key;
  app.add_subcommand("owners", "replicas of KEY, the reachable preference list, pending owners")
      ->add_option("KEY", key, "the key")->required();
  app.add_subcommand("gossipinfo", "every member's gossiped values and versions");
  app.add_subcommand("health", "is the cluster converged? (exit 0 yes, 1 no)");
  std::string tokens;
  app.add_subcommand("move", "announce new tokens for the answering node")
      ->add_option("--tokens", tokens, "T1,T2,... (unsigned 64-bit decimals)")->required();
  bool dry_run = false;
  app.add_subcommand("rebalance", "(not in this build) move tokens toward balance")->add_flag("--dry-run", dry_run);
  app.add_subcommand("decommission", "(not in this build) stream away and leave the ring");
  std::string node_id;
  app.add_subcommand("removenode", "write the REMOVED tombstone for a dead node")
      ->add_option("NODE_ID", node_id, "the dead node's id")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "ringctl: %s (see ringctl --help)\n", e.what());
    return 2;
  }
  const std::string cmd = app.get_subcommands().front()->get_name();
  Call call;
  if (cmd == "owners") {
    call.target = "/v1/owners?key=" + ringkeeper::tools::url_encode(key);
  } else if (cmd == "move") {
    json list = json::array();
    std::stringstream in(tokens);
    std::string t;
    while (std::getline(in, t, ',')) {
      if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos) {
        std::fprintf(stderr, "ringctl: --tokens: not an unsigned decimal token: '%s'\n", t.c_str());
        return 2;
      }
      list.push_back(t);
    }
    call = {"POST", "/v1/move", json{{"tokens", list}}.dump()};
  } else if (cmd == "removenode") {
    call = {"POST", "/v1/removenode", json{{"node", node_id}}.dump()};
  } else if (cmd == "rebalance") {
    call = {"POST", std::string("/v1/rebalance") + (dry_run ? "?dry_run=1" : ""), "{}"};
  } else if (cmd == "decommission") {
    call = {"POST", "/v1/decommission", "{}"};
  } else {
    call.target = "/v1/" + cmd;
  }
  std::string auth;
  if (!token_file.empty()) {
    std::ifstream f(token_file);
    std::string token;
    if (!f || !(f >> token)) {
      std::fprintf(stderr, "ringctl: --admin-token-file: cannot read %s\n", token_file.c_str());
      return 2;
    }
    auth = "Bearer " + token;
  }
  std::string error;
  auto resp = ringkeeper::tools::http_request(host, call.method, call.target, call.body, &error, 10000, auth);
  if (!resp) {
    std::fprintf(stderr, "ringctl: cannot reach the node at %s: %s\n", host.c_str(), error.c_str());
    return 3;
  }
  json j = json::parse(resp->body, nullptr, false);
  if (j.is_discarded()) {
    std::fprintf(stderr, "ringctl: %s answered HTTP %d with something that is not JSON\n", host.c_str(), resp->status);
    return 1;
  }
  if (resp->status != 200) {
    const std::string msg = j.value("error", resp->body);
    if (as_json) std::printf("%s\n", j.dump().c_str());
    std::fprintf(stderr, "ringctl: %s\n", msg.c_str());
    return resp->status == 501 || resp->status == 404 ? 2 : 1;
  }
  if (as_json) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    print_human(cmd, j);
  }
  if (cmd == "health") return j.value("converged", false) ? 0 : 1;
  return 0;
}
