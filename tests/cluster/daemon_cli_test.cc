// The daemons and CLIs as an operator meets them, on real processes: exit codes and one-line
// messages of ringctl, ringsim and kvd for bad input, the admin port's answers to oversized or
// malformed bodies, ringctl --wait on a node that stops answering, signals and file warnings.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/cluster/harness.h"
#include "tools/http_client.h"

namespace ringkeeper::testing {
namespace {

using namespace std::chrono_literals;

// Runs `binary` with `args`; its exit code and what it printed on stdout and stderr together.
RunResult run(const std::string& binary, const std::vector<std::string>& args) {
  std::string cmd = binary;
  for (const std::string& a : args) cmd += " '" + a + "'";
  return run_shell(cmd + " 2>&1");
}

// One ringd on ephemeral ports, serving.
struct OneNode {
  TempDir tmp;
  Ringd node;
  explicit OneNode(std::vector<std::string> extra = {})
      : node(tmp.path() / "n0", with_ports(std::move(extra))) {}
  static std::vector<std::string> with_ports(std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"});
    return extra;
  }
};

TEST(DaemonCliTest, AdminBodiesOverTheLimitGet413AndMalformedJsonSaysWhere) {
  OneNode n;
  ASSERT_TRUE(n.node.wait_serving()) << n.node.log();
  std::string error;
  auto big = tools::http_request(n.node.admin(), "POST", "/v1/move", std::string(2 << 20, ' '), &error);
  ASSERT_TRUE(big) << "no answer (an empty reply): " << error;
  EXPECT_EQ(big->status, 413) << big->body;
  EXPECT_NE(big->body.find("{\"error\":\"request body over 1 MiB\"}"), std::string::npos) << big->body;

  auto bad = tools::http_request(n.node.admin(), "POST", "/v1/move", R"({"tokens": ["1",)", &error);
  ASSERT_TRUE(bad) << error;
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("malformed JSON: parse error at line 1, column 17"), std::string::npos) << bad->body;
  auto info = tools::http_request(n.node.admin(), "GET", "/v1/info", "", &error);
  ASSERT_TRUE(info) << error;
  EXPECT_EQ(info->status, 200) << "still serving";
}

TEST(DaemonCliTest, RingctlUsageErrorsExit2WithALineSayingWhat) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--host", "http://127.0.0.1:7180", "status"}, "HOST:PORT, without a scheme"},
      {{"--host", "127.0.0.1", "status"}, "got '127.0.0.1'"},
      {{"move", "--tokens", "18446744073709551616"}, "not an unsigned 64-bit decimal token"},
      {{"move", "--tokens", "abc"}, "not an unsigned 64-bit decimal token"},
      {{"move", "--tokens", "--dry-run"}, "--tokens needs a value"},
      {{"bogus"}, "unknown command 'bogus' (commands: info, status, ring,"},
      {{"keys", "bogus"}, "unknown command 'bogus' for keys (commands: list, install, use, remove)"},
      {{}, "A subcommand is required"},
  };
  for (const Case& c : cases) {
    RunResult r = run(RINGCTL_PATH, c.args);
    const std::string what = c.args.empty() ? "(nothing)" : c.args.back();
    EXPECT_EQ(r.exit_code, 2) << what << ": " << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << what << ": " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
}

TEST(DaemonCliTest, RingctlTakesItsGlobalOptionsAfterTheSubcommandToo) {
  OneNode n;
  ASSERT_TRUE(n.node.wait_serving()) << n.node.log();
  RunResult r = run(RINGCTL_PATH, {"ring", "--json", "--host", n.node.admin()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  json j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_TRUE(j.contains("ring_digest"));
}

// An admin port that answers `move` with a change, then never answers again (a hung node: the
// kernel still takes connections into the backlog).
class HangingAdmin {
 public:
  HangingAdmin() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    address_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    thread_ = std::thread([this] { answer_once(); });
  }
  ~HangingAdmin() {
    thread_.join();
    ::close(fd_);
  }
  const std::string& address() const { return address_; }

 private:
  void answer_once() {
    const int c = ::accept(fd_, nullptr, nullptr);
    std::string request;
    char buf[4096];
    // The request: its head, then Content-Length bytes of body.
    for (ssize_t n; (n = ::recv(c, buf, sizeof buf, 0)) > 0;) {
      request.append(buf, static_cast<size_t>(n));
      const size_t head = request.find("\r\n\r\n");
      const size_t length_at = request.find("Content-Length: ");
      if (head != std::string::npos && length_at != std::string::npos &&
          request.size() >= head + 4 + std::stoul(request.substr(length_at + 16))) {
        break;
      }
    }
    const std::string body = R"({"change": "7c5c5671-8e93-497d-8ee6-b616d73dbf94", "kind": "move", )"
                             R"("node": "69ee9b1a-0000-4000-8000-000000000001", "phase": "announce", "tokens": ["5"]})";
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)!::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(c);
  }

  int fd_ = -1;
  std::string address_;
  std::thread thread_;
};

