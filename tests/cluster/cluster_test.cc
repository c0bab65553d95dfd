// Real ringd processes on loopback, driven through ringctl --json.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "storage/rocks_store.h"
#include "tests/cluster/harness.h"
#include "tools/http_client.h"

namespace ringkeeper::testing {
namespace {

using namespace std::chrono_literals;

// Fast protocol settings are not flags: these run with the production defaults.
struct Cluster {
  TempDir tmp;
  std::vector<std::unique_ptr<Ringd>> nodes;
  std::vector<uint16_t> ports;  // fixed gossip ports (stable across restarts)

  // n nodes started at once; node 0 seeds the rest (its own only seed, so it founds). `flags` go
  // to every node.
  explicit Cluster(int n, bool fixed_ports = true, std::vector<std::string> flags = {}) {
    for (int i = 0; i < n; ++i) ports.push_back(fixed_ports ? free_port() : 0);
    flags.insert(flags.begin(), {"--seeds", seed()});
    for (int i = 0; i < n; ++i) start(i, flags);
  }
  std::string seed() const { return "127.0.0.1:" + std::to_string(ports[0]); }
  fs::path dir(int i) const { return tmp.path() / ("n" + std::to_string(i)); }
  void start(int i, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:" + std::to_string(ports[i]), "--admin", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto node = std::make_unique<Ringd>(dir(i), args);
    if (static_cast<size_t>(i) < nodes.size()) {
      nodes[i] = std::move(node);
    } else {
      nodes.push_back(std::move(node));
    }
  }
  bool serving() {
    for (auto& n : nodes) {
      if (!n->wait_serving()) return false;
    }
    return true;
  }
  // Every running node: converged, and sees exactly `expect_up` members up and NORMAL.
  bool formed(size_t expect_up) {
    for (auto& n : nodes) {
      if (!n->running()) continue;
      int rc = -1;
      auto s = ctl_json(n->admin(), {"status"}, &rc);
      if (!s || !s->value("converged", false)) return false;
      size_t up = 0;
      for (const json& m : (*s)["nodes"]) {
        if (m["liveness"] == "up" && m["status"] == "NORMAL") ++up;
      }
      if (up != expect_up) return false;
      int hrc = -1;
      ctl_json(n->admin(), {"health"}, &hrc);
      if (hrc != 0) return false;
    }
    return true;
  }
  std::string id_of(int i) { return ctl_json(nodes[i]->admin(), {"info"})->value("id", ""); }
  uint64_t generation_of(int i) { return (*ctl_json(nodes[i]->admin(), {"info"}))["generation"].get<uint64_t>(); }
  // What `viewer` says about `id`: liveness and generation.
  std::optional<json> member(int viewer, const std::string& id) {
    auto s = ctl_json(nodes[viewer]->admin(), {"status"});
    if (!s) return std::nullopt;
    for (const json& m : (*s)["nodes"]) {
      if (m["id"] == id) return m;
    }
    return std::nullopt;
  }
};

TEST(ClusterTest, FiveNodesStartedAtOnceFormAndAgreeOnOwners) {
  Cluster c(5);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(5); }, 30s)) << c.nodes[0]->log();
  auto status = ctl_json(c.nodes[0]->admin(), {"status"});
  double total = 0;
  std::set<std::string> ids;
  for (const json& m : (*status)["nodes"]) {
    total += m["ownership"].get<double>();
    EXPECT_EQ(m["tokens"], 16);
    ids.insert(m["id"].get<std::string>());
    for (const char* k : {"id", "self", "address", "status", "liveness", "tokens", "ownership", "dc", "rack", "generation"}) {
      EXPECT_TRUE(m.contains(k)) << k;
    }
  }
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_NEAR(total, 3.0, 1e-6) << "ownership sums to RF";
  // Every node gives the same owners for a key, and the same ring.
  auto owners0 = ctl_json(c.nodes[0]->admin(), {"owners", "user:42"});
  auto ring0 = ctl_json(c.nodes[0]->admin(), {"ring"});
  ASSERT_TRUE(owners0 && ring0);
  EXPECT_EQ((*owners0)["replicas"].size(), 3u);
  EXPECT_EQ((*ring0)["tokens"].size(), 5u * 16u);
  for (auto& n : c.nodes) {
    EXPECT_EQ((*ctl_json(n->admin(), {"owners", "user:42"}))["replicas"], (*owners0)["replicas"]);
    EXPECT_EQ((*ctl_json(n->admin(), {"ring"}))["ring_digest"], (*ring0)["ring_digest"]);
  }
  auto gi = ctl_json(c.nodes[1]->admin(), {"gossipinfo"});
  ASSERT_TRUE(gi);
  EXPECT_EQ((*gi)["nodes"].size(), 5u);
  EXPECT_TRUE((*gi)["nodes"][0]["values"].contains("tokens"));
  for (auto& n : c.nodes) EXPECT_EQ(n->terminate(), 0);
}

TEST(ClusterTest, KilledNodeIsMarkedDownThenRestartsWithAHigherGeneration) {
  Cluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  const std::string victim = c.id_of(2);
  const uint64_t gen = c.generation_of(2);
  const std::string key_owner_before = (*ctl_json(c.nodes[0]->admin(), {"owners", "k"}))["replicas"].dump();
  c.nodes[2]->kill9();
  ASSERT_TRUE(wait_until(
      [&] {
        for (int v : {0, 1}) {
          auto m = c.member(v, victim);
          if (!m || (*m)["liveness"] != "down") return false;
        }
        return true;
      },
      30s));
  // Down: still a natural replica, no longer in the reachable preference list.
  auto owners = ctl_json(c.nodes[0]->admin(), {"owners", "k"});
  EXPECT_EQ((*owners)["replicas"].dump(), key_owner_before);
  for (const json& id : (*owners)["reachable"]) EXPECT_NE(id, victim);
  int rc = -1;
  ctl_json(c.nodes[0]->admin(), {"health"}, &rc);
  EXPECT_EQ(rc, 0) << "a down node does not hold convergence back";

  c.start(2, {"--seeds", c.seed()});
  ASSERT_TRUE(c.nodes[2]->wait_serving());
  EXPECT_EQ(c.id_of(2), victim) << "same data dir, same node";
  EXPECT_GT(c.generation_of(2), gen);
  ASSERT_TRUE(wait_until(
      [&] {
        for (int v : {0, 1}) {
          auto m = c.member(v, victim);
          if (!m || (*m)["liveness"] != "up" || (*m)["generation"].get<uint64_t>() <= gen) return false;
        }
        return c.formed(3);
      },
      30s));
  // SIGTERM: peers hear it is going and mark it down; it exits 0.
  EXPECT_EQ(c.nodes[2]->terminate(5s), 0);
  EXPECT_TRUE(wait_until([&] { return (*c.member(0, victim))["liveness"] == "down"; }, 5s));
}

