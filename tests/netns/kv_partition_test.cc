// kvd across network namespaces: five real kvd processes, each on a host of its own on a private
// bridge (virtual_lan.h), split 3 | 2 with iptables DROP rules. Keys written with W=2 on the
// majority side during the split, then the heal: every acknowledged key reads back with R=2
// with its latest value (0 lost, 0 stale), and once anti-entropy has run every key is on exactly
// its natural replicas. Needs root, `ip netns` and iptables; otherwise SKIPPED with a loud line.
// The test's own clients run on threads that entered host 0's namespace (setns affects only the
// calling thread), so /internal/ routes see a member's address. Prints one `netns-kv: ...` line.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/cluster/harness.h"
#include "tests/kv/kv_client.h"
#include "tests/netns/virtual_lan.h"

namespace ringkeeper::testing {
namespace {

using namespace std::chrono_literals;

// Runs `fn` on a thread inside the network namespace `ns` (ip netns's /var/run/netns/NS); false
// when the namespace could not be entered.
bool in_namespace(const std::string& ns, const std::function<void()>& fn) {
  bool entered = false;
  std::thread t([&] {
    const int fd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    entered = setns(fd, CLONE_NEWNET) == 0;
    close(fd);
    if (entered) fn();
  });
  t.join();
  return entered;
}

struct KvLan {
  TempDir tmp;
  std::unique_ptr<VirtualLan> lan;
  std::string error;
  std::vector<std::unique_ptr<Ringd>> nodes;
  std::vector<std::string> ids;

