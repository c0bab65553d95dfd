// In-process Nodes on loopback (real TCP, in-memory stores): subscriptions, application values,
// a failing store, and the admin call policy.
#include "ringkeeper/node.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "node/admin_http.h"
#include "node/tcp_transport.h"
#include "storage/memory_store.h"
#include "tests/wait_until.h"

namespace ringkeeper {
namespace {

using namespace std::chrono_literals;

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline = 20s) {
  return testing::wait_until(pred, deadline);
}

// A MemoryStore behind a FaultyStore, owned by the node.
class TestStore final : public storage::StateStore {
 public:
  std::optional<std::string> get(storage::RecordKind k, std::string_view key) override { return faulty.get(k, key); }
  void scan(storage::RecordKind k, const std::function<void(std::string_view, std::string_view)>& f) override {
    faulty.scan(k, f);
  }
  void write(const storage::WriteBatch& b, bool sync) override { faulty.write(b, sync); }
  storage::MemoryStore memory;
  storage::FaultyStore faulty{memory};
};

struct TestNode {
  TestStore* store = nullptr;  // owned by the node
};

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("ringkeeper-node-" + std::to_string(rd()));
  }
  void TearDown() override {
    nodes_.clear();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestNode start(std::vector<std::string> seeds) {
    NodeConfig c;
    c.data_dir = (dir_ / std::to_string(nodes_.size())).string();
    c.listen = "127.0.0.1:0";
    c.admin = "127.0.0.1:0";
    c.seeds = std::move(seeds);
    c.gossip_interval_ms = 200;
    c.probe_interval_ms = 100;
    c.probe_timeout_ms = 40;
    c.settle_ms = 300;
    auto store = std::make_unique<TestStore>();
    TestStore* raw = store.get();
    auto opened = Node::open(c, std::move(store));
    EXPECT_TRUE(opened.node) << opened.message;
    if (!opened.node) return {};
    EXPECT_EQ(opened.node->start(), "");
    nodes_.push_back(std::move(opened.node));
    return {raw};
  }
  Node& node(size_t i) { return *nodes_[i]; }
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(NodeTest, SubscribersSeeTheRingGrowAndAPeerGoDown) {
  start({});
  std::mutex mu;
  std::vector<RingChange> changes;
  std::vector<std::pair<NodeId, PeerLiveness>> liveness;
  node(0).on_ring_change([&](const RingChange& c) {
    std::lock_guard lock(mu);
    changes.push_back(c);
  });
  node(0).on_liveness_change([&](const NodeId& id, PeerLiveness l) {
    std::lock_guard lock(mu);
    liveness.push_back({id, l});
  });
  ASSERT_TRUE(wait_until([&] { return node(0).ring()->current().size() == 16; })) << "founded alone";
  start({node(0).listen_address()});
  const NodeId second = node(1).id();
  ASSERT_TRUE(wait_until([&] {
    auto a = node(0).ring(), b = node(1).ring();
    const RingNode* n = a->find(second);
    return a->digest() == b->digest() && n && n->status == NodeStatus::kNormal;
  }));
  {
    std::lock_guard lock(mu);
    ASSERT_FALSE(changes.empty());
    bool gained = false;
    for (const RingChange& c : changes) {
      if (const NodeRanges* r = c.diff.find(second); r && !r->gained.empty()) gained = true;
      EXPECT_NE(c.before->digest(), c.after->digest());
    }
    EXPECT_TRUE(gained) << "the joiner's ranges show up as gained";
    bool up = false;
    for (auto& [id, l] : liveness) up |= id == second && l == PeerLiveness::kUp;
    EXPECT_TRUE(up);
  }
  // Readers on this thread: both natural replicas (RF 3, two nodes) reachable.
  auto prefs = node(0).preference_list("user:42");
  EXPECT_EQ(prefs.size(), 2u);
  // Application values travel with the entry.
  ASSERT_EQ(node(1).set_application_value("http", "127.0.0.1:8080"), "");
  EXPECT_TRUE(wait_until([&] { return node(0).application_value(second, "http") == "127.0.0.1:8080"; }));
  // A clean stop is heard at once.
  node(1).stop();
  EXPECT_TRUE(wait_until([&] { return node(0).liveness(second) == PeerLiveness::kDown; }, 5s));
  std::lock_guard lock(mu);
  EXPECT_EQ(liveness.back().first, second);
  EXPECT_EQ(liveness.back().second, PeerLiveness::kDown);
}

TEST_F(NodeTest, AFailingStoreStopsTheNodeInsteadOfGossipingWhatItCannotKeep) {
  TestNode t = start({});
  ASSERT_TRUE(wait_until([&] { return node(0).ring()->current().size() == 16; }));
  EXPECT_FALSE(node(0).failed());
  t.store->faulty.fail_writes(1000);
  ASSERT_EQ(node(0).set_application_value("k", "v"), "");
  ASSERT_TRUE(wait_until([&] { return node(0).failed(); }));
  EXPECT_NE(node(0).failure().find("injected write failure"), std::string::npos) << node(0).failure();
}

TEST_F(NodeTest, MovedTokensAreRefusedWhileJoiningAndAnnouncedOnceNormal) {
  start({});
  ASSERT_TRUE(wait_until([&] { return node(0).ring()->current().size() == 16; }));
  ASSERT_TRUE(wait_until([&] { return node(0).move_tokens({Token(7), Token(9)}).empty(); }));
  EXPECT_TRUE(wait_until([&] { return node(0).ring()->current().size() == 2; }));
  EXPECT_NE(node(0).move_tokens({}), "");
}

TEST(TcpTransport, DeliversLargeFramesWhole) {
  boost::asio::io_context io;
  std::vector<std::string> got;
  gossip::TransportConfig cfg;
  cfg.listen = "127.0.0.1:0";
  gossip::TcpTransport t(io, cfg, [&](std::string_view frame, const std::string&) {
    got.emplace_back(frame);
    return true;
  });
  const std::string self = t.listen();
  // 300 KiB: several of the reader's 64 KiB steps, and a small one after it on the same stream.
  const uint32_t len = 300 << 10;
  std::string big(4 + len, 'x');
  for (int i = 0; i < 4; ++i) big[i] = static_cast<char>(len >> (24 - 8 * i));
  std::string small("\0\0\0\x03" "abc", 7);
  t.send(self, big);
  t.send(self, small);
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (got.size() < 2 && std::chrono::steady_clock::now() < end) io.run_for(10ms);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], big);
  EXPECT_EQ(got[1], small);
  t.close();
}

TEST(AdminPolicy, StateChangesNeedLoopbackOrTheToken) {
  AdminRequest get{"GET", "/v1/status", "", "", false};
  EXPECT_TRUE(admin_call_allowed(get, ""));
  AdminRequest post{"POST", "/v1/move", "{}", "", true};
  EXPECT_TRUE(admin_call_allowed(post, "")) << "loopback";
  post.loopback = false;
  EXPECT_FALSE(admin_call_allowed(post, "")) << "remote, no token configured";
  EXPECT_FALSE(admin_call_allowed(post, "s3cret")) << "remote, no token presented";
  post.authorization = "Bearer wrong!";
  EXPECT_FALSE(admin_call_allowed(post, "s3cret"));
  post.authorization = "Bearer s3cret";
  EXPECT_TRUE(admin_call_allowed(post, "s3cret"));
}

}  // namespace
}  // namespace ringkeeper
