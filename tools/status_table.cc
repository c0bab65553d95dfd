// status_table (tools/status_table.h): `ringctl status` as a table.
#include "tools/status_table.h"

#include <map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ringkeeper::tools {

namespace {

using json = nlohmann::json;

// nodetool's letters; a LEFT node (decommissioned, still running until stopped) is `L` as well,
// and is named again below the table.
char state_letter(const std::string& status) {
  if (status == "NORMAL") return 'N';
  if (status == "JOINING") return 'J';
  if (status == "LEAVING" || status == "LEFT") return 'L';
  if (status == "MOVING") return 'M';
  if (status == "REMOVED") return 'R';
  return '?';
}

char liveness_letter(const std::string& l) {
  if (l == "up") return 'U';
  if (l == "down") return 'D';
  if (l == "suspect") return 'S';
  return '?';
}

// A removed id or an expired LEFT entry: remembered, not a member of any datacenter. Nodes that
// predate the "tombstone" field mark them by status REMOVED alone.
bool is_tombstone(const json& n) { return n.value("tombstone", n.value("status", "") == "REMOVED"); }

// "12/16": owns 12 of the 16 tokens it claims (a joiner's claim not read from yet, or a lost
// claim being repaired). What it owns is `tokens` less those still pending.
std::string tokens_column(const json& n) {
  const size_t tokens = n.value("tokens", size_t{0}), pending = n.value("pending_tokens", size_t{0});
  const size_t owned = tokens > pending ? tokens - pending : 0, claimed = n.value("claimed_tokens", tokens);
  return std::to_string(owned) + (claimed > owned ? "/" + std::to_string(claimed) : "");
}

void datacenter(std::string& out, const std::string& dc, const std::vector<json>& nodes) {
  const std::string name = dc.empty() ? "(not gossiped yet)" : dc;
  out += fmt::format("\nDatacenter: {}\n{}\n", name, std::string(12 + name.size(), '='));
  out += "Status=Up/Down/Suspect/?=unknown\n|/ State=Normal/Leaving or left/Joining/Moving/R=removed\n";
  out += fmt::format("{:<3} {:<22} {:<7} {:<8} {:<11} {:<37} {}\n", "--", "Address", "Tokens", "Owns", "Generation",
                     "Host ID", "Rack");
  for (const json& n : nodes) {
    const std::string owns = fmt::format("{:.1f}%", 100.0 * n.value("ownership", 0.0));
    const std::string id = n.value("id", "") + (n.value("self", false) ? " *" : "");
    out += fmt::format("{}{}  {:<22} {:<7} {:<8} {:<11} {:<37} {}\n", liveness_letter(n.value("liveness", "")),
                       state_letter(n.value("status", "")), n.value("address", ""), tokens_column(n), owns,
                       generation_text(n.contains("generation") ? n["generation"] : json()), id, n.value("rack", ""));
  }
}

// "Left the cluster ...: ID, ..." and "Removed from the cluster ...: ID, ...", if any.
void departed(std::string& out, const json& nodes) {
  std::string left, removed;
  for (const json& n : nodes) {
    const std::string status = n.value("status", ""), id = n.value("id", "");
    if (status == "LEFT") left += (left.empty() ? "" : ", ") + id;
    if (status != "LEFT" && is_tombstone(n)) removed += (removed.empty() ? "" : ", ") + id;
  }
  if (!left.empty()) out += "Left the cluster (decommissioned, or gave up joining; they own nothing): " + left + "\n";
  if (!removed.empty()) {
    out += "Removed from the cluster (tombstones: these ids can never own anything again): " + removed + "\n";
  }
}

void changes(std::string& out, const json& nodes) {
  bool header = false;
  for (const json& n : nodes) {
    const json& change = n.contains("change") ? n["change"] : json();
    if (!change.is_object()) continue;
    if (!header) out += "\nChanges in flight:\n";
    header = true;
    const std::string waiting = joined(change.value("waiting_for", json::array()), ", ");
    out += fmt::format("  {} of {}: change {}, phase {}{}\n", change.value("kind", ""), n.value("id", ""),
                       change.value("id", ""), change.value("phase", ""),
                       waiting.empty() ? "" : "; waiting for " + waiting);
  }
  for (const json& n : nodes) {
    const json& st = n.contains("streaming") ? n["streaming"] : json();
    if (!st.is_object()) continue;
    out += fmt::format("  streaming on {}: {} of {} ranges, {} keys, {} bytes\n", n.value("id", ""),
                       st.value("ranges_done", json(0)).dump(), st.value("ranges", json(0)).dump(),
                       st.value("keys", json(0)).dump(), st.value("bytes", json(0)).dump());
  }
}

}  // namespace

std::string joined(const json& list, const char* sep) {
  std::string out;
  for (const json& v : list) out += (out.empty() ? "" : sep) + (v.is_string() ? v.get<std::string>() : v.dump());
  return out;
}

std::string generation_text(const json& g) { return g.is_number() ? std::to_string(g.get<uint64_t>()) : g.dump(); }

std::string status_table(const json& s) {
  std::string out = fmt::format("Cluster: {}   ring digest: {}   ring version: {}   converged: {}\n",
                                s.value("cluster", ""), s.value("ring_digest", ""),
                                s.contains("ring_version") ? s["ring_version"].dump() : "-",
                                s.value("converged", false) ? "yes" : "no");
  const json nodes = s.value("nodes", json::array());
  std::map<std::string, std::vector<json>> by_dc;
  for (const json& n : nodes) {
    if (!is_tombstone(n)) by_dc[n.value("dc", "")].push_back(n);
  }
  for (const auto& [dc, members] : by_dc) datacenter(out, dc, members);
  out += "\n(* the node that answered; Owns sums to the replication factor; Tokens N/M: owns N of the M it claims)\n";
  departed(out, nodes);
  changes(out, nodes);
  return out;
}

}  // namespace ringkeeper::tools
