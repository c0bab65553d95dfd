// kvd on real processes: real RocksDB, real sockets on loopback, ports picked at run time.
// Keys are written with W=2, the cluster changes (a join, a move, a rebalance, a decommission,
// kill -9 and restart, removenode of a killed node), and every key is read back with R=2: none
// lost, none stale. Also: quorum failures answer 503 naming the replicas, bad input gets a
// clear 4xx and a counter while the node keeps serving, records outside a node's ranges reach
// their replicas before they are collected, and with a gossip keyring /internal/ takes only
// requests signed with the cluster key, across a key rotation.
//
// RINGKEEPER_KV_KEYS sets the number of keys (default 10000); the seed of the random parts is
// printed when a test fails.
#include <netinet/in.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "tests/cluster/harness.h"
#include "tests/kv/kv_client.h"

namespace ringkeeper::testing {
namespace {

using namespace std::chrono_literals;

size_t key_count() {
  const char* env = std::getenv("RINGKEEPER_KV_KEYS");
  return env ? std::strtoul(env, nullptr, 10) : 10000;
}

struct KvCluster {
  TempDir tmp;
  std::vector<std::unique_ptr<Ringd>> nodes;
  std::vector<uint16_t> ports;    // fixed gossip ports (stable across restarts)
  std::vector<std::string> kv;    // kv addresses, from addresses.json
  std::vector<std::string> ids;
  std::vector<std::string> flags;

  // Anti-entropy runs every 500 ms and the outside collector every 300 ms in these tests, so
  // that "every key ends on exactly its replicas" is reached within seconds of a change.
  static std::vector<std::string> default_flags() {
    return {"--kv-anti-entropy-ms", "500", "--kv-collect-outside-ms", "300"};
  }
  explicit KvCluster(int n, std::vector<std::string> extra = default_flags()) : flags(std::move(extra)) {
    for (int i = 0; i < n; ++i) add();
  }
  std::string seed() const { return "127.0.0.1:" + std::to_string(ports[0]); }
  fs::path dir(int i) const { return tmp.path() / ("n" + std::to_string(i)); }
  int add(const std::vector<std::string>& extra = {}) {
    ports.push_back(free_port());
    kv.emplace_back();
    ids.emplace_back();
    nodes.emplace_back();
    const int i = static_cast<int>(nodes.size()) - 1;
    start(i, extra);
    return i;
  }
  void start(int i, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:" + std::to_string(ports[i]), "--admin", "127.0.0.1:0",
                                     "--kv", "127.0.0.1:0", "--seeds", seed()};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), extra.begin(), extra.end());
    nodes[i] = std::make_unique<Ringd>(dir(i), args, CommandPrefix{}, KVD_PATH);
  }
  bool serving(int i) {
    if (!nodes[i]->wait_serving()) return false;
    std::ifstream f(dir(i) / "addresses.json");
    json j = json::parse(f, nullptr, false);
    if (j.is_discarded() || !j.contains("kv")) return false;
    kv[i] = j["kv"];
    ids[i] = ctl_json(nodes[i]->admin(), {"info"})->value("id", "");
    return !kv[i].empty() && !ids[i].empty();
  }
  bool serving() {
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (!serving(static_cast<int>(i))) return false;
    }
    return true;
  }
  // Every running node converged, seeing `expect_up` members up and NORMAL.
  bool formed(size_t expect_up) {
    for (auto& n : nodes) {
      if (!n || !n->running()) continue;
      auto s = ctl_json(n->admin(), {"status"});
      if (!s || !s->value("converged", false)) return false;
      size_t up = 0;
      for (const json& m : (*s)["nodes"]) {
        if (m["liveness"] == "up" && m["status"] == "NORMAL") ++up;
      }
      if (up != expect_up) return false;
    }
    return true;
  }
  std::string logs() const {
    std::string out;
    for (const auto& n : nodes) {
      if (n) out += "---- " + n->dir().string() + "\n" + n->log().substr(n->log().size() > 3000 ? n->log().size() - 3000 : 0);
    }
    return out;
  }
  uint64_t metric(int i, const std::string& line_prefix) {
    KvClient c(kv[i]);
    const std::string text = c.request("GET", "/metrics").body;
    const size_t at = text.find("\n" + line_prefix + " ");
    if (at == std::string::npos) return UINT64_MAX;
    return std::strtoull(text.c_str() + at + line_prefix.size() + 2, nullptr, 10);
  }
};

// The keys and the values last acknowledged for them.
struct Dataset {
  std::map<std::string, std::string> latest;
};

// Writes `keys` (key → value) with W=2, spread over the given coordinators, 4 connections at a
// time; returns how many were not acknowledged with 204.
size_t write_all(const std::vector<std::string>& coordinators, const std::vector<std::pair<std::string, std::string>>& kvs) {
  std::atomic<size_t> failed{0};
  std::vector<std::thread> threads;
  const size_t lanes = 4;
  for (size_t lane = 0; lane < lanes; ++lane) {
    threads.emplace_back([&, lane] {
      KvClient c(coordinators[lane % coordinators.size()]);
      for (size_t i = lane; i < kvs.size(); i += lanes) {
        KvReply r = c.request("PUT", "/kv/" + encode_key(kvs[i].first) + "?w=2", kvs[i].second);
        if (r.status != 204 || r.timestamp.empty()) failed++;
      }
    });
  }
  for (auto& t : threads) t.join();
  return failed;
}

struct Verdict {
  size_t lost = 0, stale = 0, failed = 0;
  std::string examples;
  bool clean() const { return lost == 0 && stale == 0 && failed == 0; }
};