TEST(ClusterTest, ARemovedNodeExits1WhenItLearnsItAndRefusesToStartAgain) {
  Cluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  const std::string victim = c.id_of(2);
  // Hung, not dead: it will come back and hear of its removal from its peers.
  ASSERT_EQ(::kill(c.nodes[2]->pid(), SIGSTOP), 0);
  ASSERT_TRUE(wait_until([&] { return (*c.member(0, victim))["liveness"] == "down"; }, 30s));
  int rc = -1;
  auto removed = ctl_json(c.nodes[0]->admin(), {"removenode", victim}, &rc);
  ASSERT_EQ(rc, 0) << (removed ? removed->dump() : "no answer");
  ASSERT_EQ(::kill(c.nodes[2]->pid(), SIGCONT), 0);
  EXPECT_EQ(c.nodes[2]->wait_exit(20s), 1) << c.nodes[2]->log();
  EXPECT_NE(c.nodes[2]->log().find("removed from the cluster"), std::string::npos) << c.nodes[2]->log();
  ASSERT_TRUE(wait_until([&] { return c.formed(2); }, 30s));
  auto owners = ctl_json(c.nodes[0]->admin(), {"owners", "k"});
  for (const json& id : (*owners)["replicas"]) EXPECT_NE(id, victim);
  // Started again on its data dir: refused at once, exit 3, one line naming the reason.
  c.start(2, {"--seeds", c.seed()});
  EXPECT_EQ(c.nodes[2]->wait_exit(10s), 3);
  EXPECT_NE(c.nodes[2]->log().find("was removed from the cluster"), std::string::npos) << c.nodes[2]->log();
}

TEST(ClusterTest, ANodeRestartedOnANewAddressKeepsItsIdAndPeersRouteToTheNewAddress) {
  Cluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  const std::string moved = c.id_of(2);
  ASSERT_EQ(c.nodes[2]->terminate(5s), 0);
  c.ports[2] = free_port();
  const std::string address = "127.0.0.1:" + std::to_string(c.ports[2]);
  c.start(2, {"--seeds", c.seed()});
  ASSERT_TRUE(c.nodes[2]->wait_serving());
  EXPECT_EQ(c.id_of(2), moved);
  ASSERT_TRUE(wait_until(
      [&] {
        for (int v : {0, 1}) {
          auto m = c.member(v, moved);
          if (!m || (*m)["address"] != address || (*m)["liveness"] != "up") return false;
        }
        return c.formed(3);
      },
      30s))
      << c.member(0, moved).value_or(json()).dump();
}

TEST(ClusterTest, WholeClusterRestartsWithoutSeedsAndRoutesFromDiskAlone) {
  Cluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  const json owners = (*ctl_json(c.nodes[1]->admin(), {"owners", "user:7"}))["replicas"];
  const std::string digest = (*ctl_json(c.nodes[1]->admin(), {"ring"}))["ring_digest"];
  for (auto& n : c.nodes) ASSERT_EQ(n->terminate(), 0);

  // One node alone, no seeds, nobody reachable: it answers from its persisted ring.
  c.start(1, {});
  ASSERT_TRUE(c.nodes[1]->wait_serving());
  auto alone = ctl_json(c.nodes[1]->admin(), {"owners", "user:7"});
  ASSERT_TRUE(alone);
  EXPECT_EQ((*alone)["replicas"], owners);
  EXPECT_EQ((*ctl_json(c.nodes[1]->admin(), {"ring"}))["ring_digest"], digest);

  // The rest, also without seeds: they re-form from the peers they remember.
  c.start(0, {});
  c.start(2, {});
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  EXPECT_EQ((*ctl_json(c.nodes[2]->admin(), {"owners", "user:7"}))["replicas"], owners);
}

// Sends raw bytes to a gossip port and returns once the node has closed the connection.
bool send_raw_and_wait_close(const std::string& host_port, const std::string& bytes) {
  const uint16_t port = static_cast<uint16_t>(std::stoi(host_port.substr(host_port.rfind(':') + 1)));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
  (void)!write(fd, bytes.data(), bytes.size());
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[64];
  const ssize_t n = read(fd, buf, sizeof buf);  // 0 or a reset (unread bytes): closed by the node
  const bool reset = n < 0 && errno == ECONNRESET;
  close(fd);
  return n == 0 || reset;
}

uint64_t metric(const std::string& admin, const std::string& line_prefix) {
  std::string err;
  auto r = tools::http_request(admin, "GET", "/metrics", "", &err);
  if (!r) return 0;
  const size_t at = r->body.find(line_prefix + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(r->body.substr(at + line_prefix.size() + 1));
}

TEST(ClusterTest, GarbageAndOversizedFramesAreDroppedAndCountedWhileTheNodeServes) {
  Cluster c(1);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(1); }, 30s));
  const std::string gossip = c.nodes[0]->listen();
  // Garbage: a small length prefix and bytes that are not a message.
  std::string garbage("\0\0\0\x10", 4);
  garbage += "0123456789abcdef";
  EXPECT_TRUE(send_raw_and_wait_close(gossip, garbage));
  // Oversized: a length prefix of 1 GiB; the node must not try to read it.
  EXPECT_TRUE(send_raw_and_wait_close(gossip, std::string("\x40\0\0\0", 4) + "xxxx"));
  const std::string admin = c.nodes[0]->admin();
  EXPECT_GE(metric(admin, "ringkeeper_gossip_frames_rejected_total{reason=\"malformed\"}"), 1u);
  EXPECT_GE(metric(admin, "ringkeeper_gossip_frames_rejected_total{reason=\"oversized\"}"), 1u);
  int rc = -1;
  EXPECT_TRUE(ctl_json(admin, {"health"}, &rc));
  EXPECT_EQ(rc, 0) << "still serving";
  EXPECT_TRUE(c.nodes[0]->running());
}