// The contract: "If the node stays unreachable for 10 s while ringctl waits, it exits 3" — the
// first poll's own 10 s timeout used to come on top (21 s).
TEST(DaemonCliTest, MoveWaitGivesUpOnANodeThatStopsAnsweringAfterTenSeconds) {
  HangingAdmin admin;
  const auto started = std::chrono::steady_clock::now();
  RunResult r = run(RINGCTL_PATH, {"--host", admin.address(), "move", "--tokens", "5", "--wait"});
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_NE(r.out.find("lost the node at " + admin.address()), std::string::npos) << r.out;
  EXPECT_GE(took, 9.9) << r.out;
  EXPECT_LE(took, 12.0) << "10 s of silence, counted from the first failed poll";
}

TEST(DaemonCliTest, RingsimUsageErrorsExit2) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"converge"}, {"converge", "--nodes", "1"}, {"bogus"}, {}, {"change", "--nodes", "3", "--kind", "nope"}}) {
    RunResult r = run(RINGSIM_PATH, args);
    EXPECT_EQ(r.exit_code, 2) << (args.empty() ? "" : args.front()) << ": " << r.out;
    EXPECT_NE(r.out.find("ringsim: "), std::string::npos) << r.out;
  }
  EXPECT_EQ(run(RINGSIM_PATH, {"--help"}).exit_code, 0);
}

TEST(DaemonCliTest, KvdRefusesOutOfRangeFlagsWithOneLineNamingThem) {
  TempDir tmp;
  RunResult r = run(KVD_PATH, {"--data-dir", (tmp.path() / "d").string(), "--kv-max-hints", "-1"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.out, "kvd: --kv-max-hints: expected 0..100000000 (hints, 0 keeps none), got '-1'\n");
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "d")) << "refused before the data dir is touched";
}

TEST(DaemonCliTest, SighupStopsRingdCleanly) {
  OneNode n;
  ASSERT_TRUE(n.node.wait_serving()) << n.node.log();
  ASSERT_EQ(::kill(n.node.pid(), SIGHUP), 0);
  EXPECT_EQ(n.node.wait_exit(10s), 0) << n.node.log();
  EXPECT_NE(n.node.log().find("SIGHUP: telling peers and stopping"), std::string::npos) << n.node.log();
}

TEST(DaemonCliTest, AKeyringOthersMayReadIsWarnedAboutAndStillUsed) {
  TempDir keys;
  const std::string key_file = (keys.path() / "gossip.key").string();
  std::ofstream(key_file) << "8J9qvU1m0m1i7d6Fv0ZJ3T2O5t5bqkQyQeB4z3mB1kA=\n";
  OneNode n({"--gossip-key-file", key_file});
  ASSERT_TRUE(n.node.wait_serving()) << n.node.log();
  EXPECT_EQ(n.node.log().find("keyring"), std::string::npos) << "0600 as written: " << n.node.log();
  ASSERT_EQ(n.node.terminate(), 0);
  const fs::path keyring = n.node.dir() / "keyring";
  fs::permissions(keyring, fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
  Ringd again(n.node.dir(), OneNode::with_ports({}));
  ASSERT_TRUE(again.wait_serving()) << again.log();
  const std::string log = again.log();
  EXPECT_NE(log.find("keyring " + keyring.string() + " has mode 0644: its group or others may read"),
            std::string::npos) << log;
  auto listed = ctl_json(again.admin(), {"keys", "list"});
  ASSERT_TRUE(listed);
  EXPECT_TRUE((*listed)["primary"].is_string()) << "the keyring is used: " << listed->dump();
}

}  // namespace
}  // namespace ringkeeper::testing