Verdict read_all(const std::vector<std::string>& coordinators, const Dataset& data) {
  std::vector<std::pair<std::string, std::string>> items(data.latest.begin(), data.latest.end());
  Verdict v;
  std::mutex mu;
  std::vector<std::thread> threads;
  const size_t lanes = 4;
  for (size_t lane = 0; lane < lanes; ++lane) {
    threads.emplace_back([&, lane] {
      KvClient c(coordinators[lane % coordinators.size()]);
      for (size_t i = lane; i < items.size(); i += lanes) {
        KvReply r = c.request("GET", "/kv/" + encode_key(items[i].first) + "?r=2");
        std::lock_guard lock(mu);
        auto note = [&](const std::string& what) {
          if (v.examples.size() < 600) v.examples += items[i].first + ": " + what + "; ";
        };
        if (r.status == 404) {
          v.lost++;
          note("lost");
        } else if (r.status == 200 && r.body != items[i].second) {
          v.stale++;
          note("stale: " + r.body.substr(0, 40));
        } else if (r.status != 200) {
          v.failed++;
          note("status " + std::to_string(r.status) + " " + r.body.substr(0, 200) + r.error);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return v;
}

// n keys written, then a tenth of them overwritten: reads must see the second value.
Dataset write_dataset(const std::vector<std::string>& coordinators, size_t n, uint64_t seed) {
  Dataset d;
  std::vector<std::pair<std::string, std::string>> first, second;
  for (size_t i = 0; i < n; ++i) {
    const std::string key = "key/" + std::to_string(i) + "/" + std::to_string(seed % 1000);
    first.emplace_back(key, "v1-" + std::to_string(i) + "-" + std::to_string(seed));
  }
  EXPECT_EQ(write_all(coordinators, first), 0u);
  for (size_t i = 0; i < n; i += 10) second.emplace_back(first[i].first, "v2-" + std::to_string(i));
  EXPECT_EQ(write_all(coordinators, second), 0u);
  for (auto& [k, v] : first) d.latest[k] = v;
  for (auto& [k, v] : second) d.latest[k] = v;
  return d;
}

std::vector<std::string> running_kv(KvCluster& c) {
  std::vector<std::string> out;
  for (size_t i = 0; i < c.nodes.size(); ++i) {
    if (c.nodes[i] && c.nodes[i]->running()) out.push_back(c.kv[i]);
  }
  return out;
}

#define EXPECT_ALL_KEYS(c, data, when)                                                              \
  do {                                                                                              \
    const Verdict v = read_all(running_kv(c), data);                                                \
    EXPECT_TRUE(v.clean()) << (when) << ": lost " << v.lost << ", stale " << v.stale << ", failed " \
                           << v.failed << " of " << (data).latest.size() << ": " << v.examples;    \
  } while (0)

// At least `min_holders` natural replicas of each of `sample` keys (as node `viewer` routes them;
// 0: all of them) hold the key's latest value — read straight from each replica's /internal/
// route (the test runs on a member's address), before any read could repair it. Empty when they
// do; else what is missing where. Keys written before a change, all replicas up, must be on
// every replica after it (streaming); keys written during one, on at least W.
std::string check_replicas(KvCluster& c, const Dataset& data, int viewer, size_t sample, uint64_t seed,
                           size_t min_holders = 0) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : data.latest) keys.push_back(k);
  std::mt19937_64 rng(seed);
  std::shuffle(keys.begin(), keys.end(), rng);
  keys.resize(std::min(sample, keys.size()));
  std::string misses;
  for (const std::string& key : keys) {
    auto owners = ctl_json(c.nodes[viewer]->admin(), {"owners", key});
    if (!owners || !owners->contains("replicas")) return "no owners answer for " + key;
    std::string key_misses;
    size_t holders = 0;
    for (const json& id : (*owners)["replicas"]) {
      const auto at = std::find(c.ids.begin(), c.ids.end(), id.get<std::string>());
      if (at == c.ids.end()) return "unknown replica " + id.dump();
      KvClient replica(c.kv[static_cast<size_t>(at - c.ids.begin())]);
      KvReply r = replica.request("GET", "/internal/kv/" + encode_key(key), "", "X-Ringkeeper-Ring-Version",
                                  std::to_string(UINT64_MAX));
      if (r.status == 200 && r.body == data.latest.at(key)) {
        ++holders;
      } else {
        key_misses += key + " on " + id.get<std::string>() + ": " + std::to_string(r.status) + " " + r.body.substr(0, 40) + "; ";
      }
    }
    if (holders < (min_holders ? min_holders : (*owners)["replicas"].size())) misses += key_misses;
  }
  return misses;
}

// Empty when every key is on exactly its natural replicas, as the running nodes report it on
// /internal/placement: all route with the same ring and no change in flight, each range of the
// ring is held by `rf` nodes with equal record counts and hash-tree roots (no replica short),
// and no node holds a record outside the ranges it replicates (none left on released nodes).
std::string placement_problems(KvCluster& c, size_t rf = 3) {
  std::map<std::string, std::vector<std::string>> holders;  // "(s, e]" → "id: keys/root" per node
  std::string problems;
  std::optional<uint64_t> version;
  for (size_t i = 0; i < c.nodes.size(); ++i) {
    if (!c.nodes[i] || !c.nodes[i]->running()) continue;
    KvClient k(c.kv[i]);
    KvReply r = k.request("GET", "/internal/placement");
    json j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || !j.is_object()) return "node " + std::to_string(i) + ": placement " + std::to_string(r.status);
    if (j["pending"].get<bool>()) return "node " + std::to_string(i) + ": a change in flight";
    if (version && *version != j["ring_version"].get<uint64_t>()) return "ring versions differ";
    version = j["ring_version"].get<uint64_t>();
    if (j["outside"].get<uint64_t>() != 0) {
      problems += "node " + std::to_string(i) + " holds " + j["outside"].dump() + " records outside its ranges; ";
    }
    for (const json& range : j["ranges"]) {
      holders["(" + range["start"].get<std::string>() + ", " + range["end"].get<std::string>() + "]"].push_back(
          std::to_string(i) + ": " + range["keys"].dump() + "/" + range["root"].get<std::string>());
    }
  }
  for (const auto& [range, held] : holders) {
    auto content = [](const std::string& h) { return h.substr(h.find(':')); };
    const bool equal = std::all_of(held.begin(), held.end(), [&](const std::string& h) { return content(h) == content(held[0]); });
    if (held.size() != rf || !equal) {
      std::string list;
      for (const std::string& h : held) list += h + " ";
      if (problems.size() < 2000) problems += "range " + range + " held by " + list + "; ";
    }
  }
  return problems;
}

// How many records node i holds outside the ranges it replicates (its /internal/placement).
uint64_t outside_records(KvCluster& c, int i) {
  KvClient k(c.kv[i]);
  json j = json::parse(k.request("GET", "/internal/placement").body, nullptr, false);
  return j.is_object() ? j["outside"].get<uint64_t>() : 0;
}

#define EXPECT_EXACT_PLACEMENT(c, when)                                                                    \
  do {                                                                                                     \
    EXPECT_TRUE(wait_until([&] { return placement_problems(c).empty(); }, 30s))                            \
        << (when) << ": not every key is on exactly its natural replicas: " << placement_problems(c);      \
  } while (0)

// Writers that keep writing fresh keys through every node until stopped; what was acknowledged.
struct BackgroundWriters {
  std::atomic<bool> stop{false};
  std::mutex mu;
  Dataset acked;
  size_t refused = 0;
  std::vector<std::thread> threads;
  explicit BackgroundWriters(const std::vector<std::string>& coordinators) {
    for (size_t lane = 0; lane < coordinators.size(); ++lane) {
      threads.emplace_back([this, lane, address = coordinators[lane]] {
        KvClient c(address);
        for (size_t i = 0; !stop; ++i) {
          const std::string key = "live/" + std::to_string(lane) + "/" + std::to_string(i);
          const std::string value = "w-" + std::to_string(i);
          KvReply r = c.request("PUT", "/kv/" + encode_key(key) + "?w=2", value);
          std::lock_guard lock(mu);
          if (r.status == 204) {
            acked.latest[key] = value;
          } else {
            ++refused;
          }
        }
      });
    }
  }
  void finish() {
    stop = true;
    for (auto& t : threads) t.join();
  }
};

uint64_t test_seed() {
  static const uint64_t seed = std::random_device{}();
  return seed;
}

class KvClusterTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "seed %llu\n", static_cast<unsigned long long>(test_seed()));
  }
};