TEST(ClusterTest, RefusedDataDirsExitWithCode3AndAOneLineReason) {
  TempDir tmp;
  // From the future.
  const fs::path future = tmp.path() / "future";
  {
    auto r = storage::open_rocks_store((future / "state").string());
    ASSERT_TRUE(r.store);
    storage::WriteBatch b;
    b.put_meta(storage::meta::kFormat, std::to_string(storage::kFormatVersion + 1));
    r.store->write(b, true);
  }
  Ringd f(future, {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"});
  EXPECT_EQ(f.wait_exit(20s), 3);
  EXPECT_NE(f.log().find("newer"), std::string::npos) << f.log();
  {
    auto r = storage::open_rocks_store((future / "state").string());
    EXPECT_EQ(r.error.reason, storage::OpenError::Reason::kFutureFormat) << "left as it was";
  }
  // Corrupt.
  const fs::path corrupt = tmp.path() / "corrupt";
  { ASSERT_TRUE(storage::open_rocks_store((corrupt / "state").string()).store); }
  for (const auto& e : fs::directory_iterator(corrupt / "state")) {
    const std::string name = e.path().filename().string();
    if (name == "CURRENT" || name.starts_with("MANIFEST")) std::ofstream(e.path(), std::ios::trunc) << "garbage\n";
  }
  Ringd k(corrupt, {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"});
  EXPECT_EQ(k.wait_exit(20s), 3);
  // Locked by a running node.
  const fs::path live = tmp.path() / "live";
  Ringd owner(live, {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"});
  ASSERT_TRUE(owner.wait_serving());
  Ringd second(live, {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"});
  EXPECT_EQ(second.wait_exit(20s), 3);
  EXPECT_NE(second.log().find("in use"), std::string::npos) << second.log();
  EXPECT_TRUE(owner.running());
  // Bad flags: 2.
  Ringd bad(tmp.path() / "bad", {"--rf", "zero"});
  EXPECT_EQ(bad.wait_exit(20s), 2);
}

TEST(ClusterTest, MismatchedReplicationIsRefusedAtTheHandshake) {
  Cluster c(1);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(1); }, 30s));
  Ringd other(c.tmp.path() / "other", {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--seeds", c.seed(), "--rf", "2"});
  ASSERT_TRUE(other.wait_serving());
  EXPECT_TRUE(wait_until([&] { return other.log().find("replication settings") != std::string::npos; }, 20s))
      << other.log();
  EXPECT_EQ((*ctl_json(c.nodes[0]->admin(), {"status"}))["nodes"].size(), 1u) << "never merged";
}

TEST(ClusterTest, TwoClustersFoundedApartWithTheSameNameStayApart) {
  TempDir tmp;
  const uint16_t pa = free_port(), pb = free_port();
  const std::string a_addr = "127.0.0.1:" + std::to_string(pa), b_addr = "127.0.0.1:" + std::to_string(pb);
  Ringd a(tmp.path() / "a", {"--listen", a_addr, "--admin", "127.0.0.1:0"});
  {
    Ringd b(tmp.path() / "b", {"--listen", b_addr, "--admin", "127.0.0.1:0"});
    ASSERT_TRUE(a.wait_serving() && b.wait_serving());
    ASSERT_TRUE(wait_until([&] { return !ctl_json(b.admin(), {"info"})->value("cluster_id", "").empty(); }, 20s));
    ASSERT_EQ(b.terminate(), 0);
  }
  // B comes back pointing at A: same cluster name, another cluster id. Neither merges the other.
  Ringd b(tmp.path() / "b", {"--listen", b_addr, "--admin", "127.0.0.1:0", "--seeds", a_addr});
  ASSERT_TRUE(b.wait_serving());
  EXPECT_TRUE(wait_until([&] { return metric(a.admin(), "ringkeeper_gossip_messages_refused_total{reason=\"cluster_id\"}") > 0; }, 20s));
  EXPECT_TRUE(wait_until([&] { return b.log().find("a different cluster") != std::string::npos; }, 20s)) << b.log();
  EXPECT_EQ((*ctl_json(a.admin(), {"status"}))["nodes"].size(), 1u);
  EXPECT_EQ((*ctl_json(b.admin(), {"status"}))["nodes"].size(), 1u);
}

// The tokens `viewer` routes to node `id`.
std::set<std::string> tokens_of(const Cluster& c, int viewer, const std::string& id) {
  std::set<std::string> out;
  auto ring = ctl_json(c.nodes[viewer]->admin(), {"ring"});
  if (!ring) return out;
  for (const json& t : (*ring)["tokens"]) {
    if (t["node"] == id) out.insert(t["token"].get<std::string>());
  }
  return out;
}

// The JSON lines ringctl printed.
std::vector<json> json_lines(const std::string& out) {
  std::vector<json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(json::parse(line, nullptr, false));
  }
  return lines;
}

// The change `viewer`'s status shows for node `id` (null if none).
json change_of(Cluster& c, int viewer, const std::string& id) {
  auto m = c.member(viewer, id);
  return m && m->contains("change") ? (*m)["change"] : json();
}

// The phases a change command printed with --json --wait (one JSON line each), checking every line
// names `kind`, `node` and one change.
std::vector<std::string> phases_printed(const std::string& out, const std::string& kind, const std::string& node) {
  std::vector<std::string> phases;
  std::set<std::string> changes;
  for (const json& line : json_lines(out)) {
    EXPECT_TRUE(line.is_object()) << out;
    if (!line.is_object()) continue;
    phases.push_back(line.value("phase", ""));
    changes.insert(line.value("change", ""));
    EXPECT_EQ(line["kind"], kind);
    EXPECT_EQ(line["node"], node);
  }
  EXPECT_EQ(changes.size(), 1u) << out;
  return phases;
}

const std::vector<std::string> kAllPhases = {"announce", "write_both", "read_new", "release", "done"};

TEST(ClusterTest, ADryRunAnnouncesNothingAndMoveWaitPrintsEveryPhaseUntilDone) {
  Cluster c(3, true, {"--rf", "2"});  // RF 2 of 3 nodes: a move changes replica sets
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  const std::string mover = c.id_of(1);
  const std::string digest = (*ctl_json(c.nodes[0]->admin(), {"ring"}))["ring_digest"];
  int rc = -1;
  auto plan = ctl_json(c.nodes[1]->admin(), {"move", "--tokens", "100,200,300", "--dry-run"}, &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(plan);
  EXPECT_EQ((*plan)["node"], mover);
  EXPECT_EQ((*plan)["tokens"], json::array({"100", "200", "300"}));
  ASSERT_FALSE((*plan)["moves"].empty());
  for (const char* k : {"start", "end", "from", "to"}) EXPECT_TRUE((*plan)["moves"][0].contains(k)) << k;
  EXPECT_EQ((*plan)["ownership_before"].size(), 3u);
  EXPECT_EQ((*plan)["ownership_after"].size(), 3u);
  RunResult human = ringctl({"--host", c.nodes[1]->admin(), "move", "--tokens", "100,200,300", "--dry-run"});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("Staged Changes"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("Ranges whose replicas change"), std::string::npos) << human.out;
  for (auto& n : c.nodes) {
    auto ring = ctl_json(n->admin(), {"ring"});
    EXPECT_EQ((*ring)["ring_digest"], digest) << "a dry run announces nothing";
    EXPECT_EQ((*ring)["pending"], json::array());
  }
  EXPECT_EQ(change_of(c, 1, mover), nullptr);

  RunResult waited = ringctl({"--json", "--host", c.nodes[1]->admin(), "move", "--tokens", "100,200,300", "--wait"});
  EXPECT_EQ(waited.exit_code, 0) << waited.out;
  EXPECT_EQ(phases_printed(waited.out, "move", mover), kAllPhases) << waited.out;
  ASSERT_TRUE(wait_until(
      [&] {
        for (int v : {0, 1, 2}) {
          if (tokens_of(c, v, mover) != std::set<std::string>{"100", "200", "300"}) return false;
          if (!(*ctl_json(c.nodes[v]->admin(), {"ring"}))["pending"].empty()) return false;
        }
        return c.formed(3);
      },
      30s));
  // Unreachable: exit 3.
  EXPECT_EQ(ringctl({"--host", "127.0.0.1:" + std::to_string(free_port()), "status"}).exit_code, 3);
}

// Node 2 of a formed 3-node cluster hung (SIGSTOP) and `ringctl --json move --tokens 100,200,300
// --wait` running on node 1, seen waiting for node 2. SIGCONT when it goes out of scope.
struct HeldMove {
  pid_t hung = -1;
  std::future<RunResult> waiting;
  ~HeldMove() {
    if (hung > 0) ::kill(hung, SIGCONT);
  }
};

std::unique_ptr<HeldMove> hold_a_move_on_a_hung_member(Cluster& c) {
  auto held = std::make_unique<HeldMove>();
  const std::string mover = c.id_of(1), hung = c.id_of(2);
  if (::kill(c.nodes[2]->pid(), SIGSTOP) != 0) return nullptr;
  held->hung = c.nodes[2]->pid();
  held->waiting = std::async(std::launch::async, [&c] {
    return ringctl({"--json", "--host", c.nodes[1]->admin(), "move", "--tokens", "100,200,300", "--wait"});
  });
  const bool seen = wait_until(
      [&] {
        const json ch = change_of(c, 1, mover);
        return ch.is_object() && ch["waiting_for"] == json::array({hung});
      },
      30s);
  EXPECT_TRUE(seen) << change_of(c, 1, mover).dump();
  return seen ? std::move(held) : nullptr;
}

TEST(ClusterTest, AMoveBlockedByAStoppedMemberWaitsNamingItAndAbortRollsItBack) {
  Cluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  const std::string mover = c.id_of(1), hung = c.id_of(2);
  auto holding = hold_a_move_on_a_hung_member(c);
  ASSERT_TRUE(holding);
  auto& waiting = holding->waiting;
  const std::string change = change_of(c, 1, mover)["id"];
  ASSERT_TRUE(wait_until([&] { return change_of(c, 0, mover).is_object() && change_of(c, 0, mover)["id"] == change; }, 10s));
  // Every member but the stopped one acknowledges the announce (its `seen`, as the mover holds
  // it); the change still does not pass the step: the barrier waits for the stopped member too.
  auto seen_on_mover = [&](int who) {
    auto info = ctl_json(c.nodes[1]->admin(), {"gossipinfo"});
    if (!info) return std::string();
    for (const json& n : (*info)["nodes"]) {
      if (n["id"] == c.id_of(who) && n["values"].contains("seen")) return n["values"]["seen"]["value"].get<std::string>();
    }
    return std::string();
  };
  ASSERT_TRUE(wait_until([&] { return seen_on_mover(0) == change + " announce" && seen_on_mover(1) == change + " announce"; }, 10s));
  const json held = change_of(c, 1, mover);
  EXPECT_EQ(held["phase"], "announce") << "no phase passes without the stopped member";
  EXPECT_EQ(held["waiting_for"], json::array({hung})) << "the mover's last round found only it missing";
  RunResult table = ringctl({"--host", c.nodes[1]->admin(), "status"});
  EXPECT_NE(table.out.find("UM"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("waiting for " + hung), std::string::npos) << table.out;

  int rc = -1;
  auto aborted = ctl_json(c.nodes[1]->admin(), {"abort", change}, &rc);
  EXPECT_EQ(rc, 0);
  ASSERT_TRUE(aborted);
  EXPECT_EQ((*aborted)["phase"], "aborted");
  EXPECT_EQ((*aborted)["change"], change);
  RunResult waited = waiting.get();
  EXPECT_EQ(waited.exit_code, 1) << waited.out;
  const std::vector<json> lines = json_lines(waited.out);
  ASSERT_GE(lines.size(), 2u) << waited.out;
  EXPECT_EQ(lines.front()["phase"], "announce");
  EXPECT_EQ(lines.back()["phase"], "aborted");
  EXPECT_TRUE(lines.back().contains("error")) << waited.out;
  EXPECT_EQ(ringctl({"--host", c.nodes[1]->admin(), "abort", change}).exit_code, 1) << "already ended";
  EXPECT_EQ(ringctl({"--host", c.nodes[1]->admin(), "abort", "not-a-change"}).exit_code, 2);

  ASSERT_EQ(::kill(c.nodes[2]->pid(), SIGCONT), 0);
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  for (int v : {0, 1, 2}) {
    EXPECT_EQ(change_of(c, v, mover), nullptr);
    EXPECT_EQ((*c.member(v, mover))["tokens"], 16) << "rolled back: the old tokens";
  }
}

// removenode --wait of a killed node follows a phased removal; a second killed node holds it
// (named), removenode of that one is refused without --force and with it written at once, which
// lets the first complete. Both end REMOVED, owning nothing.
TEST(ClusterTest, RemovenodeWaitFollowsThePhasesAndForceUnblocksIt) {
  Cluster c(4);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s));
  const std::string first = c.id_of(2), second = c.id_of(3);
  c.nodes[2]->kill9();
  c.nodes[3]->kill9();
  ASSERT_TRUE(wait_until(
      [&] { return (*c.member(0, first))["liveness"] == "down" && (*c.member(0, second))["liveness"] == "down"; }, 30s));
  auto waiting = std::async(std::launch::async, [&] {
    return ringctl({"--json", "--host", c.nodes[0]->admin(), "removenode", first, "--wait"});
  });
  ASSERT_TRUE(wait_until(
      [&] {
        const json ch = change_of(c, 0, first);
        return ch.is_object() && ch["kind"] == "removenode" && ch["waiting_for"] == json::array({second});
      },
      30s))
      << change_of(c, 0, first).dump();
  EXPECT_EQ((*c.member(0, first))["status"], "LEAVING");
  int rc = -1;
  auto refused = ctl_json(c.nodes[1]->admin(), {"removenode", second}, &rc);
  EXPECT_EQ(rc, 1);
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->value("error", "").find("--force"), std::string::npos) << refused->dump();
  auto forced = ctl_json(c.nodes[1]->admin(), {"removenode", second, "--force"}, &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ((*forced)["phase"], "done");
  EXPECT_EQ((*forced)["node"], second);
  // The forced removal's id is followed like any change's, on every member holding the tombstone.
  for (int v : {0, 1}) {
    std::string err;
    std::optional<tools::HttpResponse> followed;
    ASSERT_TRUE(wait_until([&] {
      followed = tools::http_request(c.nodes[v]->admin(), "GET",
                                     "/v1/change?id=" + forced->value("change", ""), "", &err);
      return followed && followed->status == 200;
    }, 10s)) << err << (followed ? followed->body : "");
    const json j = json::parse(followed->body);
    EXPECT_EQ(j["phase"], "done") << j.dump();
    EXPECT_EQ(j["kind"], "removenode") << j.dump();
    EXPECT_EQ(j["node"], second) << j.dump();
  }
  RunResult waited = waiting.get();
  EXPECT_EQ(waited.exit_code, 0) << waited.out;
  const std::vector<json> lines = json_lines(waited.out);
  ASSERT_FALSE(lines.empty()) << waited.out;
  EXPECT_EQ(lines.front()["phase"], "announce");
  EXPECT_EQ(lines.back()["phase"], "done");
  EXPECT_EQ(lines.back()["node"], first);
  EXPECT_EQ(lines.size(), 5u) << waited.out;
  ASSERT_TRUE(wait_until([&] { return c.formed(2); }, 30s));
  for (int v : {0, 1}) {
    auto owners = ctl_json(c.nodes[v]->admin(), {"owners", "some-key"});
    ASSERT_TRUE(owners);
    for (const json& id : (*owners)["replicas"]) EXPECT_TRUE(id != first && id != second) << owners->dump();
  }
  EXPECT_EQ(ringctl({"--host", c.nodes[0]->admin(), "removenode", "not-a-node"}).exit_code, 2);
}

// A new ringd started with --replace of a SIGKILLed node takes over exactly its tokens as a
// phased change (ringctl status shows it, kind replace); the dead node ends REMOVED. A --replace
// naming no member stops the new node with exit 1 and a line — LEFT everywhere, not a JOINING
// ghost whose barrier would hold the next change: a move then completes without --force. A
// malformed one exits 2.
TEST(ClusterTest, ANewNodeStartedWithReplaceTakesOverADeadNodesTokens) {
  Cluster c(4);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s));
  const std::string dead = c.id_of(3);
  auto ring_of = [&](int viewer, const std::string& id) {
    std::vector<std::string> out;
    auto r = ctl_json(c.nodes[viewer]->admin(), {"ring"});
    for (const json& t : (*r)["tokens"]) {
      if (t["node"] == id) out.push_back(t["token"]);
    }
    return out;
  };
  const std::vector<std::string> tokens = ring_of(0, dead);
  ASSERT_EQ(tokens.size(), 16u);
  c.nodes[3]->kill9();
  ASSERT_TRUE(wait_until([&] { return (*c.member(0, dead))["liveness"] == "down"; }, 30s));
  c.ports.push_back(0);
  c.start(4, {"--seeds", c.seed(), "--replace", dead});
  ASSERT_TRUE(c.nodes[4]->wait_serving());
  const std::string fresh = c.id_of(4);
  std::set<std::string> kinds;
  ASSERT_TRUE(wait_until(
      [&] {
        auto m = c.member(0, fresh);
        if (m && (*m)["change"].is_object()) kinds.insert((*m)["change"]["kind"].get<std::string>());
        return m && (*m)["status"] == "NORMAL" && (*m)["tokens"] == 16;
      },
      60s))
      << c.nodes[4]->log();
  EXPECT_TRUE(kinds.empty() || kinds == std::set<std::string>{"replace"}) << "only the replace was seen in flight";
  EXPECT_EQ(ring_of(0, fresh), tokens) << "exactly the dead node's tokens";
  EXPECT_TRUE(ring_of(0, dead).empty());
  ASSERT_TRUE(wait_until([&] { return (*c.member(1, dead))["status"] == "REMOVED"; }, 30s));
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s));

  // Nothing to replace: exit 1 with the reason; not a UUID: exit 2.
  c.ports.push_back(0);
  c.start(5, {"--seeds", c.seed(), "--replace", "11111111-2222-3333-4444-555555555555"});
  EXPECT_EQ(c.nodes[5]->wait_exit(30s), 1);
  EXPECT_NE(c.nodes[5]->log().find("no such node"), std::string::npos) << c.nodes[5]->log();
  auto statuses = [&] {
    std::multiset<std::string> out;
    const std::optional<json> status = ctl_json(c.nodes[0]->admin(), {"status"});
    for (const json& m : status ? (*status)["nodes"] : json::array()) out.insert(m["status"].get<std::string>());
    return out;
  };
  EXPECT_TRUE(wait_until([&] { return statuses().count("LEFT") == 1; }, 10s)) << "the node that gave up";
  EXPECT_EQ(statuses().count("JOINING"), 0u);
  const std::string mover = c.id_of(0);
  int rc = -1;
  ctl_json(c.nodes[0]->admin(), {"move", "--tokens", "4242,424242"}, &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_TRUE(wait_until(
      [&] {
        auto m = c.member(0, mover);
        return m && (*m)["status"] == "NORMAL" && (*m)["tokens"] == 2;
      },
      60s))
      << "the move waits for: " << (*c.member(0, mover))["change"].dump();
  c.ports.push_back(0);
  c.start(6, {"--seeds", c.seed(), "--replace", "not-a-node"});
  EXPECT_EQ(c.nodes[6]->wait_exit(10s), 2);
}

// A move held by a hung member (SIGSTOP) names it and waits; once the member runs again the move
// resumes on its own and `move --wait` ends done (exit 0) with the new tokens.
TEST(ClusterTest, AMoveBlockedByAHungMemberResumesWhenItReturns) {
  Cluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  const std::string mover = c.id_of(1);
  auto held = hold_a_move_on_a_hung_member(c);
  ASSERT_TRUE(held);
  ASSERT_EQ(::kill(c.nodes[2]->pid(), SIGCONT), 0);
  RunResult waited = held->waiting.get();
  EXPECT_EQ(waited.exit_code, 0) << waited.out;
  const std::vector<json> lines = json_lines(waited.out);
  ASSERT_FALSE(lines.empty()) << waited.out;
  EXPECT_EQ(lines.back()["phase"], "done");
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  EXPECT_EQ((*c.member(0, mover))["tokens"], 3) << "the new tokens";
}

// The mover is SIGKILLed in each phase of its move in turn (announce, write_both, read_new,
// release) and started again on its data dir: the change resumes from the phase it had
// gossiped and completes with the new tokens; the cluster converges each time.
TEST(ClusterTest, AMoverKilledInEachPhaseResumesItsMoveAfterRestart) {
  Cluster c(4);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s));
  const std::string mover = c.id_of(1);
  const char* phases[] = {"announce", "write_both", "read_new", "release"};
  std::set<std::string> killed_in;
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE(std::string("kill in ") + phases[k]);
    const std::string tokens = std::to_string(1000 + k) + "," + std::to_string(2000 + k);
    int rc = -1;
    auto started = ctl_json(c.nodes[1]->admin(), {"move", "--tokens", tokens}, &rc);
    ASSERT_EQ(rc, 0);
    const std::string change = (*started)["change"];
    auto phase_of = [&](int viewer) -> std::string {
      int prc = -1;
      auto j = ctl_json(c.nodes[viewer]->admin(), {"status"}, &prc);
      if (!j) return "";
      for (const json& m : (*j)["nodes"]) {
        if (m["id"] == mover && m["change"].is_object() && m["change"]["id"] == change) return m["change"]["phase"];
      }
      return "";
    };
    ASSERT_TRUE(wait_until([&] { return phase_of(1) == phases[k]; }, 30s)) << "never saw " << phases[k];
    c.nodes[1]->kill9();
    ASSERT_TRUE(wait_until([&] { return (*c.member(0, mover))["liveness"] == "down"; }, 30s));
    killed_in.insert(phase_of(0));  // what the survivors hold: the phase it last gossiped
    c.start(1, {"--seeds", c.seed()});
    ASSERT_TRUE(c.nodes[1]->wait_serving());
    ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 60s)) << c.nodes[1]->log();
    std::vector<std::string> owned;
    auto ring = ctl_json(c.nodes[0]->admin(), {"ring"});
    for (const json& t : (*ring)["tokens"]) {
      if (t["node"] == mover) owned.push_back(t["token"]);
    }
    EXPECT_EQ(owned, (std::vector<std::string>{std::to_string(1000 + k), std::to_string(2000 + k)}));
  }
  EXPECT_GE(killed_in.size(), 3u) << "killed in distinct phases (one may have moved on before the kill)";
}

