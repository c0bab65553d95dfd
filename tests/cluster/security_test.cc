// Multi-process security tests: real ringd processes on loopback with encrypted gossip, the
// keyring rotated by `ringctl keys` across a running cluster, the old --secret-file refused, and
// the admin API over HTTPS with a certificate the test makes at run time (openssl CLI). Ports are
// picked at run time; every wait is a condition with a deadline.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include "tests/cluster/harness.h"
#include "tools/http_client.h"

namespace ringkeeper::testing {
namespace {

using namespace std::chrono_literals;

// Two keys as `openssl rand -base64 32` prints them, and their fingerprints (SHA-256, 16 hex).
const std::string kKey1 = "8J9qvU1m0m1i7d6Fv0ZJ3T2O5t5bqkQyQeB4z3mB1kA=";
const std::string kKey2 = "q1Zb3v6mN0pYt8Rk2LdC5xWfH9sJ4aEgU7iOo1ZzQ0M=";

// Runs a command line through the shell; its exit code and stdout+stderr.
RunResult shell(const std::string& cmd) { return run_shell(cmd + " 2>&1"); }

// ringctl with stderr too (the harness's ringctl() keeps stdout only).
RunResult ringctl_all(const std::vector<std::string>& args) {
  std::string cmd = RINGCTL_PATH;
  for (const std::string& a : args) cmd += " '" + a + "'";
  return shell(cmd);
}

fs::path write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
  return p;
}

uint64_t metric(const std::string& admin, const std::string& line_prefix) {
  std::string err;
  auto r = tools::http_request(admin, "GET", "/metrics", "", &err);
  if (!r) return 0;
  const size_t at = r->body.find("\n" + line_prefix + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(r->body.substr(at + line_prefix.size() + 2));
}

struct Nodes {
  TempDir tmp;
  std::vector<uint16_t> ports;
  std::vector<std::unique_ptr<Ringd>> nodes;

  // n nodes with `flags`, node 0 the seed of all.
  Nodes(int n, const std::vector<std::string>& flags) {
    for (int i = 0; i < n; ++i) ports.push_back(free_port());
    for (int i = 0; i < n; ++i) start(i, flags);
  }
  std::string seed() const { return "127.0.0.1:" + std::to_string(ports[0]); }
  void start(int i, std::vector<std::string> flags) {
    std::vector<std::string> args = {"--listen", "127.0.0.1:" + std::to_string(ports[i]), "--admin", "127.0.0.1:0",
                                     "--seeds", seed()};
    args.insert(args.end(), flags.begin(), flags.end());
    auto node = std::make_unique<Ringd>(tmp.path() / ("n" + std::to_string(i)), args);
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
  // Node i sees `n` members, every one up, and is converged.
  bool formed(size_t i, size_t n) {
    auto s = ctl_json(nodes[i]->admin(), {"status"});
    if (!s || !s->value("converged", false) || (*s)["nodes"].size() != n) return false;
    for (const json& m : (*s)["nodes"]) {
      if (m["liveness"] != "up" || m["status"] != "NORMAL") return false;
    }
    return true;
  }
  // No node marks any member anything but up.
  bool nobody_down() {
    for (auto& n : nodes) {
      auto s = ctl_json(n->admin(), {"status"});
      if (!s) return false;
      for (const json& m : (*s)["nodes"]) {
        if (m["liveness"] != "up") return false;
      }
    }
    return true;
  }
};

TEST(SecurityTest, ThreeNodesWithOneKeyConvergeAndANodeWithAnotherKeyNeverJoins) {
  TempDir keys;
  const fs::path k1 = write_file(keys.path() / "k1", kKey1 + "\n");
  const fs::path k2 = write_file(keys.path() / "k2", kKey2 + "\n");
  Nodes c(3, {"--gossip-key-file", k1.string()});
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(0, 3) && c.formed(1, 3) && c.formed(2, 3); }, 30s)) << c.nodes[0]->log();
  EXPECT_EQ(metric(c.nodes[0]->admin(), "ringkeeper_gossip_encrypted"), 1u);
  c.start(3, {"--gossip-key-file", k2.string()});
  ASSERT_TRUE(c.nodes[3]->wait_serving());
  EXPECT_TRUE(wait_until([&] { return metric(c.nodes[0]->admin(), "ringkeeper_gossip_frames_rejected_total{reason=\"bad_mac\"}") > 0; }, 20s))
      << "the seed cannot open the stranger's frames";
  EXPECT_NE(c.nodes[0]->log().find("no key in this node's keyring opens it"), std::string::npos) << c.nodes[0]->log();
  // A few rounds later it is still alone, and the cluster still three.
  EXPECT_TRUE(wait_until([&] { return metric(c.nodes[0]->admin(), "ringkeeper_gossip_frames_rejected_total{reason=\"bad_mac\"}") > 3; }, 20s));
  EXPECT_EQ((*ctl_json(c.nodes[3]->admin(), {"status"}))["nodes"].size(), 1u);
  EXPECT_TRUE(c.formed(0, 3));
}