TEST_F(KvClusterTest, KeysSurviveAJoinAMoveARebalanceAndADecommission) {
  KvCluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s)) << c.logs();
  const auto t0 = std::chrono::steady_clock::now();
  Dataset data = write_dataset(running_kv(c), key_count(), test_seed());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "wrote %zu keys (+%zu overwrites) in %lld ms\n", data.latest.size(), data.latest.size() / 10,
               static_cast<long long>(ms));
  EXPECT_ALL_KEYS(c, data, "after writing");

  const int joiner = c.add();
  ASSERT_TRUE(c.serving(joiner)) << c.logs();
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 60s)) << c.logs();
  EXPECT_EQ(check_replicas(c, data, 0, 60, test_seed()), "") << "after a join";
  EXPECT_ALL_KEYS(c, data, "after a join");
  EXPECT_EXACT_PLACEMENT(c, "after a join");

  std::mt19937_64 rng(test_seed());
  std::string tokens;
  for (int i = 0; i < 16; ++i) tokens += (i ? "," : "") + std::to_string(rng());
  int rc = -1;
  auto moved = ctl_json(c.nodes[1]->admin(), {"move", "--tokens", tokens, "--wait"}, &rc);
  ASSERT_EQ(rc, 0) << (moved ? moved->dump() : "no answer") << c.logs();
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s));
  EXPECT_EQ(check_replicas(c, data, 0, 60, test_seed() + 1), "") << "after a move";
  EXPECT_ALL_KEYS(c, data, "after a move");
  EXPECT_EXACT_PLACEMENT(c, "after a move");

  // A rebalance with writers running through every node: no acknowledged write is lost.
  BackgroundWriters writers(running_kv(c));
  auto rebalanced = ctl_json(c.nodes[1]->admin(), {"rebalance", "--wait"}, &rc);
  writers.finish();
  ASSERT_EQ(rc, 0) << (rebalanced ? rebalanced->dump() : "no answer");
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s));
  std::fprintf(stderr, "during the rebalance: %zu writes acknowledged, %zu refused\n", writers.acked.latest.size(),
               writers.refused);
  EXPECT_GT(writers.acked.latest.size(), 100u);
  EXPECT_EQ(check_replicas(c, data, 0, 60, test_seed() + 2), "") << "after a rebalance";
  EXPECT_EQ(check_replicas(c, writers.acked, 0, 60, test_seed() + 3, 2), "") << "written during a rebalance";
  EXPECT_ALL_KEYS(c, data, "after a rebalance");
  EXPECT_ALL_KEYS(c, writers.acked, "written during a rebalance");
  EXPECT_EXACT_PLACEMENT(c, "after a rebalance");

  auto left = ctl_json(c.nodes[2]->admin(), {"decommission", "--wait"}, &rc);
  ASSERT_EQ(rc, 0) << (left ? left->dump() : "no answer");
  {
    // LEFT, it coordinates nothing: no barrier waits for it, so its view of later changes lags.
    KvClient gone(c.kv[2]);
    KvReply refused = gone.request("GET", "/kv/" + encode_key(data.latest.begin()->first));
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_NE(refused.body.find("left the cluster"), std::string::npos) << refused.body;
    EXPECT_EQ(c.metric(2, "kv_rejected_total{reason=\"node_left\"}"), 1u);
  }
  ASSERT_EQ(c.nodes[2]->terminate(), 0);
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s)) << c.logs();
  EXPECT_EQ(check_replicas(c, data, 0, 60, test_seed() + 4), "") << "after a decommission";
  EXPECT_ALL_KEYS(c, data, "after a decommission");
  EXPECT_ALL_KEYS(c, writers.acked, "written during the rebalance, after a decommission");
  EXPECT_EXACT_PLACEMENT(c, "after a decommission");
  uint64_t streamed = 0;
  for (int i : {0, 1, 3}) streamed += c.metric(i, "kv_streamed_keys_total");
  EXPECT_GT(streamed, 0u) << "the changes streamed nothing";
}