TEST(ClusterTest, ADecommissionedNodeLeavesRoutingAnswersAsLeftAndRefusesToStartAgain) {
  Cluster c(4);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s));
  const std::string leaver = c.id_of(3);
  RunResult waited = ringctl({"--json", "--host", c.nodes[3]->admin(), "decommission", "--wait"});
  EXPECT_EQ(waited.exit_code, 0) << waited.out;
  EXPECT_EQ(phases_printed(waited.out, "decommission", leaver), kAllPhases) << waited.out;

  // The others route without it; it still answers, as LEFT.
  ASSERT_TRUE(wait_until(
      [&] {
        for (int v : {0, 1, 2}) {
          auto m = c.member(v, leaver);
          if (!m || (*m)["status"] != "LEFT" || !tokens_of(c, v, leaver).empty()) return false;
        }
        return c.formed(3);
      },
      30s))
      << c.member(0, leaver).value_or(json()).dump();
  for (int v : {0, 1, 2}) {
    for (int k = 0; k < 10; ++k) {
      auto owners = ctl_json(c.nodes[v]->admin(), {"owners", "user:" + std::to_string(k)});
      ASSERT_TRUE(owners);
      for (const char* list : {"replicas", "reachable", "pending"}) {
        for (const json& id : (*owners)[list]) EXPECT_NE(id, leaver) << list;
      }
    }
  }
  auto self = c.member(3, leaver);
  ASSERT_TRUE(self) << "a LEFT node answers its admin API";
  EXPECT_EQ((*self)["status"], "LEFT");
  EXPECT_EQ((*self)["tokens"], 0);
  RunResult table = ringctl({"--host", c.nodes[3]->admin(), "status"});
  EXPECT_NE(table.out.find("UL  " + c.nodes[3]->listen()), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("Left the cluster"), std::string::npos) << table.out;
  EXPECT_EQ(ringctl({"--host", c.nodes[3]->admin(), "decommission"}).exit_code, 1) << "it left already";

  // Stopped and started again on its data dir: exit 3, one line saying it left.
  EXPECT_EQ(c.nodes[3]->terminate(), 0);
  c.start(3, {"--seeds", c.seed()});
  EXPECT_EQ(c.nodes[3]->wait_exit(10s), 3);
  EXPECT_NE(c.nodes[3]->log().find("left the cluster"), std::string::npos) << c.nodes[3]->log();
}

