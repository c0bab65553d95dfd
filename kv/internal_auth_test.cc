// InternalAuth on a Node opened (not started) on a temp data dir with a gossip key: a signed
// request verifies; changing any part the MAC covers, an old or future auth time, no signature
// or a forged one is refused with its verdict; a node without a key checks nothing; the
// migration mode takes unsigned requests but never a bad signature.
#include "kv/internal_auth.h"

#include <filesystem>
#include <functional>
#include <random>

#include <gtest/gtest.h>

#include "kv/http_util.h"
#include "kv/service.h"

namespace ringkeeper::kv {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'700'000'000'000;

class InternalAuthTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const fs::path& d : dirs_) fs::remove_all(d);
  }
  // A node on a fresh data dir; `key`: base64 gossip key, empty for none.
  std::unique_ptr<Node> open_node(const std::string& key) {
    NodeConfig c;
    c.data_dir = (fs::temp_directory_path() / ("ringkeeper-auth-" + std::to_string(std::random_device{}()))).string();
    dirs_.push_back(c.data_dir);
    c.listen = "127.0.0.1:0";
    c.gossip_key = key;
    auto n = Node::open(c);
    EXPECT_TRUE(n.ok()) << n.status().to_string();
    return n.ok() ? std::move(n).value() : nullptr;
  }
  static HttpRequest write(const std::string& value) {
    HttpRequest req{http::verb::put, "/internal/kv/k%2F1", 11};
    req.set(kRingVersionHeader, "7");
    req.set(kTimestampHeader, "123456");
    req.body() = value;
    req.prepare_payload();
    return req;
  }
  InternalAuth::Options options(bool accept_unsigned = false) {
    return {.accept_unsigned = accept_unsigned, .wall_ms = [this] { return now_; }};
  }
  // write("v") as `node` signs it now.
  HttpRequest signed_write(const Node& node) {
    HttpRequest req = write("v");
    InternalAuth(node, options()).sign(req);
    return req;
  }
  std::vector<fs::path> dirs_;
  int64_t now_ = kNow;
};

const std::string kKey = "8J9qvU1m0m1i7d6Fv0ZJ3T2O5t5bqkQyQeB4z3mB1kA=";
const std::string kOtherKey = "q1Zb3v6mN0pYt8Rk2LdC5xWfH9sJ4aEgU7iOo1ZzQ0M=";

TEST_F(InternalAuthTest, ASignedRequestVerifiesAndAnyChangeToWhatItCoversIsRefused) {
  auto node = open_node(kKey);
  ASSERT_TRUE(node);
  InternalAuth auth(*node, options());
  HttpRequest signed_req = signed_write(*node);
  EXPECT_EQ(signed_req[kAuthTimeHeader], std::to_string(kNow));
  EXPECT_EQ(signed_req[kAuthHeader].size(), 64u) << "hex of 32 bytes";
  EXPECT_EQ(auth.check(signed_req), AuthVerdict::kAccepted);
  // The MAC is the node's cluster MAC of auth_message(), as docs/security.md describes.
  EXPECT_EQ(std::string(signed_req[kAuthHeader]),
            to_hex(*node->cluster_mac(auth_message(signed_req, std::to_string(kNow)))));

  const std::vector<std::function<void(HttpRequest&)>> tamperings = {
      [](HttpRequest& r) { r.method(http::verb::get); },
      [](HttpRequest& r) { r.target("/internal/kv/k%2F2"); },
      [](HttpRequest& r) { r.body() = "w"; },
      [](HttpRequest& r) { r.set(kRingVersionHeader, "8"); },
      [](HttpRequest& r) { r.set(kTimestampHeader, "123457"); },
      [](HttpRequest& r) { r.set(kTombstoneHeader, "1"); },
      [](HttpRequest& r) { r.set(kHintForHeader, "00000000-0000-0000-0000-000000000001"); },
      [](HttpRequest& r) { r.set(kAuthTimeHeader, std::to_string(kNow + 1)); },
      [](HttpRequest& r) { r.set(kAuthHeader, std::string(64, '0')); },
      [](HttpRequest& r) { r.set(kAuthHeader, "not hex"); },
  };
  for (size_t i = 0; i < tamperings.size(); ++i) {
    HttpRequest r = signed_req;
    tamperings[i](r);
    EXPECT_EQ(auth.check(r), AuthVerdict::kBadMac) << "tampering " << i;
  }
  HttpRequest unsigned_req = write("v");
  EXPECT_EQ(auth.check(unsigned_req), AuthVerdict::kMissing);
  EXPECT_NE(describe(AuthVerdict::kMissing).find("signed"), std::string::npos);
}

TEST_F(InternalAuthTest, AuthTimesOutsideTheBoundAreRefusedAsStale) {
  auto node = open_node(kKey);
  ASSERT_TRUE(node);
  InternalAuth auth(*node, options());
  HttpRequest req = signed_write(*node);
  now_ = kNow + kMaxAuthSkewMs;
  EXPECT_EQ(auth.check(req), AuthVerdict::kAccepted) << "at the bound";
  now_ = kNow + kMaxAuthSkewMs + 1;
  EXPECT_EQ(auth.check(req), AuthVerdict::kStale) << "too old";
  now_ = kNow - kMaxAuthSkewMs - 1;
  EXPECT_EQ(auth.check(req), AuthVerdict::kStale) << "from the future";
  now_ = kNow;
  req.erase(kAuthTimeHeader);
  EXPECT_EQ(auth.check(req), AuthVerdict::kStale) << "no auth time";
  EXPECT_NE(describe(AuthVerdict::kStale).find("clock"), std::string::npos);
}

TEST_F(InternalAuthTest, AnotherClustersKeyIsRefusedAndANodeWithoutAKeyChecksNothing) {
  auto ours = open_node(kKey);
  auto theirs = open_node(kOtherKey);
  auto keyless = open_node("");
  ASSERT_TRUE(ours && theirs && keyless);
  HttpRequest req = signed_write(*theirs);
  EXPECT_EQ(InternalAuth(*ours, options()).check(req), AuthVerdict::kBadMac);
  EXPECT_EQ(InternalAuth(*keyless, options()).check(req), AuthVerdict::kAccepted);
  HttpRequest plain = write("v");
  InternalAuth(*keyless, options()).sign(plain);
  EXPECT_TRUE(plain[kAuthHeader].empty()) << "nothing to sign with";
  EXPECT_EQ(InternalAuth(*keyless, options()).check(plain), AuthVerdict::kAccepted);
}

TEST_F(InternalAuthTest, TheMigrationModeTakesUnsignedRequestsButNeverABadSignature) {
  auto node = open_node(kKey);
  ASSERT_TRUE(node);
  InternalAuth migrating(*node, options(/*accept_unsigned=*/true));
  HttpRequest plain = write("v");
  EXPECT_EQ(migrating.check(plain), AuthVerdict::kUnsignedAccepted);
  HttpRequest forged = write("v");
  forged.set(kAuthTimeHeader, std::to_string(kNow));
  forged.set(kAuthHeader, std::string(64, 'a'));
  EXPECT_EQ(migrating.check(forged), AuthVerdict::kBadMac);
}

}  // namespace
}  // namespace ringkeeper::kv