TEST_F(KvClusterTest, KeysSurviveKillNineAndRestartAndRemovenodeOfAKilledNode) {
  KvCluster c(4);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s)) << c.logs();
  Dataset data = write_dataset(running_kv(c), key_count(), test_seed());

  // kill -9 one node; keys written meanwhile go to hints; it restarts on its data dir.
  c.nodes[3]->kill9();
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s)) << c.logs();
  EXPECT_ALL_KEYS(c, data, "with a node killed");
  std::vector<std::pair<std::string, std::string>> during;
  for (size_t i = 5; i < data.latest.size(); i += 50) {
    const std::string key = std::next(data.latest.begin(), static_cast<long>(i))->first;
    during.emplace_back(key, "v3-while-down-" + std::to_string(i));
  }
  EXPECT_EQ(write_all(running_kv(c), during), 0u);
  for (auto& [k, v] : during) data.latest[k] = v;
  EXPECT_GT(c.metric(0, "kv_hints_stored_total") + c.metric(1, "kv_hints_stored_total") +
                c.metric(2, "kv_hints_stored_total"),
            0u);
  c.start(3);
  ASSERT_TRUE(c.serving(3)) << c.logs();
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s)) << c.logs();
  EXPECT_ALL_KEYS(c, data, "after kill -9 and restart");
  // The hints reach the restarted node: every peer's pending gauge goes to 0.
  EXPECT_TRUE(wait_until(
      [&] {
        return c.metric(0, "kv_hints_pending") == 0 && c.metric(1, "kv_hints_pending") == 0 &&
               c.metric(2, "kv_hints_pending") == 0;
      },
      20s));
  EXPECT_EQ(check_replicas(c, data, 0, 60, test_seed()), "") << "after the hints were replayed";
  EXPECT_EXACT_PLACEMENT(c, "after kill -9 and restart");

  // kill -9 another for good, and remove it: its ranges stream to new owners.
  const std::string victim = c.ids[2];
  c.nodes[2]->kill9();
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = ctl_json(c.nodes[0]->admin(), {"status"});
        if (!s) return false;
        for (const json& m : (*s)["nodes"]) {
          if (m["id"] == victim) return m["liveness"] == "down";
        }
        return false;
      },
      30s));
  // Writes while it is down leave hints for it; once it is removed they are dropped.
  std::vector<std::pair<std::string, std::string>> before_removal;
  for (size_t i = 7; i < data.latest.size(); i += 100) {
    before_removal.emplace_back(std::next(data.latest.begin(), static_cast<long>(i))->first, "v4-" + std::to_string(i));
  }
  EXPECT_EQ(write_all(running_kv(c), before_removal), 0u);
  for (auto& [k, v] : before_removal) data.latest[k] = v;
  int rc = -1;
  auto removed = ctl_json(c.nodes[0]->admin(), {"removenode", victim, "--wait"}, &rc);
  ASSERT_EQ(rc, 0) << (removed ? removed->dump() : "no answer") << c.logs();
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s)) << c.logs();
  EXPECT_TRUE(wait_until(
      [&] {
        return c.metric(0, "kv_hints_pending") == 0 && c.metric(1, "kv_hints_pending") == 0 &&
               c.metric(3, "kv_hints_pending") == 0;
      },
      20s))
      << "hints for a removed node are dropped";
  EXPECT_EQ(check_replicas(c, data, 0, 60, test_seed() + 1), "") << "after removenode";
  EXPECT_ALL_KEYS(c, data, "after removenode of a killed node");
  EXPECT_EXACT_PLACEMENT(c, "after removenode of a killed node");
}

TEST_F(KvClusterTest, KeysSurviveTheReplacementOfAKilledNode) {
  KvCluster c(4);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s)) << c.logs();
  Dataset data = write_dataset(running_kv(c), key_count() / 4, test_seed());
  const std::string dead = c.ids[3];
  c.nodes[3]->kill9();
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = ctl_json(c.nodes[0]->admin(), {"status"});
        if (!s) return false;
        for (const json& m : (*s)["nodes"]) {
          if (m["id"] == dead) return m["liveness"] == "down";
        }
        return false;
      },
      30s));
  const int fresh = c.add({"--replace", dead});
  ASSERT_TRUE(c.serving(fresh)) << c.logs();
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 60s)) << c.logs();
  EXPECT_GT(c.metric(fresh, "kv_streamed_keys_total"), 0u) << "the replacement streamed nothing";
  EXPECT_EQ(check_replicas(c, data, 0, 60, test_seed()), "") << "after a replace";
  EXPECT_ALL_KEYS(c, data, "after a replace");
  EXPECT_EXACT_PLACEMENT(c, "after a replace");
}

// How many of `data`'s keys node i does not hold with their latest value, read straight from its
// /internal/ route (which never repairs anything).
size_t missing_on(KvCluster& c, int i, const Dataset& data) {
  KvClient replica(c.kv[i]);
  size_t missing = 0;
  for (const auto& [key, value] : data.latest) {
    KvReply r = replica.request("GET", "/internal/kv/" + encode_key(key), "", "X-Ringkeeper-Ring-Version",
                                std::to_string(UINT64_MAX));
    if (r.status != 200 || r.body != value) ++missing;
  }
  return missing;
}

TEST_F(KvClusterTest, AntiEntropyBringsMissedWritesToAReplicaThatNobodyReads) {
  // No hints at all: a replica that was down misses the writes for good unless anti-entropy
  // brings them. RF 3 on 3 nodes: every node replicates every key.
  KvCluster c(3, {"--kv-anti-entropy-ms", "300", "--kv-max-hints", "0"});
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s)) << c.logs();
  c.nodes[2]->kill9();
  ASSERT_TRUE(wait_until([&] { return c.formed(2); }, 30s)) << c.logs();
  Dataset missed = write_dataset({c.kv[0], c.kv[1]}, key_count() / 10, test_seed());
  EXPECT_GT(c.metric(0, "kv_hints_refused_total") + c.metric(1, "kv_hints_refused_total"), 0u)
      << "the writes were hinted; this test needs them not to be";
  c.start(2);
  ASSERT_TRUE(c.serving(2)) << c.logs();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until([&] { return missing_on(c, 2, missed) == 0; }, 30s))
      << missing_on(c, 2, missed) << " of " << missed.latest.size() << " keys still missing on the restarted node\n"
      << c.logs();
  std::fprintf(stderr, "anti-entropy brought %zu keys to the restarted node in %lld ms\n", missed.latest.size(),
               static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - t0)
                                          .count()));
  uint64_t repaired = 0, gets = 0;
  for (int i = 0; i < 3; ++i) {
    repaired += c.metric(i, "kv_antientropy_keys_repaired_total");
    gets += c.metric(i, "kv_requests_total{op=\"get\"}");
  }
  EXPECT_GE(repaired, missed.latest.size());
  EXPECT_EQ(gets, 0u) << "nobody read: no read repair could have done it";
  EXPECT_EXACT_PLACEMENT(c, "after anti-entropy");
  EXPECT_ALL_KEYS(c, missed, "after anti-entropy");
}