TEST(ClusterTest, ARebalanceDryRunChangesNothingThenRebalanceWaitBalancesABadlyPlacedNode) {
  Cluster c(3, true, {"--rf", "2"});  // RF 2 of 4 nodes: ownership can differ between nodes
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  // A fourth node joins on 16 neighbouring tokens: it owns almost nothing.
  std::string clustered;
  for (int t = 1000; t < 1016; ++t) clustered += (clustered.empty() ? "" : ",") + std::to_string(t);
  c.ports.push_back(free_port());
  c.start(3, {"--seeds", c.seed(), "--rf", "2", "--tokens", clustered});
  ASSERT_TRUE(c.nodes[3]->wait_serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(4); }, 30s));
  const std::string mover = c.id_of(3);
  const std::string digest = (*ctl_json(c.nodes[0]->admin(), {"ring"}))["ring_digest"];

  int rc = -1;
  auto plan = ctl_json(c.nodes[3]->admin(), {"rebalance", "--dry-run"}, &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(plan);
  EXPECT_EQ((*plan)["node"], mover);
  EXPECT_EQ((*plan)["balanced"], false);
  EXPECT_EQ((*plan)["tokens"].size(), 16u);
  EXPECT_FALSE((*plan)["moves"].empty());
  EXPECT_GT((*plan)["ownership_after"][mover].get<double>(), (*plan)["ownership_before"][mover].get<double>());
  for (auto& n : c.nodes) {
    auto ring = ctl_json(n->admin(), {"ring"});
    EXPECT_EQ((*ring)["ring_digest"], digest) << "a dry run announces nothing";
    EXPECT_EQ((*ring)["pending"], json::array());
  }
  EXPECT_EQ(change_of(c, 3, mover), nullptr);

  RunResult waited = ringctl({"--json", "--host", c.nodes[3]->admin(), "rebalance", "--wait"});
  EXPECT_EQ(waited.exit_code, 0) << waited.out;
  EXPECT_EQ(phases_printed(waited.out, "rebalance", mover), kAllPhases) << waited.out;
  std::set<std::string> planned;
  for (const json& t : (*plan)["tokens"]) planned.insert(t.get<std::string>());
  ASSERT_TRUE(wait_until(
      [&] {
        for (int v : {0, 1, 2, 3}) {
          if (tokens_of(c, v, mover) != planned) return false;
        }
        return c.formed(4);
      },
      30s));

  // Balanced now: nothing to do, exit 0, no change started.
  auto again = ctl_json(c.nodes[3]->admin(), {"rebalance"}, &rc);
  EXPECT_EQ(rc, 0);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)["balanced"], true) << again->dump();
  EXPECT_EQ((*again)["tokens"], json::array());
  EXPECT_FALSE(again->contains("change"));
  RunResult human = ringctl({"--host", c.nodes[3]->admin(), "rebalance", "--wait"});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("already balanced"), std::string::npos) << human.out;
  EXPECT_EQ(change_of(c, 3, mover), nullptr);
}

