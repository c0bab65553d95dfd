// The daemons and CLIs as an operator meets them, on real processes: exit codes and one-line
// messages of ringctl, ringsim and kvd for bad input, the admin port's answers to oversized or
// malformed bodies, ringctl --wait on a node that stops answering, signals and file warnings.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

}  // namespace
}  // namespace ringkeeper::testing