// A change aborted in write_both (held there by the test-only --kv-ack-delay-ms on the node that
// moves) drops what was streamed for it: afterwards every key is again on exactly its natural
// replicas, and every key reads back.
TEST_F(KvClusterTest, AnAbortedChangeDropsWhatWasStreamedForIt) {
  KvCluster c(4);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s)) << c.logs();
  Dataset data = write_dataset(running_kv(c), key_count() / 10, test_seed());
  ASSERT_EQ(c.nodes[1]->terminate(), 0);
  c.start(1, {"--kv-ack-delay-ms", "120000"});
  ASSERT_TRUE(c.serving(1)) << c.logs();
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s)) << c.logs();
  const auto tokens_before = ctl_json(c.nodes[0]->admin(), {"ring"});
  ASSERT_TRUE(tokens_before);

  std::mt19937_64 rng(test_seed() + 7);
  std::string tokens;
  for (int i = 0; i < 16; ++i) tokens += (i ? "," : "") + std::to_string(rng());
  int rc = -1;
  auto moved = ctl_json(c.nodes[1]->admin(), {"move", "--tokens", tokens}, &rc);
  ASSERT_EQ(rc, 0) << (moved ? moved->dump() : "no answer");
  const std::string change = moved->value("change", moved->value("id", ""));
  ASSERT_FALSE(change.empty()) << moved->dump();
  // Node 1 streamed what it gains (records outside the ranges it reads for), and holds its
  // acknowledgement: the change stays in write_both.
  auto outside_on_1 = [&] { return outside_records(c, 1); };
  ASSERT_TRUE(wait_until([&] { return c.metric(1, "kv_streamed_ranges_total") > 0 && outside_on_1() > 0; }, 30s))
      << c.logs();
  auto status = ctl_json(c.nodes[1]->admin(), {"status"});
  ASSERT_TRUE(status);
  std::string phase;
  for (const json& m : (*status)["nodes"]) {
    if (m["self"] == true && m["change"].is_object()) phase = m["change"].value("phase", "");
  }
  EXPECT_EQ(phase, "write_both") << status->dump();
  const uint64_t dropped_before = c.metric(1, "kv_ranges_dropped_total");

  auto aborted = ctl_json(c.nodes[1]->admin(), {"abort", change}, &rc);
  ASSERT_EQ(rc, 0) << (aborted ? aborted->dump() : "no answer");
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s)) << c.logs();
  EXPECT_TRUE(wait_until([&] { return outside_on_1() == 0; }, 20s)) << "what was streamed for the aborted move stayed";
  EXPECT_GT(c.metric(1, "kv_ranges_dropped_total"), dropped_before);
  const auto tokens_after = ctl_json(c.nodes[0]->admin(), {"ring"});
  ASSERT_TRUE(tokens_after);
  EXPECT_EQ((*tokens_after)["tokens"], (*tokens_before)["tokens"]) << "the aborted move changed the ring";
  EXPECT_EXACT_PLACEMENT(c, "after an aborted move");
  EXPECT_ALL_KEYS(c, data, "after an aborted move");
}

TEST_F(KvClusterTest, KvMetricsAreOnTheAdminPortToo) {
  KvCluster c(1);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(1); }, 30s)) << c.logs();
  KvClient client(c.kv[0]);
  ASSERT_EQ(client.request("PUT", "/kv/counted?w=1", "x").status, 204);
  KvClient admin(c.nodes[0]->admin());
  const std::string text = admin.request("GET", "/metrics").body;
  EXPECT_NE(text.find("ringkeeper_generation"), std::string::npos) << "the node's own metrics";
  EXPECT_NE(text.find("kv_requests_total{op=\"put\"} 1\n"), std::string::npos) << text.substr(0, 3000);
  EXPECT_NE(text.find("kv_antientropy_cycles_total"), std::string::npos);
}

TEST_F(KvClusterTest, TooFewReplicasAnswer503NamingThem) {
  KvCluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s)) << c.logs();
  KvClient client(c.kv[0]);
  ASSERT_EQ(client.request("PUT", "/kv/k1", "one").status, 204);
  c.nodes[1]->kill9();
  c.nodes[2]->kill9();
  KvReply put = client.request("PUT", "/kv/k2?w=2", "two");
  ASSERT_EQ(put.status, 503) << put.body;
  json j = json::parse(put.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << put.body;
  EXPECT_TRUE(j.contains("error"));
  EXPECT_EQ(std::set<std::string>(j["replicas"].begin(), j["replicas"].end()),
            (std::set<std::string>{c.ids[1], c.ids[2]}));
  KvReply get = client.request("GET", "/kv/k1");
  EXPECT_EQ(get.status, 503) << get.body;
  // One replica is enough when the caller says so.
  EXPECT_EQ(client.request("PUT", "/kv/k3?w=1", "three").status, 204);
  KvReply one = client.request("GET", "/kv/k3?r=1");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.body, "three");
  EXPECT_GE(c.metric(0, "kv_unavailable_total{op=\"put\"}"), 1u);
}

// One node of an RF 3 cluster: every key has one replica, so the default quorums (2 of 3) can
// never be met. The 503 says so — the replica count and the quorum — instead of an empty
// "replicas" list that reads as if every replica answered; nothing is written.
TEST_F(KvClusterTest, AQuorumAboveTheReplicaCountIs503SayingHowManyReplicasThereAre) {
  KvCluster c(1);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(1); }, 30s)) << c.logs();
  KvClient client(c.kv[0]);
  KvReply put = client.request("PUT", "/kv/lonely", "v");
  ASSERT_EQ(put.status, 503) << put.body;
  json j = json::parse(put.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << put.body;
  EXPECT_EQ(j["replica_count"], 1) << put.body;
  EXPECT_EQ(j["quorum"], 2) << put.body;
  EXPECT_TRUE(j["replicas"].is_array() && j["replicas"].empty()) << put.body;
  EXPECT_EQ(j.value("error", "").rfind("only 1 replica of this key for a write quorum of 2", 0), 0u) << put.body;
  EXPECT_NE(j.value("error", "").find("nothing was written"), std::string::npos) << put.body;
  EXPECT_EQ(client.request("GET", "/kv/lonely?r=1").status, 404) << "not attempted, so not landed";
  KvReply get = client.request("GET", "/kv/lonely");
  ASSERT_EQ(get.status, 503) << get.body;
  EXPECT_NE(get.body.find("only 1 replica of this key for a read quorum of 2"), std::string::npos) << get.body;
  EXPECT_EQ(client.request("DELETE", "/kv/lonely?w=3").status, 503);
  EXPECT_EQ(c.metric(0, "kv_unavailable_total{op=\"put\"}"), 1u);
  EXPECT_EQ(c.metric(0, "kv_unavailable_total{op=\"get\"}"), 1u);
  // Within the replica count it works.
  EXPECT_EQ(client.request("PUT", "/kv/lonely?w=1", "v").status, 204);
  EXPECT_EQ(client.request("GET", "/kv/lonely?r=1").body, "v");
}