// A data dir restored from a backup taken before its node moved away from its tokens, one of
// which another node claimed since: the restarted node adopts the cluster's newer record of
// itself, and the token stays with its new owner.
TEST(ClusterTest, ADataDirRestoredFromABackupDoesNotBringBackOldTokens) {
  Cluster c(3);
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));
  const std::string restored = c.id_of(2), taker = c.id_of(1);
  ASSERT_EQ(c.nodes[2]->terminate(), 0);
  const fs::path backup = c.tmp.path() / "backup";
  fs::copy(c.dir(2), backup, fs::copy_options::recursive);
  c.start(2, {"--seeds", c.seed()});
  ASSERT_TRUE(c.nodes[2]->wait_serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3); }, 30s));

  const std::set<std::string> old_tokens = tokens_of(c, 0, restored);
  ASSERT_FALSE(old_tokens.empty());
  const std::string freed = *old_tokens.begin();
  int rc = -1;
  ctl_json(c.nodes[2]->admin(), {"move", "--tokens", "100,200,300"}, &rc);
  ASSERT_EQ(rc, 0);
  const std::set<std::string> moved = {"100", "200", "300"};
  ASSERT_TRUE(wait_until([&] { return tokens_of(c, 0, restored) == moved && c.formed(3); }, 30s));
  std::set<std::string> taken = tokens_of(c, 1, taker);
  taken.erase(taken.begin());
  taken.insert(freed);
  std::string list;
  for (const std::string& t : taken) list += (list.empty() ? "" : ",") + t;
  ctl_json(c.nodes[1]->admin(), {"move", "--tokens", list}, &rc);
  ASSERT_EQ(rc, 0);
  ASSERT_TRUE(wait_until([&] { return tokens_of(c, 0, taker) == taken && c.formed(3); }, 30s));

  ASSERT_EQ(c.nodes[2]->terminate(), 0);
  fs::remove_all(c.dir(2));
  fs::copy(backup, c.dir(2), fs::copy_options::recursive);
  c.start(2, {"--seeds", c.seed()});
  ASSERT_TRUE(c.nodes[2]->wait_serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(3) && tokens_of(c, 2, restored) == moved; }, 30s))
      << c.nodes[2]->log();
  for (int v : {0, 1, 2}) {
    EXPECT_EQ(tokens_of(c, v, restored), moved) << "viewer " << v;
    EXPECT_EQ(tokens_of(c, v, taker), taken) << "viewer " << v;
  }
  EXPECT_NE(c.nodes[2]->log().find("data dir is behind"), std::string::npos) << c.nodes[2]->log();
}

