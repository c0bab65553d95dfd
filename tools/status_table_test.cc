// ringctl status's table (tools/status_table.h), from the admin API's JSON.
#include "tools/status_table.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ringkeeper::tools {
namespace {

using json = nlohmann::json;

json member(const std::string& id, const std::string& status, const std::string& liveness, size_t tokens) {
  return json{{"id", id},         {"self", false},        {"address", "127.0.0.1:7000"}, {"status", status},
              {"liveness", liveness}, {"tokens", tokens},  {"pending_tokens", 0},         {"claimed_tokens", tokens},
              {"ownership", 0.5}, {"dc", "dc1"},           {"rack", "rack1"},             {"generation", 1795646186},
              {"change", nullptr}, {"tombstone", false}};
}

// The lines of `text` that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
    at = end + 1;
  }
  return out;
}

// A joiner whose claim reads do not use yet owns none of it: "0/16", as docs/operations.md shows.
TEST(StatusTableTest, AJoinerOwnsNoneOfItsPendingClaim) {
  json joiner = member("3c0c5b1e-7d63-4f0e-a1c2-5b8fd0e6e0aa", "JOINING", "up", 16);
  joiner["pending_tokens"] = 16;
  joiner["ownership"] = 0.0;
  json repairing = member("081b91f6-f07c-469d-b2cd-08491dbd6021", "NORMAL", "up", 12);
  repairing["claimed_tokens"] = 16;
  const std::string table = status_table(json{{"cluster", "c"}, {"nodes", {joiner, repairing}}});
  const auto uj = lines_starting(table, "UJ");
  ASSERT_EQ(uj.size(), 1u) << table;
  EXPECT_NE(uj[0].find(" 0/16 "), std::string::npos) << uj[0];
  EXPECT_NE(uj[0].find("0.0%"), std::string::npos) << uj[0];
  const auto un = lines_starting(table, "UN");
  ASSERT_EQ(un.size(), 1u) << table;
  EXPECT_NE(un[0].find(" 12/16 "), std::string::npos) << un[0];
}

// Tombstones are no datacenter's members: they are named in a trailing line (removed ids) or with
// the nodes that left (expired LEFT entries), never a row under an empty-named datacenter. A node
// that predates the "tombstone" field marks them by status REMOVED alone.
TEST(StatusTableTest, TombstonesAreNamedBelowTheTablesNotInAnEmptyDatacenter) {
  json removed = member("65a863eb-6b92-4485-9907-6d22bcbc3553", "REMOVED", "unknown", 0);
  removed["tombstone"] = true;
  removed["dc"] = removed["rack"] = removed["address"] = "";
  removed["generation"] = 0;
  json old_removed = member("d3d73792-dacd-4192-9926-46c8bd38eff1", "REMOVED", "down", 0);
  old_removed.erase("tombstone");
  old_removed["dc"] = "";
  old_removed["generation"] = 18446744073709551615ull;
  json expired = member("11111111-2222-4333-8444-555555555555", "LEFT", "unknown", 0);
  expired["tombstone"] = true;
  expired["dc"] = "";
  json left = member("22222222-2222-4333-8444-555555555555", "LEFT", "up", 0);
  json normal = member("081b91f6-f07c-469d-b2cd-08491dbd6021", "NORMAL", "up", 16);
  const std::string table = status_table(json{{"cluster", "c"}, {"nodes", {removed, old_removed, expired, left, normal}}});
  EXPECT_EQ(table.find("Datacenter: \n"), std::string::npos) << table;
  EXPECT_EQ(lines_starting(table, "Datacenter:").size(), 1u) << table;
  EXPECT_EQ(lines_starting(table, "?R").size() + lines_starting(table, "DR").size(), 0u) << table;
  const auto gone = lines_starting(table, "Removed from the cluster");
  ASSERT_EQ(gone.size(), 1u) << table;
  EXPECT_NE(gone[0].find("65a863eb-6b92-4485-9907-6d22bcbc3553, d3d73792-dacd-4192-9926-46c8bd38eff1"),
            std::string::npos)
      << gone[0];
  const auto departed = lines_starting(table, "Left the cluster");
  ASSERT_EQ(departed.size(), 1u) << table;
  EXPECT_NE(departed[0].find("11111111-2222-4333-8444-555555555555, 22222222-2222-4333-8444-555555555555"),
            std::string::npos)
      << departed[0];
  EXPECT_EQ(lines_starting(table, "UL").size(), 1u) << "a running LEFT node keeps its row";
  EXPECT_EQ(table.find("18446744073709551615"), std::string::npos);
}

}  // namespace
}  // namespace ringkeeper::tools