TEST_F(KvClusterTest, AReadRepairsTheReplicasThatAnsweredWithAnOlderRecord) {
  KvCluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s)) << c.logs();
  KvClient client(c.kv[0]);
  KvReply put = client.request("PUT", "/kv/repaired?w=3", "old");
  ASSERT_EQ(put.status, 204);
  // A newer record lands on one replica only (as a write that reached just one would).
  const uint64_t newer = std::stoull(put.timestamp) + 1;
  KvClient replica2(c.kv[2]);
  const std::string raw = "PUT /internal/kv/repaired HTTP/1.1\r\nHost: x\r\nX-Ringkeeper-Timestamp: " +
                          std::to_string(newer) + "\r\nX-Ringkeeper-Ring-Version: " + std::to_string(UINT64_MAX) +
                          "\r\nContent-Length: 3\r\nConnection: close\r\n\r\nnew";
  ASSERT_NE(replica2.raw(raw).find("204"), std::string::npos);
  const uint64_t repairs_before = c.metric(0, "kv_read_repairs_total");
  KvReply got = client.request("GET", "/kv/repaired?r=3");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "new");
  EXPECT_EQ(got.timestamp, std::to_string(newer));
  // Both other replicas get the winner.
  Dataset want;
  want.latest["repaired"] = "new";
  EXPECT_TRUE(wait_until([&] { return check_replicas(c, want, 0, 1, 1).empty(); }, 10s))
      << check_replicas(c, want, 0, 1, 1);
  EXPECT_EQ(c.metric(0, "kv_read_repairs_total"), repairs_before + 2);
}

TEST_F(KvClusterTest, BadInputGetsA4xxAndACounterAndTheNodeKeepsServing) {
  KvCluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s)) << c.logs();
  KvClient client(c.kv[0]);
  struct Case {
    std::string method, target, body, reason;
    int status;
  };
  const std::vector<Case> cases = {
      {"PUT", "/kv/" + std::string(1025, 'k'), "v", "key_too_long", 413},
      {"PUT", "/kv/big", std::string((1 << 20) + 1, 'v'), "value_too_large", 413},
      {"PUT", "/kv/k?w=0", "v", "bad_quorum", 400},
      {"PUT", "/kv/k?w=4", "v", "bad_quorum", 400},
      {"PUT", "/kv/k?w=two", "v", "bad_quorum", 400},
      {"PUT", "/kv/k?r=2", "v", "bad_quorum", 400},
      {"GET", "/kv/k?w=2", "", "bad_quorum", 400},
      {"GET", "/kv/k?x=1", "", "bad_query", 400},
      {"GET", "/kv/a/b", "", "bad_key", 400},
      {"GET", "/kv/%zz", "", "bad_key", 400},
      {"POST", "/kv/k", "", "bad_method", 405},
      {"GET", "/nothing/here", "", "unknown_route", 404},
      {"POST", "/metrics", "", "bad_method", 405},
      {"PUT", "/internal/kv/k", "v", "bad_internal", 400},  // no ring version, no timestamp
      {"GET", "/internal/range?start=1", "", "bad_internal", 400},
  };
  for (const Case& k : cases) {
    const uint64_t before = c.metric(0, "kv_rejected_total{reason=\"" + k.reason + "\"}");
    KvReply r = client.request(k.method, k.target, k.body);
    EXPECT_EQ(r.status, k.status) << k.method << " " << k.target.substr(0, 60) << ": " << r.body << r.error;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos) << k.target.substr(0, 60) << ": " << r.body;
    EXPECT_EQ(c.metric(0, "kv_rejected_total{reason=\"" + k.reason + "\"}"), before + 1) << k.reason;
  }
  // A far-future timestamp on an internal write is refused.
  KvReply future = client.request("PUT", "/internal/kv/k", "v", "X-Ringkeeper-Timestamp",
                                  std::to_string(uint64_t{1} << 62));
  EXPECT_EQ(future.status, 400);
  // Not HTTP at all: 400 and the connection closes.
  EXPECT_NE(client.raw("\x16\x03\x01 garbage\r\n\r\n").find("400"), std::string::npos);
  EXPECT_GE(c.metric(0, "kv_rejected_total{reason=\"malformed_http\"}"), 1u);
  // /internal/ from an address that is no member's: 403.
  KvClient stranger(c.kv[0], "127.0.0.2");
  KvReply refused = stranger.request("GET", "/internal/kv/k", "", "X-Ringkeeper-Ring-Version", "1");
  EXPECT_EQ(refused.status, 403) << refused.body << refused.error;
  EXPECT_GE(c.metric(0, "kv_rejected_total{reason=\"not_member\"}"), 1u);
  // An internal request with an old ring version is fenced.
  KvReply fenced = client.request("GET", "/internal/kv/k", "", "X-Ringkeeper-Ring-Version", "0");
  EXPECT_EQ(fenced.status, 409) << fenced.body;
  // Exactly 1 MiB is accepted, and the node still serves.
  const std::string mib(1 << 20, 'x');
  EXPECT_EQ(client.request("PUT", "/kv/mib", mib).status, 204);
  KvReply back = client.request("GET", "/kv/mib");
  EXPECT_EQ(back.status, 200);
  EXPECT_EQ(back.body == mib, true);
  EXPECT_TRUE(c.nodes[0]->running());
  // DELETE answers 204, also for a missing key; the key then reads 404.
  EXPECT_EQ(client.request("DELETE", "/kv/mib").status, 204);
  EXPECT_EQ(client.request("DELETE", "/kv/never-written").status, 204);
  EXPECT_EQ(client.request("GET", "/kv/mib").status, 404);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The cluster's ring version, as node i routes (what a member puts in X-Ringkeeper-Ring-Version).