TEST(ClusterTest, PersistedTokensWinAndDifferentTokensOnRestartAreRefused) {
  TempDir tmp;
  const std::vector<std::string> base = {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  auto tokens_of = [](const std::string& admin) {
    std::set<std::string> out;
    if (auto ring = ctl_json(admin, {"ring"})) {
      for (const json& t : (*ring)["tokens"]) out.insert(t["token"].get<std::string>());
    }
    return out;
  };
  const std::set<std::string> mine = {"11", "22", "33"};
  {
    Ringd n(tmp.path() / "n", with({"--tokens", "11,22,33"}));
    ASSERT_TRUE(n.wait_serving());
    ASSERT_TRUE(wait_until([&] { return tokens_of(n.admin()) == mine; }, 20s));
    ASSERT_EQ(n.terminate(), 0);
  }
  {
    Ringd n(tmp.path() / "n", with({"--tokens", "44,55"}));
    EXPECT_EQ(n.wait_exit(20s), 2);
    EXPECT_NE(n.log().find("ringctl move"), std::string::npos) << n.log();
  }
  {
    Ringd n(tmp.path() / "n", with({"--num-tokens", "8"}));  // ignored: it already owns tokens
    ASSERT_TRUE(n.wait_serving());
    EXPECT_EQ(tokens_of(n.admin()), mine) << "persisted tokens win, at once";
    EXPECT_EQ(n.terminate(), 0);
  }
}

TEST(ClusterTest, AdvertisedNameIsWhatPeersUse) {
  TempDir tmp;
  const uint16_t port = free_port();
  const std::string advertised = "localhost:" + std::to_string(port);
  Ringd a(tmp.path() / "a", {"--listen", "127.0.0.1:" + std::to_string(port), "--admin", "127.0.0.1:0",
                            "--advertise", advertised, "--seeds", advertised});
  ASSERT_TRUE(a.wait_serving()) << a.log();
  EXPECT_EQ(a.listen(), advertised) << "addresses.json holds the advertised address";
  Ringd b(tmp.path() / "b", {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--seeds", advertised});
  ASSERT_TRUE(b.wait_serving());
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = ctl_json(b.admin(), {"status"});
        if (!s || (*s)["nodes"].size() != 2 || !s->value("converged", false)) return false;
        for (const json& m : (*s)["nodes"]) {
          if (m["self"] == false) return m["address"] == advertised && m["liveness"] == "up";
        }
        return false;
      },
      30s));
}