TEST(SecurityTest, KeysRotateAcrossARunningClusterWithNoNodeDown) {
  TempDir keys;
  const fs::path k1 = write_file(keys.path() / "k1", kKey1 + "\n");
  Nodes c(3, {"--gossip-key-file", k1.string()});
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(0, 3) && c.formed(1, 3) && c.formed(2, 3); }, 30s));
  const std::string admin = c.nodes[1]->admin();
  int rc = -1;
  auto listed = ctl_json(admin, {"keys", "list"}, &rc);
  ASSERT_TRUE(listed && rc == 0);
  const std::string fp1 = (*listed)["primary"];
  EXPECT_EQ((*listed)["keys"], json::array({json{{"fingerprint", fp1}, {"nodes", 3}}}));

  auto installed = ctl_json(admin, {"keys", "install", kKey2}, &rc);
  ASSERT_TRUE(installed) << rc;
  EXPECT_EQ(rc, 0) << installed->dump();
  EXPECT_EQ((*installed)["nodes"], 3);
  EXPECT_EQ((*installed)["acked"], 3);
  EXPECT_EQ((*installed)["failed"], json::array());
  const std::string fp2 = (*installed)["key"];
  EXPECT_TRUE(c.nobody_down());
  auto used = ctl_json(c.nodes[2]->admin(), {"keys", "use", kKey2}, &rc);
  ASSERT_TRUE(used && rc == 0) << rc;
  EXPECT_EQ((*used)["acked"], 3);
  EXPECT_TRUE(c.nobody_down());
  auto removed = ctl_json(admin, {"keys", "remove", kKey1}, &rc);
  ASSERT_TRUE(removed && rc == 0) << rc;
  EXPECT_EQ((*removed)["acked"], 3);
  listed = ctl_json(c.nodes[0]->admin(), {"keys", "list"}, &rc);
  ASSERT_TRUE(listed && rc == 0);
  EXPECT_EQ((*listed)["primary"], fp2);
  EXPECT_EQ((*listed)["keys"], json::array({json{{"fingerprint", fp2}, {"nodes", 3}}}));
  // Gossip carries on under the new key alone: still converged, nobody down.
  EXPECT_TRUE(wait_until([&] { return c.formed(0, 3) && c.formed(2, 3); }, 20s));
  EXPECT_TRUE(c.nobody_down());

  // The primary cannot be removed: exit 1 with a clear line.
  RunResult refused = ringctl_all({"--host", admin, "keys", "remove", kKey2});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.out.find("is the primary key"), std::string::npos) << refused.out;
  RunResult bad = ringctl_all({"--host", admin, "keys", "install", "c2hvcnQ="});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("not a base64-encoded 32-byte key"), std::string::npos) << bad.out;
  RunResult human = ringctl_all({"--host", admin, "keys", "list"});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find(fp2 + "   3 of 3"), std::string::npos) << human.out;
  EXPECT_EQ(human.out.find(kKey2), std::string::npos) << "keys are never printed";

  // Restarted with the old key file: refused, pointing to `ringctl keys install`; with the
  // current key: nothing to do, it rejoins.
  ASSERT_EQ(c.nodes[2]->terminate(), 0);
  c.start(2, {"--gossip-key-file", k1.string()});
  EXPECT_EQ(c.nodes[2]->wait_exit(10s), 2);
  EXPECT_NE(c.nodes[2]->log().find("ringctl keys install"), std::string::npos) << c.nodes[2]->log();
  c.start(2, {"--gossip-key-file", write_file(keys.path() / "k2", kKey2 + "\n").string()});
  ASSERT_TRUE(c.nodes[2]->wait_serving());
  EXPECT_TRUE(wait_until([&] { return c.formed(0, 3) && c.formed(2, 3); }, 30s));
}