std::string ring_version(KvCluster& c, int i) {
  auto s = ctl_json(c.nodes[i]->admin(), {"status"});
  return s ? std::to_string(s->value("ring_version", uint64_t{0})) : "0";
}

// The index of the running node among 0..n-1 that is not a natural replica of `key`, or -1.
int non_replica(KvCluster& c, const std::string& key) {
  auto owners = ctl_json(c.nodes[0]->admin(), {"owners", key});
  if (!owners || !owners->contains("replicas")) return -1;
  for (size_t i = 0; i < c.ids.size(); ++i) {
    bool replica = false;
    for (const json& id : (*owners)["replicas"]) replica = replica || id == c.ids[i];
    if (!replica) return static_cast<int>(i);
  }
  return -1;
}

uint64_t sum_metric(KvCluster& c, const std::vector<int>& nodes, const std::string& name) {
  uint64_t total = 0;
  for (int i : nodes) total += c.metric(i, name);
  return total;
}

// Records planted outside their nodes' ranges, and what the data then should read.
struct Planted {
  std::map<int, uint64_t> per_node;  // node index → records planted there
  std::set<std::string> deleted;     // keys a newer tombstone was planted for
  size_t total = 0;
};

// Writes up to 90 records, each straight to the /internal/kv of the one node among 0..2 that is
// not a natural replica of its key, at the cluster's ring version (as a member replaying a hint
// late would): in turn a newer value, an older one and a newer tombstone. `data` is updated to
// what must read back.
Planted plant_outside_records(KvCluster& c, Dataset& data) {
  const std::string version = ring_version(c, 0);
  const uint64_t newer = static_cast<uint64_t>(now_ms()) << 16;
  std::vector<std::string> sample;
  size_t seen = 0;
  for (const auto& [key, value] : data.latest) {
    if (seen++ % 7 == 0) sample.push_back(key);
  }
  Planted p;
  for (const std::string& key : sample) {
    if (p.total >= 90) break;
    const int i = non_replica(c, key);
    if (i < 0 || i == 3) continue;
    const int kind = static_cast<int>(p.total++ % 3);  // 0: a newer value, 1: an older one, 2: a newer delete
    const std::string value = kind == 0 ? "outside-" + key : kind == 1 ? "stale-" + key : "";
    KvClient::Headers h = {{"X-Ringkeeper-Ring-Version", version},
                           {"X-Ringkeeper-Timestamp", std::to_string(kind == 1 ? uint64_t{1} << 16 : newer + p.total)}};
    if (kind == 2) h.emplace_back("X-Ringkeeper-Tombstone", "1");
    KvReply r = KvClient(c.kv[i]).request("PUT", "/internal/kv/" + encode_key(key), value, h);
    EXPECT_EQ(r.status, 204) << r.body;
    p.per_node[i]++;
    if (kind == 0) data.latest[key] = value;
    if (kind == 2) p.deleted.insert(key);
  }
  for (const std::string& key : p.deleted) data.latest.erase(key);
  return p;
}

// Records that land on a node outside its ranges — written here straight to a non-replica's
// /internal/kv at the cluster's ring version, as a hint replayed after the range moved away or a
// write that raced a release lands — are handed to their natural replicas before they are
// deleted: newer ones win there (nothing acknowledged is lost), older ones lose, tombstones
// delete. While a natural replica is down none is deleted; once it is back, placement is exact
// and every key reads back with its latest value.
TEST_F(KvClusterTest, RecordsOutsideANodesRangesReachTheirReplicasBeforeTheyAreCollected) {
  KvCluster c(4);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s)) << c.logs();
  Dataset data = write_dataset(running_kv(c), key_count() / 10, test_seed());
  c.nodes[3]->kill9();  // with RF 3 on 4 nodes, it replicates every key nodes 0..2 do not
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s)) << c.logs();
  const Planted planted = plant_outside_records(c, data);
  const size_t n = planted.total;
  ASSERT_GE(n, 6u) << "too few keys to plant (RINGKEEPER_KV_KEYS)";
  for (const auto& [i, count] : planted.per_node) EXPECT_EQ(outside_records(c, i), count) << "node " << i;

  // A natural replica (node 3) is down: passes run, hand what they can to the others, keep all.
  std::map<int, uint64_t> passes;
  for (const auto& [i, count] : planted.per_node) passes[i] = c.metric(i, "kv_outside_passes_total");
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& [i, p] : passes) {
          if (c.metric(i, "kv_outside_passes_total") < p + 2) return false;
        }
        return true;
      },
      20s))
      << c.logs();
  for (const auto& [i, count] : planted.per_node) {
    EXPECT_EQ(outside_records(c, i), count) << "node " << i << " deleted with a replica down";
  }
  EXPECT_EQ(sum_metric(c, {0, 1, 2}, "kv_outside_collected_total"), 0u);
  EXPECT_GE(sum_metric(c, {0, 1, 2}, "kv_outside_kept_total"), n);

  c.start(3);
  ASSERT_TRUE(c.serving(3)) << c.logs();
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s)) << c.logs();
  EXPECT_EXACT_PLACEMENT(c, "after the outside records were collected");
  EXPECT_EQ(sum_metric(c, {0, 1, 2, 3}, "kv_outside_collected_total"), n);
  EXPECT_ALL_KEYS(c, data, "after the outside records were collected");
  KvClient client(c.kv[3]);
  for (const std::string& key : planted.deleted) {
    EXPECT_EQ(client.request("GET", "/kv/" + encode_key(key) + "?r=3").status, 404) << key << ": the delete was lost";
  }
}