TEST(ClusterTest, TheGossipKeyEncryptsEveryFrameAndConfigFileSettingsApply) {
  TempDir tmp;
  const fs::path key = tmp.path() / "gossip.key";
  std::ofstream(key) << "8J9qvU1m0m1i7d6Fv0ZJ3T2O5t5bqkQyQeB4z3mB1kA=\n";
  const uint16_t port = free_port();
  const fs::path conf = tmp.path() / "a.conf";
  std::ofstream(conf) << "# node a\nlisten = 127.0.0.1:" << port << "\nadmin = 127.0.0.1:0\ngossip-key-file = " << key.string()
                      << "\nrack = r9\n";
  Ringd a(tmp.path() / "a", {"--config", conf.string(), "--rack", "r1"});
  ASSERT_TRUE(a.wait_serving()) << a.log();
  const std::string seed = "127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(a.listen(), seed) << "listen from the config file";
  Ringd b(tmp.path() / "b", {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--seeds", seed, "--gossip-key-file",
                            key.string()});
  Ringd c(tmp.path() / "c", {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--seeds", seed});
  ASSERT_TRUE(b.wait_serving() && c.wait_serving());
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = ctl_json(a.admin(), {"status"});
        return s && (*s)["nodes"].size() == 2 && s->value("converged", false);
      },
      30s));
  auto s = ctl_json(a.admin(), {"status"});
  for (const json& m : (*s)["nodes"]) {
    if (m["self"] == true) {
      EXPECT_EQ(m["rack"], "r1") << "the flag wins over the config file";
    }
  }
  EXPECT_TRUE(wait_until([&] { return metric(a.admin(), "ringkeeper_gossip_frames_rejected_total{reason=\"plaintext\"}") > 0; }, 20s))
      << "the node without the key is refused";
  EXPECT_EQ((*ctl_json(c.admin(), {"status"}))["nodes"].size(), 1u) << "and never merges";
}

// A bad --config file: ringd exits 2 at once, with one line naming the setting and the file.
TEST(ClusterTest, BadConfigFileExitsTwoNamingTheSettingAndTheFile) {
  TempDir tmp;
  auto expect_refused = [&](const std::string& name, const std::string& text, const std::string& message) {
    const fs::path conf = tmp.path() / (name + ".conf");
    std::ofstream(conf) << text;
    Ringd n(tmp.path() / name, {"--config", conf.string()});
    EXPECT_EQ(n.wait_exit(10s), 2) << n.log();
    const std::string log = n.log();
    EXPECT_TRUE(log.starts_with("ringd: ")) << log;
    EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
    EXPECT_NE(log.find(message), std::string::npos) << log;
    EXPECT_NE(log.find(conf.string()), std::string::npos) << log;
  };
  expect_refused("unknown", "# a typo\ncolour = blue\n", "unknown setting 'colour'");
  expect_refused("bad-value", "listen = \"nowhere\"\n", "listen (in " + (tmp.path() / "bad-value.conf").string() + "): ");
}

}  // namespace
}  // namespace ringkeeper::testing