  explicit KvLan(int hosts) : lan(VirtualLan::create(hosts, &error)), nodes(hosts), ids(hosts) {}
  std::string kv(int h) const { return lan->ip(h) + ":7280"; }
  std::string admin(int h) const { return lan->ip(h) + ":7180"; }
  void start(int h) {
    nodes[h] = std::make_unique<Ringd>(
        tmp.path() / ("h" + std::to_string(h)),
        std::vector<std::string>{"--listen", lan->ip(h) + ":7000", "--admin", admin(h), "--kv", kv(h), "--seeds",
                                 lan->ip(0) + ":7000", "--kv-anti-entropy-ms", "500"},
        lan->in_host(h), KVD_PATH);
  }
  std::optional<json> ctl(int h, const std::vector<std::string>& args) const {
    return ctl_json(admin(h), args, nullptr, lan->in_switch());
  }
  // Every host in `hosts` sees exactly `up` members up and NORMAL, and converged.
  bool formed(const std::vector<int>& hosts, size_t up) const {
    for (int h : hosts) {
      auto s = ctl(h, {"status"});
      if (!s || !s->value("converged", false)) return false;
      size_t n = 0;
      for (const json& m : (*s)["nodes"]) n += m["liveness"] == "up" && m["status"] == "NORMAL";
      if (n != up) return false;
    }
    return true;
  }
  std::string logs() const {
    std::string s;
    for (size_t h = 0; h < nodes.size(); ++h) {
      if (!nodes[h]) continue;
      const std::string log = nodes[h]->log();
      s += "--- h" + std::to_string(h) + " ---\n" + log.substr(log.size() > 2500 ? log.size() - 2500 : 0);
    }
    return s;
  }
};

// What was acknowledged per key, and values written after it that got a 503 (such a write may
// have landed on a replica and win later: docs/kvd.md — neither lost nor stale).
struct Ledger {
  std::map<std::string, std::string> acked;
  std::map<std::string, std::set<std::string>> unacked_after;
};

// PUTs `writes` with W=2 round-robin over `coordinators`, from inside host 0's namespace.
void write(KvLan& c, const std::vector<std::string>& coordinators,
           const std::vector<std::pair<std::string, std::string>>& writes, Ledger& ledger, size_t* refused) {
  ASSERT_TRUE(in_namespace(c.lan->host_namespace(0), [&] {
    std::vector<std::unique_ptr<KvClient>> clients;
    for (const std::string& a : coordinators) clients.push_back(std::make_unique<KvClient>(a, "", 5000));
    for (size_t i = 0; i < writes.size(); ++i) {
      const auto& [key, value] = writes[i];
      KvReply r = clients[i % clients.size()]->request("PUT", "/kv/" + encode_key(key) + "?w=2", value);
      if (r.status == 204) {
        ledger.acked[key] = value;
        ledger.unacked_after.erase(key);
      } else {
        ledger.unacked_after[key].insert(value);
        ++*refused;
      }
    }
  }));
}

// Every acknowledged key read with R=2 through every host; "lost N, stale M, failed K: examples".
std::string read_back(KvLan& c, const Ledger& ledger) {
  size_t lost = 0, stale = 0, failed = 0;
  std::string examples;
  in_namespace(c.lan->host_namespace(0), [&] {
    std::vector<std::unique_ptr<KvClient>> clients;
    for (size_t h = 0; h < c.nodes.size(); ++h) clients.push_back(std::make_unique<KvClient>(c.kv(static_cast<int>(h))));
    size_t i = 0;
    for (const auto& [key, value] : ledger.acked) {
      KvReply r = clients[i++ % clients.size()]->request("GET", "/kv/" + encode_key(key) + "?r=2");
      auto later = ledger.unacked_after.find(key);
      const bool newer_unacked = later != ledger.unacked_after.end() && later->second.count(r.body);
      const char* what = r.status == 404 ? "lost" : r.status != 200 ? "failed" : (r.body == value || newer_unacked) ? nullptr : "stale";
      if (!what) continue;
      (r.status == 404 ? lost : r.status != 200 ? failed : stale)++;
      if (examples.size() < 400) examples += key + ": " + what + " (" + std::to_string(r.status) + " " + r.body.substr(0, 30) + "); ";
    }
  });
  if (lost + stale + failed == 0) return "";
  return "lost " + std::to_string(lost) + ", stale " + std::to_string(stale) + ", failed " + std::to_string(failed) +
         ": " + examples;
}

// Empty when every range is held by RF=3 hosts with equal counts and roots and nobody holds a
// record outside its ranges (kvd's /internal/placement, asked from a member's namespace).
std::string placement_problems(KvLan& c) {
  std::string problems;
  in_namespace(c.lan->host_namespace(0), [&] {
    std::map<std::string, std::vector<std::string>> holders;
    std::set<uint64_t> versions;
    for (size_t h = 0; h < c.nodes.size(); ++h) {
      KvClient k(c.kv(static_cast<int>(h)));
      json j = json::parse(k.request("GET", "/internal/placement").body, nullptr, false);
      if (!j.is_object() || j["pending"].get<bool>()) {
        problems = "h" + std::to_string(h) + ": no placement or a change in flight";
        return;
      }
      versions.insert(j["ring_version"].get<uint64_t>());
      if (j["outside"].get<uint64_t>() != 0) problems += "h" + std::to_string(h) + " holds " + j["outside"].dump() + " outside; ";
      for (const json& r : j["ranges"]) {
        holders[r["start"].get<std::string>() + ".." + r["end"].get<std::string>()].push_back(
            r["keys"].dump() + "/" + r["root"].get<std::string>());
      }
    }
    if (versions.size() != 1) problems += "ring versions differ; ";
    for (const auto& [range, held] : holders) {
      if (held.size() != 3 || std::set<std::string>(held.begin(), held.end()).size() != 1) {
        if (problems.size() < 1500) problems += "range " + range + " held " + std::to_string(held.size()) + "x unequally; ";
      }
    }
  });
  return problems;
}

TEST(KvPartitionTest, ASplitThreeTwoLosesNoAcknowledgedWriteAndHealsToExactPlacement) {
  if (auto why = VirtualLan::unavailable_reason()) {
    std::fprintf(stderr, "kv_partition_test: SKIPPED, the kvd partition test did not run: %s\n", why->c_str());
    GTEST_SKIP() << "network-namespace tests skipped: " << *why;
  }
  const uint64_t seed = std::random_device{}();
  std::fprintf(stderr, "kv_partition_test: seed %llu\n", static_cast<unsigned long long>(seed));
  KvLan c(5);
  ASSERT_TRUE(c.lan) << c.error;
  for (int h = 0; h < 5; ++h) c.start(h);
  for (int h = 0; h < 5; ++h) ASSERT_TRUE(c.nodes[h]->wait_serving(30s)) << c.logs();
  const std::vector<int> all = {0, 1, 2, 3, 4}, majority = {0, 1, 2}, minority = {3, 4};
  ASSERT_TRUE(wait_until([&] { return c.formed(all, 5); }, 60s)) << "never formed\n" << c.logs();

  Ledger ledger;
  size_t refused = 0;
  std::vector<std::pair<std::string, std::string>> before, during;
  for (int i = 0; i < 600; ++i) before.emplace_back("k" + std::to_string(i) + "-" + std::to_string(seed % 997), "v1-" + std::to_string(i));
  write(c, {c.kv(0), c.kv(1), c.kv(2), c.kv(3), c.kv(4)}, before, ledger, &refused);
  ASSERT_EQ(refused, 0u) << "writes refused before the split";

  ASSERT_TRUE(c.lan->cut(majority, minority)) << "iptables failed";
  ASSERT_TRUE(wait_until([&] { return c.formed(majority, 3); }, 30s)) << "the majority never saw the minority down\n" << c.logs();
  // Half the keys overwritten, and new ones, through the majority side only.
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 600; i += 2) during.emplace_back(before[i].first, "v2-" + std::to_string(rng() % 100000));
  for (int i = 0; i < 300; ++i) during.emplace_back("new" + std::to_string(i) + "-" + std::to_string(seed % 997), "n-" + std::to_string(i));
  write(c, {c.kv(0), c.kv(1), c.kv(2)}, during, ledger, &refused);
  const size_t acked_during = during.size() - refused;
  EXPECT_GT(acked_during, during.size() / 4) << "almost nothing acknowledged on the majority side";

  ASSERT_TRUE(c.lan->heal()) << "iptables failed";
  const auto healed = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return c.formed(all, 5); }, 60s)) << "not converged after the heal\n" << c.logs();
  const std::string read = read_back(c, ledger);
  EXPECT_EQ(read, "") << "after the heal";
  const bool exact = wait_until([&] { return placement_problems(c).empty(); }, 60s);
  const double converge_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - healed).count();
  std::printf("netns-kv: split 3|2 keys=%zu acked_during_split=%zu refused_during_split=%zu read_problems=%s "
              "heal_to_exact_placement_s=%.1f\n",
              ledger.acked.size(), acked_during, refused, read.empty() ? "none" : "some", converge_s);
  std::fflush(stdout);
  EXPECT_TRUE(exact) << "not every key on exactly its natural replicas: " << placement_problems(c) << "\n" << c.logs();
}

}  // namespace
}  // namespace ringkeeper::testing