TEST(SecurityTest, TheOldSecretFileExitsTwoNamingTheGossipKeyFile) {
  TempDir tmp;
  const fs::path secret = write_file(tmp.path() / "secret", "correct horse battery staple\n");
  Ringd n(tmp.path() / "n", {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--secret-file", secret.string()});
  EXPECT_EQ(n.wait_exit(10s), 2);
  const std::string log = n.log();
  EXPECT_TRUE(log.starts_with("ringd: --secret-file is no longer supported")) << log;
  EXPECT_NE(log.find("--gossip-key-file"), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  Ringd bad(tmp.path() / "b", {"--listen", "127.0.0.1:0", "--gossip-key-file",
                               write_file(tmp.path() / "short", "c2hvcnQ=\n").string()});
  EXPECT_EQ(bad.wait_exit(10s), 2);
  EXPECT_NE(bad.log().find("decodes to 5 bytes"), std::string::npos) << bad.log();
}

TEST(SecurityTest, TheAdminApiOverHttpsAnswersRingctlWithTheCaAndRefusesPlainHttpClearly) {
  TempDir tmp;
  const fs::path cert = tmp.path() / "admin.pem", key = tmp.path() / "admin.key";
  // A self-signed certificate for 127.0.0.1, made now: it is its own CA.
  RunResult made = shell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
                         "/CN=ringkeeper-test -addext subjectAltName=IP:127.0.0.1 -keyout '" + key.string() +
                         "' -out '" + cert.string() + "'");
  ASSERT_EQ(made.exit_code, 0) << made.out;
  const fs::path token = write_file(tmp.path() / "token", "t0ken\n");
  Ringd n(tmp.path() / "n", {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--admin-tls-cert", cert.string(),
                             "--admin-tls-key", key.string(), "--admin-token-file", token.string(),
                             "--admin-token-reads"});
  // The harness's wait_serving speaks plain HTTP: wait here for an HTTPS answer instead.
  std::string admin;
  RunResult info;
  ASSERT_TRUE(wait_until(
      [&] {
        std::ifstream f(n.dir() / "addresses.json");
        const json j = json::parse(f, nullptr, false);
        if (!n.running() || j.is_discarded()) return false;
        admin = j.value("admin", "");
        info = ringctl_all({"--cacert", cert.string(), "--admin-token-file", token.string(), "--host", admin,
                            "--json", "info"});
        return info.exit_code == 0;
      },
      20s))
      << info.out << n.log();
  EXPECT_NE(info.out.find("\"cluster\":\"ringkeeper\""), std::string::npos) << info.out;
  // Plain HTTP to the HTTPS port: a readable refusal, exit 1.
  RunResult plain = ringctl_all({"--host", admin, "info"});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_NE(plain.out.find("this admin port speaks HTTPS"), std::string::npos) << plain.out;
  // A CA that did not sign it: the handshake fails, ringctl says so (exit 3, not reached).
  const fs::path other = tmp.path() / "other.pem", other_key = tmp.path() / "other.key";
  ASSERT_EQ(shell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=other "
                  "-addext subjectAltName=IP:127.0.0.1 -keyout '" + other_key.string() + "' -out '" + other.string() + "'")
                .exit_code,
            0);
  RunResult untrusted = ringctl_all({"--cacert", other.string(), "--host", admin, "info"});
  EXPECT_EQ(untrusted.exit_code, 3);
  EXPECT_NE(untrusted.out.find("TLS handshake failed"), std::string::npos) << untrusted.out;
  EXPECT_EQ(ringctl_all({"--cacert", (tmp.path() / "missing.pem").string(), "--host", admin, "info"}).exit_code, 2);
  // --admin-token-reads: loopback callers are trusted as for writes; the node still serves.
  EXPECT_TRUE(wait_until([&] { return ringctl_all({"--cacert", cert.string(), "--host", admin, "health"}).exit_code == 0; },
                         20s));
  // A bad certificate file: exit 2 at start, naming the flag.
  Ringd broken(tmp.path() / "b", {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--admin-tls-cert",
                                  token.string(), "--admin-tls-key", key.string()});
  EXPECT_EQ(broken.wait_exit(10s), 2);
  EXPECT_NE(broken.log().find("--admin-tls-cert: cannot load"), std::string::npos) << broken.log();
}

TEST(SecurityTest, EncryptionIsTurnedOnAcrossARunningClusterWithoutDowntime) {
  Nodes c(3, {"--gossip-accept-plaintext"});
  ASSERT_TRUE(c.serving());
  ASSERT_TRUE(wait_until([&] { return c.formed(0, 3) && c.formed(1, 3) && c.formed(2, 3); }, 30s));
  int rc = -1;
  auto installed = ctl_json(c.nodes[0]->admin(), {"keys", "install", kKey1}, &rc);
  ASSERT_TRUE(installed && rc == 0) << rc;
  auto used = ctl_json(c.nodes[0]->admin(), {"keys", "use", kKey1}, &rc);
  ASSERT_TRUE(used && rc == 0) << rc;
  for (auto& n : c.nodes) EXPECT_EQ(metric(n->admin(), "ringkeeper_gossip_encrypted"), 1u);
  // Every node sends sealed frames now: the plaintext ones taken stop growing.
  const uint64_t plain = metric(c.nodes[0]->admin(), "ringkeeper_gossip_plaintext_accepted_total");
  EXPECT_TRUE(wait_until([&] { return c.formed(0, 3) && c.formed(1, 3) && c.formed(2, 3); }, 20s));
  EXPECT_EQ(metric(c.nodes[0]->admin(), "ringkeeper_gossip_plaintext_accepted_total"), plain);
  EXPECT_TRUE(c.nobody_down());
  // The last step: restarted without the migration flag (the keyring is in the data dir).
  ASSERT_EQ(c.nodes[1]->terminate(), 0);
  c.start(1, {});
  ASSERT_TRUE(c.nodes[1]->wait_serving());
  EXPECT_TRUE(wait_until([&] { return c.formed(0, 3) && c.formed(1, 3); }, 30s));
  EXPECT_EQ(metric(c.nodes[1]->admin(), "ringkeeper_gossip_encrypted"), 1u);
}

}  // namespace
}  // namespace ringkeeper::testing