// ---- /internal/ authentication under the gossip keyring ---------------------------------------

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view msg) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// A replica GET or PUT signed as docs/security.md describes it, computed here apart from kvd's
// code: HMAC-SHA256 under HMAC-SHA256(key, "ringkeeper cluster mac v1") of the method, target,
// auth time, ring version, timestamp, tombstone and hint-for values and the body's SHA-256.
KvClient::Headers signed_headers(std::string_view raw_key, const std::string& method, const std::string& target,
                                 const std::string& ring_version, const std::string& stamp, const std::string& body,
                                 int64_t auth_time = now_ms()) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  const std::string message = "ringkeeper kv internal v1\n" + method + "\n" + target + "\n" +
                              std::to_string(auth_time) + "\n" + ring_version + "\n" + stamp + "\n\n\n" +
                              hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
  const std::string mac = hmac_sha256(hmac_sha256(raw_key, "ringkeeper cluster mac v1"), message);
  KvClient::Headers h = {{"X-Ringkeeper-Ring-Version", ring_version},
                         {"X-Ringkeeper-Auth-Time", std::to_string(auth_time)},
                         {"X-Ringkeeper-Auth", hex(mac)}};
  if (!stamp.empty()) h.emplace_back("X-Ringkeeper-Timestamp", stamp);
  return h;
}

struct RefusedCase {
  std::string what, method, target, body;
  KvClient::Headers headers;
};

// Replica requests a member must refuse (403, bad_auth) under a keyring holding `key` alone:
// unsigned, a forged MAC, another cluster's key, auth times 10 minutes off either way, a MAC
// over another body. `get`: a GET target.
std::vector<RefusedCase> refused_internal_requests(const std::string& key, const std::string& stranger,
                                                   const std::string& version, const std::string& get) {
  const std::string put = "/internal/kv/forged";
  const std::string stamp = std::to_string(uint64_t(now_ms()) << 16);
  return {
      {"unsigned", "GET", get, "", {{"X-Ringkeeper-Ring-Version", version}}},
      {"unsigned placement", "GET", "/internal/placement", "", {}},
      {"a forged MAC", "GET", get, "",
       {{"X-Ringkeeper-Ring-Version", version}, {"X-Ringkeeper-Auth-Time", std::to_string(now_ms())},
        {"X-Ringkeeper-Auth", std::string(64, 'f')}}},
      {"another cluster's key", "GET", get, "", signed_headers(stranger, "GET", get, version, "", "")},
      {"10 minutes old", "GET", get, "", signed_headers(key, "GET", get, version, "", "", now_ms() - 600'000)},
      {"10 minutes ahead", "GET", get, "", signed_headers(key, "GET", get, version, "", "", now_ms() + 600'000)},
      {"another body", "PUT", put, "evil", signed_headers(key, "PUT", put, version, stamp, "good")},
  };
}

TEST_F(KvClusterTest, WithAKeyringInternalRequestsNeedTheClusterMacAndAKeyRotationDropsNothing) {
  const std::string key_a(32, 'a'), key_b(32, 'b'), stranger(32, 's');
  TempDir keys;
  const fs::path key_file = keys.path() / "a.key";
  std::ofstream(key_file) << base64(key_a) << "\n";
  std::vector<std::string> flags = KvCluster::default_flags();
  flags.insert(flags.end(), {"--gossip-key-file", key_file.string()});
  KvCluster c(3, flags);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s)) << c.logs();
  Dataset data = write_dataset(running_kv(c), key_count() / 20, test_seed());
  EXPECT_ALL_KEYS(c, data, "with signed replica requests");

  const std::string key = data.latest.begin()->first;
  const std::string get = "/internal/kv/" + encode_key(key);
  const std::string version = ring_version(c, 0);
  auto bad_auth = [&](int i) { return c.metric(i, "kv_rejected_total{reason=\"bad_auth\"}"); };
  const uint64_t refused_before = bad_auth(0);
  KvClient member(c.kv[0]);  // a member's address: the IP check passes, the MAC decides
  const std::vector<RefusedCase> refused = refused_internal_requests(key_a, stranger, version, get);
  for (const RefusedCase& k : refused) {
    KvReply r = member.request(k.method, k.target, k.body, k.headers);
    EXPECT_EQ(r.status, 403) << k.what << ": " << r.body;
    json j = json::parse(r.body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("error")) << k.what << ": " << r.body;
  }
  EXPECT_EQ(bad_auth(0), refused_before + refused.size());
  KvReply missing = member.request("GET", get, "", {{"X-Ringkeeper-Ring-Version", version}});
  EXPECT_NE(missing.body.find("signed with the cluster key"), std::string::npos) << missing.body;
  KvReply good = member.request("GET", get, "", signed_headers(key_a, "GET", get, version, "", ""));
  EXPECT_EQ(good.status, 200) << "signed as documented: " << good.body;
  EXPECT_EQ(good.body, data.latest.at(key));

  // A rotation (install B, use B, remove A) while writers run through every node: no replica
  // request is refused anywhere, no write fails, and then only B's signatures are taken.
  std::vector<uint64_t> before;
  for (int i = 0; i < 3; ++i) before.push_back(bad_auth(i));
  BackgroundWriters writers(running_kv(c));
  int rc = -1;
  for (const auto& [node, command, raw] : std::vector<std::tuple<int, std::string, std::string>>{
           {0, "install", key_b}, {1, "use", key_b}, {2, "remove", key_a}}) {
    auto answer = ctl_json(c.nodes[node]->admin(), {"keys", command, base64(raw)}, &rc);
    EXPECT_EQ(rc, 0) << command << ": " << (answer ? answer->dump() : "no answer");  // writers still run
  }
  const size_t acked_at_remove = [&] {
    std::lock_guard lock(writers.mu);
    return writers.acked.latest.size();
  }();
  EXPECT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(writers.mu);
        return writers.acked.latest.size() > acked_at_remove + 100;
      },
      20s))
      << "writes stopped after the rotation";
  writers.finish();
  EXPECT_EQ(writers.refused, 0u) << "writes failed during the rotation";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bad_auth(i), before[i]) << "node " << i << " refused a member";
  EXPECT_ALL_KEYS(c, data, "after a key rotation");
  EXPECT_ALL_KEYS(c, writers.acked, "written during a key rotation");
  EXPECT_EQ(member.request("GET", get, "", signed_headers(key_a, "GET", get, version, "", "")).status, 403)
      << "the removed key";
  EXPECT_EQ(member.request("GET", get, "", signed_headers(key_b, "GET", get, version, "", "")).status, 200);
}

}  // namespace
}  // namespace ringkeeper::testing
