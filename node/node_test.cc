// The runtime's own tests. Nodes on a SimNetwork (simulated time, in-memory frames through the
// real codec, in-memory stores): lifecycle, subscriptions, application values, persistence
// ordering, a failing store, restarts from the persisted state, and the admin API answered by
// its handler. Real sockets only for what is about them: TcpTransport, and the real Env's log
// sink on a loopback node.
#include "ringkeeper/node.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <ostream>
#include <random>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "gossip/codec.h"
#include "gossip/seal.h"
#include "node/admin_http.h"
#include "node/key_ops.h"
#include "node/keyring_file.h"
#include "node/sim_env.h"
#include "node/state_records.h"
#include "node/tcp_transport.h"
#include "node/view_publisher.h"
#include "storage/memory_store.h"

namespace ringkeeper {

void PrintTo(const Status& s, std::ostream* os) { *os << s.to_string(); }

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

json ids_json(const std::vector<NodeId>& v) {
  json a = json::array();
  for (const NodeId& n : v) a.push_back(n.to_string());
  return a;
}

// Every write and every frame, in the order they happened (the persistence-ordering contract).
struct Journal {
  struct Write {
    bool sync;
    bool generation;  // the batch writes the generation record
  };
  std::vector<Write> writes;
  std::vector<std::pair<size_t, std::string>> sends;  // (writes before it, sender)
};

// A store the test keeps (restarts reuse it), failing writes on demand and journaling them. The
// node owns a TestStore that forwards here.
struct SharedStore {
  storage::MemoryStore memory;
  storage::FaultyStore faulty{memory};
  Journal* journal = nullptr;
};

class TestStore final : public storage::StateStore {
 public:
  explicit TestStore(SharedStore& s) : s_(s) {}
  std::optional<std::string> get(storage::RecordKind k, std::string_view key) override { return s_.faulty.get(k, key); }
  void scan(storage::RecordKind k, const std::function<void(std::string_view, std::string_view)>& f) override {
    s_.faulty.scan(k, f);
  }
  void write(const storage::WriteBatch& b, bool sync) override {
    s_.faulty.write(b, sync);
    if (!s_.journal) return;
    bool generation = false;
    for (const auto& op : b.ops()) generation |= op.kind == storage::RecordKind::kMeta && op.key == storage::meta::kGeneration;
    s_.journal->writes.push_back({sync, generation});
  }

 private:
  SharedStore& s_;
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
  NodeConfig config(std::vector<std::string> seeds, size_t index) {
    NodeConfig c;
    c.data_dir = (dir_ / std::to_string(index)).string();
    c.listen = "127.0.0.1:0";
    c.admin = "127.0.0.1:0";
    c.seeds = std::move(seeds);
    c.gossip_interval_ms = 200;
    c.probe_interval_ms = 100;
    c.probe_timeout_ms = 40;
    c.settle_ms = 300;
    c.replication.rf = rf_;
    c.gossip_key = gossip_key_;
    c.gossip_accept_plaintext = accept_plaintext_;
    c.streams_data = streams_data_;
    return c;
  }
  // Opens and starts node `nodes_.size()` on its own store (kept in stores_ for restarts).
  Node& start(std::vector<std::string> seeds) {
    stores_.push_back(std::make_unique<SharedStore>());
    return start_on(*stores_.back(), config(std::move(seeds), nodes_.size()));
  }
  Node& start_on(SharedStore& store, NodeConfig c) {
    auto opened = Node::open(std::move(c), std::make_unique<TestStore>(store), net_.make_env());
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    if (!opened.ok()) throw std::runtime_error(opened.status().to_string());
    EXPECT_EQ((*opened)->start(), Status());
    nodes_.push_back(std::move(opened).value());
    return *nodes_.back();
  }
  Node& node(size_t i) { return *nodes_[i]; }
  // n nodes seeded by node 0; true once all route with one ring of n NORMAL nodes.
  bool start_cluster(size_t n) {
    start({});
    if (!founded(0)) return false;
    for (size_t i = 1; i < n; ++i) start({node(0).listen_address()});
    return run_until([&] {
      for (size_t i = 0; i < n; ++i) {
        auto r = node(i).ring();
        if (r->nodes().size() != n || r->digest() != node(0).ring()->digest()) return false;
        for (const RingNode& rn : r->nodes()) {
          if (rn.status != NodeStatus::kNormal) return false;
        }
      }
      return true;
    });
  }
  // Node i's entry in its own /v1/status about node `id`.
  json status_of(size_t i, const NodeId& id) {
    const json status = get(i, "/v1/status");
    for (const json& m : status["nodes"]) {
      if (m["id"] == id.to_string()) return m;
    }
    return json();
  }
  std::string phase_of(size_t i, const std::string& change) {
    return get(i, "/v1/change?id=" + change).value("phase", "");
  }
  bool run_until(const std::function<bool()>& done, EnvMillis max_ms = 20'000) { return net_.run_until(done, max_ms); }
  bool founded(size_t i) { return run_until([&] { return node(i).ring()->current().size() == 16; }); }
  json get(size_t i, const std::string& target, int want_status = 200) {
    AdminResponse r = net_.admin_get(node(i).admin_address(), target);
    EXPECT_EQ(r.status, want_status) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  AdminResponse post(size_t i, const std::string& target, const std::string& body) {
    return net_.admin_post(node(i).admin_address(), target, body);
  }
  // A change command posted to node i, expected to start a change of `kind`: its answer,
  // {"change": a UUID, "kind", "node": node i, "phase": "announce", ...}.
  json start_change(size_t i, const std::string& target, const std::string& body, const std::string& kind) {
    AdminResponse r = post(i, target, body);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    json answer = json::parse(r.body, nullptr, false);
    EXPECT_EQ(answer.value("kind", ""), kind) << r.body;
    EXPECT_EQ(answer.value("node", ""), node(i).id().to_string()) << r.body;
    EXPECT_EQ(answer.value("phase", ""), "announce") << r.body;
    EXPECT_TRUE(NodeId::parse(answer.value("change", ""))) << r.body;
    return answer;
  }

  // Polls a keys command (its answer {"op"}) until done; its final status.
  json key_op(size_t i, const AdminResponse& started) {
    EXPECT_EQ(started.status, 200) << started.body;
    const std::string op = json::parse(started.body, nullptr, false).value("op", "");
    json s;
    EXPECT_TRUE(run_until([&] {
      s = get(i, "/v1/keys/op?id=" + op);
      return s.value("done", false);
    }));
    return s;
  }
  json key_command(size_t i, const std::string& command, const std::string& raw_key) {
    return key_op(i, post(i, "/v1/keys/" + command, json{{"key", gossip::encode_key_base64(raw_key)}}.dump()));
  }
  uint64_t metric(size_t i, const std::string& line_start) {
    const std::string text = net_.admin_get(node(i).admin_address(), "/metrics").body;
    const size_t at = text.find("\n" + line_start + " ");
    return at == std::string::npos ? ~uint64_t{0} : std::stoull(text.substr(at + line_start.size() + 2));
  }

  std::string gossip_key_ = "";  // base64; the key nodes started from here on get
  bool accept_plaintext_ = false;
  uint32_t rf_ = 3;  // the replication factor of nodes started from here on
  bool streams_data_ = false;  // NodeConfig::streams_data of the nodes started from here on
  SimNetwork net_;  // outlives the nodes
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SharedStore>> stores_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(NodeTest, SubscribersSeeTheRingGrowAndAPeerGoDown) {
  start({});
  std::vector<RingChange> changes;
  std::vector<std::pair<NodeId, PeerLiveness>> liveness;
  Subscription rings = node(0).on_ring_change([&](const RingChange& c) { changes.push_back(c); });
  Subscription lives = node(0).on_liveness_change([&](const NodeId& id, PeerLiveness l) { liveness.push_back({id, l}); });
  ASSERT_TRUE(founded(0)) << "founded alone";
  start({node(0).listen_address()});
  const NodeId second = node(1).id();
  ASSERT_TRUE(run_until([&] {
    auto a = node(0).ring(), b = node(1).ring();
    const RingNode* n = a->find(second);
    return a->digest() == b->digest() && n && n->status == NodeStatus::kNormal;
  }));
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
  // Both natural replicas (RF 3, two nodes) reachable.
  EXPECT_EQ(node(0).preference_list("user:42").size(), 2u);
  // Application values travel with the entry.
  ASSERT_EQ(node(1).set_application_value("http", "127.0.0.1:8080"), Status());
  EXPECT_TRUE(run_until([&] { return node(0).application_value(second, "http") == "127.0.0.1:8080"; }));
  // A clean stop is heard at once: well within one probe interval of simulated time.
  const EnvMillis stopped_at = net_.now();
  node(1).stop();
  EXPECT_TRUE(run_until([&] { return node(0).liveness(second) == PeerLiveness::kDown; }, 50));
  EXPECT_LE(net_.now() - stopped_at, 50);
  ASSERT_FALSE(liveness.empty());
  EXPECT_EQ(liveness.back().first, second);
  EXPECT_EQ(liveness.back().second, PeerLiveness::kDown);
}

TEST_F(NodeTest, UnsubscribedListenersHearNothingMore) {
  start({});
  int ring_calls = 0, liveness_calls = 0;
  Subscription r = node(0).on_ring_change([&](const RingChange&) { ++ring_calls; });
  Subscription l = node(0).on_liveness_change([&](const NodeId&, PeerLiveness) { ++liveness_calls; });
  EXPECT_TRUE(r.active());
  ASSERT_TRUE(founded(0));
  EXPECT_GT(ring_calls, 0);
  r.reset();
  { Subscription dropped = std::move(l); }
  EXPECT_FALSE(r.active());
  EXPECT_FALSE(l.active()) << "moved from";
  const int rings_before = ring_calls;
  start({node(0).listen_address()});
  ASSERT_TRUE(run_until([&] { return node(0).ring()->nodes().size() == 2 && node(0).liveness(node(1).id()) == PeerLiveness::kUp; }));
  EXPECT_EQ(ring_calls, rings_before);
  EXPECT_EQ(liveness_calls, 0);
}

// A callback that drops its own Subscription, or another's, in the middle of a notification:
// no deadlock, and neither is called again. A Subscription that outlives its Node is inert.
TEST_F(NodeTest, ASubscriptionDroppedInsideACallbackStopsItAndOneOutlivingTheNodeIsInert) {
  start({});
  int own_calls = 0, other_calls = 0, keeper_calls = 0;
  Subscription own, other;
  own = node(0).on_ring_change([&](const RingChange&) {
    ++own_calls;
    own.reset();    // itself, while it runs
    other.reset();  // a later one, before its turn
  });
  other = node(0).on_ring_change([&](const RingChange&) { ++other_calls; });
  Subscription keeper = node(0).on_ring_change([&](const RingChange&) { ++keeper_calls; });
  ASSERT_TRUE(founded(0));
  start({node(0).listen_address()});
  ASSERT_TRUE(run_until([&] { return node(0).ring()->nodes().size() == 2 && keeper_calls >= 2; }));
  EXPECT_EQ(own_calls, 1);
  EXPECT_EQ(other_calls, 0) << "reset before its turn in the same notification";
  EXPECT_FALSE(own.active());
  EXPECT_TRUE(keeper.active());
  nodes_.clear();
  EXPECT_FALSE(keeper.active()) << "its node is gone";
  keeper.reset();  // no node to unsubscribe from: nothing happens
  Subscription empty;
  EXPECT_FALSE(empty.active());
}

// Node::open never throws: a store that throws something other than a StoreError (an embedder's
// store, bad_alloc on a damaged record) refuses the data dir; bad settings are kInvalidArgument.
class ThrowingStore final : public storage::StateStore {
 public:
  enum class Throw { kOnGet, kOnEntryScan };
  explicit ThrowingStore(Throw when) : when_(when) {
    storage::WriteBatch b;  // a data dir of this build's format: the throw comes after the check
    b.put_meta(storage::meta::kFormat, std::to_string(storage::kFormatVersion));
    inner_.write(b, true);
  }
  std::optional<std::string> get(storage::RecordKind k, std::string_view key) override {
    if (when_ == Throw::kOnGet) throw std::runtime_error("the disk is on fire");
    return inner_.get(k, key);
  }
  void scan(storage::RecordKind k, const std::function<void(std::string_view, std::string_view)>& f) override {
    if (when_ == Throw::kOnEntryScan && k == storage::RecordKind::kEntry) throw std::bad_alloc();
    inner_.scan(k, f);
  }
  void write(const storage::WriteBatch& b, bool sync) override { inner_.write(b, sync); }

 private:
  Throw when_;
  storage::MemoryStore inner_;
};

TEST_F(NodeTest, OpenAnswersAStatusAndNeverThrows) {
  auto open_on = [&](std::unique_ptr<storage::StateStore> store, NodeConfig c) {
    std::optional<Result<std::unique_ptr<Node>>> r;
    EXPECT_NO_THROW(r.emplace(Node::open(std::move(c), std::move(store), net_.make_env())));
    return r ? std::move(*r) : Result<std::unique_ptr<Node>>(Status::internal("threw"));
  };
  auto thrown = open_on(std::make_unique<ThrowingStore>(ThrowingStore::Throw::kOnGet), config({}, 0));
  ASSERT_FALSE(thrown.ok());
  EXPECT_EQ(thrown.status().code(), StatusCode::kDataDirRefused) << thrown.status().to_string();
  EXPECT_NE(thrown.status().message().find("the disk is on fire"), std::string::npos) << thrown.status().message();

  auto no_memory = open_on(std::make_unique<ThrowingStore>(ThrowingStore::Throw::kOnEntryScan), config({}, 0));
  ASSERT_FALSE(no_memory.ok());
  EXPECT_EQ(no_memory.status().code(), StatusCode::kDataDirRefused) << no_memory.status().to_string();

  auto unreadable = std::make_unique<storage::MemoryStore>();
  storage::WriteBatch b;
  b.put_meta(storage::meta::kFormat, "one");
  unreadable->write(b, true);
  auto format = open_on(std::move(unreadable), config({}, 0));
  ASSERT_FALSE(format.ok());
  EXPECT_EQ(format.status().code(), StatusCode::kDataDirRefused);
  EXPECT_NE(format.status().message().find("unreadable format version 'one'"), std::string::npos)
      << format.status().message();

  NodeConfig bad_listen = config({}, 0);
  bad_listen.listen = "nowhere";
  EXPECT_EQ(open_on(std::make_unique<storage::MemoryStore>(), bad_listen).status(),
            Status::invalid_argument("--listen: not host:port: nowhere"));
  EXPECT_EQ(open_on(nullptr, config({}, 0)).status().code(), StatusCode::kInvalidArgument);

  // A data dir of another cluster: the settings are wrong, not the dir.
  stores_.push_back(std::make_unique<SharedStore>());
  start_on(*stores_.back(), config({}, 0));
  nodes_.clear();
  NodeConfig other = config({}, 0);
  other.cluster = "elsewhere";
  auto refused = open_on(std::make_unique<TestStore>(*stores_.back()), other);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("belongs to cluster 'ringkeeper'"), std::string::npos)
      << refused.status().message();
}

// The generation and the HLC are read strictly: a record that is not a whole decimal number is a
// corrupt data dir, refused and left as it is — never read as 0 (or, through strtoull, as a
// prefix or a wrapped "-1"), which would restart the node below what it already said.
TEST_F(NodeTest, AGarbledGenerationOrClockRecordRefusesTheDataDir) {
  stores_.push_back(std::make_unique<SharedStore>());
  SharedStore& store = *stores_.back();
  const uint64_t generation = start_on(store, config({}, 0)).generation();
  ASSERT_TRUE(founded(0));  // its claim's stamp puts the HLC on disk
  nodes_.clear();
  auto put_meta = [&](std::string_view key, const std::string& value) {
    storage::WriteBatch b;
    b.put_meta(key, value);
    store.memory.write(b, true);
  };
  for (std::string_view key : {storage::meta::kGeneration, storage::meta::kHlc}) {
    const std::optional<std::string> good = store.memory.get_meta(key);
    ASSERT_TRUE(good) << key;
    for (const std::string garbage : {"garbage", "12abc", " 12", "-1", "", "99999999999999999999"}) {
      put_meta(key, garbage);
      auto opened = Node::open(config({}, 0), std::make_unique<TestStore>(store), net_.make_env());
      ASSERT_FALSE(opened.ok()) << key << " '" << garbage << "' was read as a number";
      EXPECT_EQ(opened.status(), Status::data_dir_refused("data dir " + config({}, 0).data_dir + " is corrupt: its " +
                                                          std::string(key) + " record holds '" + garbage +
                                                          "', not a decimal number"));
      EXPECT_EQ(store.memory.get_meta(key).value_or("<absent>"), garbage) << "refused, not overwritten";
    }
    put_meta(key, *good);
  }
  EXPECT_GT(start_on(store, config({}, 0)).generation(), generation) << "the same dir, whole again";
}

TEST_F(NodeTest, ANodeThatLearnsItWasRemovedFailsWithRefused) {
  ASSERT_TRUE(start_cluster(3));
  const NodeId gone = node(2).id();
  node(2).stop();
  ASSERT_TRUE(run_until([&] { return node(0).liveness(gone) == PeerLiveness::kDown; }));
  ASSERT_TRUE(run_until([&] { return node(0).remove_node(gone).ok(); }));
  Node& back = start_on(*stores_[2], config({node(0).listen_address()}, 2));
  ASSERT_TRUE(run_until([&] { return back.failed(); }));
  EXPECT_EQ(back.failure().code(), StatusCode::kRefused) << back.failure().to_string();
  EXPECT_NE(back.failure().message().find("was removed from the cluster"), std::string::npos)
      << back.failure().message();
}

TEST_F(NodeTest, StartAnswersAStatus) {
  Node& n = start({});
  EXPECT_EQ(n.start().code(), StatusCode::kRefused) << "already started";
  n.stop();
  EXPECT_EQ(n.move_tokens({Token(3)}).code(), StatusCode::kNotRunning);
  EXPECT_EQ(n.remove_node(NodeId(1, 2)).code(), StatusCode::kNotRunning);
}

// A listener that cannot bind makes start() answer kIoError with the line ringd prints.
TEST_F(NodeTest, StartAnswersIoErrorForAnAddressInUse) {
  Node& first = start({});
  auto open_with = [&](NodeConfig c) {
    stores_.push_back(std::make_unique<SharedStore>());
    auto opened = Node::open(std::move(c), std::make_unique<TestStore>(*stores_.back()), net_.make_env());
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    return std::move(opened).value();
  };
  NodeConfig same_gossip = config({}, 1);
  same_gossip.listen = first.listen_address();
  EXPECT_EQ(open_with(same_gossip)->start(),
            Status::io_error("gossip: cannot listen on " + first.listen_address() + ": in use"));
  NodeConfig same_admin = config({}, 2);
  same_admin.admin = first.admin_address();
  EXPECT_EQ(open_with(same_admin)->start(),
            Status::io_error("admin: cannot listen on " + first.admin_address() + ": in use"));
}

TEST_F(NodeTest, TheGenerationIsSyncedAndStatePersistedBeforeAnyFrameGoesOut) {
  Journal journal;
  stores_.push_back(std::make_unique<SharedStore>());
  stores_.back()->journal = &journal;
  SharedStore& store = *stores_.back();
  // Every frame node 0 sends: the entries it carries are already in node 0's store, at least as
  // new as sent.
  gossip::CodecOptions codec;
  codec.cluster_name = "ringkeeper";
  std::string first_address;
  size_t checked = 0;
  net_.on_send([&](const std::string& from, const std::string&, std::string_view frame) {
    if (from != first_address) return;
    journal.sends.push_back({journal.writes.size(), from});
    gossip::DecodeResult r = gossip::decode(frame, codec);
    ASSERT_EQ(r.error, gossip::DecodeError::kNone);
    auto check = [&](const std::vector<gossip::NodeDelta>& deltas) {
      for (const gossip::NodeDelta& d : deltas) {
        auto bytes = store.memory.get(storage::RecordKind::kEntry, entry_key(d.id));
        ASSERT_TRUE(bytes) << "sent an entry it has not persisted: " << d.id.to_string();
        auto kept = gossip::decode_node_state(*bytes);
        ASSERT_TRUE(kept);
        EXPECT_GE(std::make_pair(kept->generation, kept->max_version), std::make_pair(d.state.generation, d.state.max_version));
        ++checked;
      }
    };
    if (auto* ack = std::get_if<gossip::Ack>(&r.message->body)) check(ack->deltas);
    if (auto* ack2 = std::get_if<gossip::Ack2>(&r.message->body)) check(ack2->deltas);
  });
  Node& first = start_on(store, config({}, 0));
  first_address = first.listen_address();
  ASSERT_TRUE(founded(0));
  start({first_address});
  ASSERT_TRUE(run_until([&] { return node(1).ring()->nodes().size() == 2 && node(0).ring()->digest() == node(1).ring()->digest(); }));
  ASSERT_FALSE(journal.sends.empty());
  ASSERT_FALSE(journal.writes.empty());
  size_t generation_write = 0;
  while (generation_write < journal.writes.size() && !journal.writes[generation_write].generation) ++generation_write;
  ASSERT_LT(generation_write, journal.writes.size());
  EXPECT_TRUE(journal.writes[generation_write].sync) << "the generation is written synced";
  EXPECT_GT(journal.sends.front().first, generation_write) << "nothing is sent before the generation is on disk";
  EXPECT_GT(checked, 0u) << "node 0 sent its entry to the joiner";
  nodes_.clear();  // stopped while the journal and the tap's captures live
}

TEST_F(NodeTest, ARestartRoutesFromThePersistedRingAtOnceWithANewGeneration) {
  Node& first = start({});
  ASSERT_TRUE(founded(0));
  const NodeId id = first.id();
  const uint64_t generation = first.generation();
  const auto digest = first.ring()->digest();
  nodes_.clear();
  net_.run_for(1'000);  // a second passes: the generation is max(persisted + 1, now in seconds)
  Node& again = start_on(*stores_[0], config({}, 0));
  EXPECT_EQ(again.id(), id);
  EXPECT_GT(again.generation(), generation);
  EXPECT_EQ(again.ring()->digest(), digest) << "routes from disk before hearing from anyone";
}

// What an embedding KV server needs from the node: members with addresses, status and liveness,
// addresses on the preference list, convergence, metrics, removenode — and routing from the
// persisted ring right after open(), before start().
TEST_F(NodeTest, TheEmbeddingApiDescribesMembersAndRoutesFromDiskBeforeStart) {
  Node& a = start({});
  ASSERT_TRUE(founded(0));
  Node& b = start({a.listen_address()});
  ASSERT_TRUE(run_until([&] { return a.converged() && b.converged() && a.members().size() == 2 && a.ring()->current().size() == 32; }));
  const auto members = a.members();
  ASSERT_EQ(members.size(), 2u);
  for (const Member& m : members) {
    EXPECT_EQ(m.self, m.id == a.id());
    EXPECT_EQ(m.address, m.id == a.id() ? a.listen_address() : b.listen_address());
    EXPECT_EQ(m.status, NodeStatus::kNormal);
    EXPECT_EQ(m.liveness, PeerLiveness::kUp);
  }
  EXPECT_EQ(a.address_of(b.id()), b.listen_address());
  EXPECT_FALSE(a.address_of(NodeId(9, 9)));
  for (const PreferenceEntry& e : a.preference_list("user:42")) EXPECT_EQ(e.address, *a.address_of(e.node));
  EXPECT_NE(a.metrics_text().find("ringkeeper_generation"), std::string::npos);
  EXPECT_EQ(a.remove_node(b.id()).code(), StatusCode::kRefused) << "a live node cannot be removed";

  // Stopped, then opened again: before start() it already routes from its data dir.
  const auto digest = a.ring()->digest();
  const std::string b_address = b.listen_address();
  nodes_.erase(nodes_.begin());
  auto reopened = Node::open(config({}, 0), std::make_unique<TestStore>(*stores_[0]), net_.make_env());
  ASSERT_TRUE(reopened.ok()) << reopened.status().to_string();
  EXPECT_EQ(reopened->get()->ring()->digest(), digest);
  EXPECT_EQ((*reopened)->members().size(), 2u);
  EXPECT_EQ((*reopened)->address_of(b.id()), b_address);
  EXPECT_FALSE((*reopened)->preference_list("user:42").empty());
  EXPECT_EQ((*reopened)->metrics_text(), "") << "nothing to count before start";
  EXPECT_EQ((*reopened)->move_tokens({Token(1)}).code(), StatusCode::kNotRunning) << "not started";
}

// NodeConfig::extra_metrics: an embedder's counters ride on the admin port's /metrics scrape,
// read anew at each scrape, after the node's own.
TEST_F(NodeTest, AnEmbeddersMetricsAreAppendedToTheAdminMetrics) {
  stores_.push_back(std::make_unique<SharedStore>());
  auto scraped = std::make_shared<std::atomic<int>>(0);
  NodeConfig c = config({}, 0);
  c.extra_metrics = [scraped] {
    return "# TYPE embedder_scrapes_total counter\nembedder_scrapes_total " + std::to_string(++*scraped) + "\n";
  };
  Node& a = start_on(*stores_.back(), std::move(c));
  ASSERT_TRUE(founded(0));
  const std::string first = net_.admin_get(a.admin_address(), "/metrics").body;
  EXPECT_NE(first.find("ringkeeper_generation"), std::string::npos) << "the node's own metrics are still there";
  const size_t at = first.find("embedder_scrapes_total 1\n");
  EXPECT_NE(at, std::string::npos) << first;
  EXPECT_GT(at, first.find("ringkeeper_generation")) << "appended after the node's";
  EXPECT_NE(net_.admin_get(a.admin_address(), "/metrics").body.find("embedder_scrapes_total 2\n"), std::string::npos);
  EXPECT_NE(a.metrics_text().find("embedder_scrapes_total 3\n"), std::string::npos);
}

TEST_F(NodeTest, AFailingStoreStopsTheNodeInsteadOfGossipingWhatItCannotKeep) {
  start({});
  ASSERT_TRUE(founded(0));
  EXPECT_FALSE(node(0).failed());
  stores_[0]->faulty.fail_writes(1000);
  EXPECT_TRUE(node(0).failure().ok());
  ASSERT_EQ(node(0).set_application_value("k", "v"), Status());
  ASSERT_TRUE(run_until([&] { return node(0).failed(); }));
  EXPECT_EQ(node(0).failure().code(), StatusCode::kIoError);
  EXPECT_NE(node(0).failure().message().find("injected write failure"), std::string::npos) << node(0).failure().to_string();
  EXPECT_EQ(node(0).set_application_value("k", "w").code(), StatusCode::kNotRunning) << "it stopped";
  EXPECT_TRUE(net_.logged("this node stops"));
}

TEST_F(NodeTest, MovedTokensAreRefusedWhileJoiningAndAnnouncedOnceNormal) {
  start({});
  ASSERT_TRUE(founded(0));
  ASSERT_TRUE(run_until([&] { return node(0).move_tokens({Token(7), Token(9)}).ok(); }));
  EXPECT_TRUE(run_until([&] { return node(0).ring()->current().size() == 2; }));
  const Status empty = node(0).move_tokens({});
  EXPECT_EQ(empty.code(), StatusCode::kRefused);
  EXPECT_FALSE(empty.message().empty());
}

TEST_F(NodeTest, AdminReadsDescribeTheNodeAndTheCluster) {
  start({});
  ASSERT_TRUE(founded(0));
  ASSERT_TRUE(run_until([&] { return get(0, "/v1/health")["converged"] == true; }));
  const std::string self = node(0).id().to_string();

  json info = get(0, "/v1/info");
  EXPECT_EQ(info["id"], self);
  EXPECT_EQ(info["cluster"], "ringkeeper");
  EXPECT_EQ(info["generation"], node(0).generation());
  EXPECT_EQ(info["address"], node(0).listen_address());
  EXPECT_EQ(info["replication"], "simple:3");

  json status = get(0, "/v1/status");
  ASSERT_EQ(status["nodes"].size(), 1u);
  const json& me = status["nodes"][0];
  EXPECT_EQ(me["id"], self);
  EXPECT_EQ(me["self"], true);
  EXPECT_EQ(me["status"], "NORMAL");
  EXPECT_EQ(me["liveness"], "up");
  EXPECT_EQ(me["tokens"], 16);
  EXPECT_EQ(me["claimed_tokens"], 16);
  EXPECT_EQ(me["change"], nullptr);
  EXPECT_EQ(status["ring_digest"], node(0).ring()->digest_hex());

  json health = get(0, "/v1/health");
  EXPECT_EQ(health["live"], 1);
  EXPECT_EQ(health["down"], 0);
  EXPECT_EQ(health["ring_digests"].size(), 1u);

  EXPECT_EQ(get(0, "/v1/ring")["tokens"].size(), 16u);
  json owners = get(0, "/v1/owners?key=user%3A42");
  EXPECT_EQ(owners["key"], "user:42");
  EXPECT_EQ(owners["replicas"], json::array({self}));
  EXPECT_EQ(owners["reachable"], json::array({self}));
  get(0, "/v1/owners", 400);
  json gossip = get(0, "/v1/gossipinfo");
  ASSERT_EQ(gossip["nodes"].size(), 1u);
  EXPECT_TRUE(gossip["nodes"][0]["values"].contains("tokens"));

  AdminResponse metrics = net_.admin_get(node(0).admin_address(), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4");
  EXPECT_NE(metrics.body.find("ringkeeper_generation " + std::to_string(node(0).generation())), std::string::npos);
  EXPECT_NE(metrics.body.find("ringkeeper_nodes{liveness=\"up\"} 1"), std::string::npos);
  EXPECT_NE(metrics.body.find("ringkeeper_gossip_frames_rejected_total{reason=\"bad_mac\"} 0"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("ringkeeper_admin_requests_total"), std::string::npos);
}

TEST_F(NodeTest, AdminWritesAreCheckedAppliedAndRefusedWithReasons) {
  start({});
  ASSERT_TRUE(founded(0));
  ASSERT_TRUE(run_until([&] { return node(0).move_tokens({Token(5)}).ok(); }));
  // A move is a phased change: the next waits until this one is done.
  ASSERT_TRUE(run_until([&] { return node(0).ring()->current().size() == 1 && !node(0).ring()->has_pending_changes(); }));
  EXPECT_EQ(post(0, "/v1/move", "{}").status, 400);
  EXPECT_EQ(post(0, "/v1/move", R"({"tokens": ["x"]})").status, 400);
  EXPECT_EQ(post(0, "/v1/move", R"({"tokens": []})").status, 409);
  AdminResponse moved = post(0, "/v1/move", R"({"tokens": ["9", "7"]})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  json m = json::parse(moved.body);
  EXPECT_EQ(m["tokens"], json::array({"7", "9"}));
  EXPECT_EQ(m["announced"], true);
  EXPECT_TRUE(run_until([&] { return node(0).ring()->current().size() == 2; }));

  EXPECT_EQ(post(0, "/v1/removenode", "{}").status, 400);
  EXPECT_EQ(post(0, "/v1/removenode", json{{"node", node(0).id().to_string()}}.dump()).status, 409);
  EXPECT_EQ(post(0, "/v1/rebalance", R"({"dry_run": 1})").status, 400);
  EXPECT_EQ(post(0, "/v1/rebalance", "[]").status, 400);
  AdminResponse alone = post(0, "/v1/decommission", "{}");
  EXPECT_EQ(alone.status, 409);
  EXPECT_NE(alone.body.find("last node"), std::string::npos) << alone.body;
  EXPECT_EQ(post(0, "/v1/nothing", "{}").status, 404);
  EXPECT_EQ(net_.admin(node(0).admin_address(), AdminRequest{"PUT", "/v1/move", "{}", "", true}).status, 405);
  AdminResponse remote = net_.admin(node(0).admin_address(), AdminRequest{"POST", "/v1/move", "{}", "", false});
  EXPECT_EQ(remote.status, 403);
  EXPECT_NE(remote.body.find("loopback only"), std::string::npos);
  EXPECT_NE(net_.admin_get(node(0).admin_address(), "/metrics").body.find("ringkeeper_admin_refused_total 1"),
            std::string::npos);
}

TEST_F(NodeTest, AMoveAnswersWithItsChangeAndWalksEveryPhaseUntilDone) {
  ASSERT_TRUE(start_cluster(3));
  const NodeId self = node(0).id();
  const json status_before = get(0, "/v1/status");
  ASSERT_TRUE(status_before["ring_version"].is_number_unsigned()) << status_before.dump();
  const uint64_t version_before = status_before["ring_version"].get<uint64_t>();
  const json m = start_change(0, "/v1/move", R"({"tokens": ["200", "100"]})", "move");
  const std::string change = m.value("change", "");
  EXPECT_EQ(m["id"], self.to_string());
  EXPECT_EQ(m["tokens"], json::array({"100", "200"}));
  EXPECT_EQ(m["announced"], true);

  // Pending at once on the mover: its new tokens, sorted.
  json ring = get(0, "/v1/ring");
  EXPECT_EQ(ring["pending"], json::parse(R"([{"token": "100", "node": ")" + self.to_string() +
                                         R"("}, {"token": "200", "node": ")" + self.to_string() + R"("}])"));
  EXPECT_EQ(ring["tokens"].size(), 48u) << "reads still go to the old tokens";
  json me = status_of(0, self);
  EXPECT_EQ(me["status"], "MOVING");
  EXPECT_EQ(me["change"]["id"], change);
  EXPECT_EQ(me["change"]["kind"], "move");
  EXPECT_EQ(me["change"]["phase"], "announce");
  EXPECT_TRUE(me["change"]["waiting_for"].is_array());

  // Every phase in order; once it reads from the new owners it can no longer be aborted.
  std::vector<std::string> phases;
  auto record = [&] {
    std::string p = phase_of(0, change);
    if (phases.empty() || phases.back() != p) phases.push_back(p);
    return p;
  };
  ASSERT_TRUE(run_until([&] { return record() == "read_new"; }));
  AdminResponse late = post(0, "/v1/abort", json{{"change", change}}.dump());
  EXPECT_EQ(late.status, 409);
  EXPECT_NE(late.body.find("reads from its new owners"), std::string::npos) << late.body;
  ASSERT_TRUE(run_until([&] { return record() == "done"; }));
  EXPECT_EQ(phases, (std::vector<std::string>{"announce", "write_both", "read_new", "release", "done"}));

  json done = get(0, "/v1/change?id=" + change);
  EXPECT_EQ(done["change"], change);
  EXPECT_EQ(done["kind"], "move");
  EXPECT_EQ(done["node"], self.to_string());
  EXPECT_EQ(done["waiting_for"], json::array());
  EXPECT_EQ(status_of(0, self)["change"], nullptr);
  // RingSnapshot::version() (the engine's to fill in as the cluster's ring version) never goes back.
  EXPECT_GE(get(0, "/v1/status")["ring_version"].get<uint64_t>(), version_before);
  ASSERT_TRUE(run_until([&] { return get(1, "/v1/ring")["pending"].empty() && phase_of(1, change) == "done"; }));
  size_t mine = 0;
  const json ring1 = get(1, "/v1/ring");
  for (const json& t : ring1["tokens"]) mine += t["node"] == self.to_string();
  EXPECT_EQ(mine, 2u);
  get(0, "/v1/change?id=" + NodeId::from_random_bits(1, 2).to_string(), 404);
  get(0, "/v1/change?id=nope", 400);
}

TEST_F(NodeTest, AMoveBlockedByAStoppedMemberNamesItAndAbortsBeforeReadNew) {
  ASSERT_TRUE(start_cluster(3));
  const NodeId mover = node(0).id(), stopped = node(2).id();
  node(2).stop();
  ASSERT_TRUE(run_until([&] { return node(0).liveness(stopped) == PeerLiveness::kDown; }));
  AdminResponse moved = post(0, "/v1/move", R"({"tokens": ["100", "200"]})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  const std::string change = json::parse(moved.body)["change"];

  // The mover names whom it waits for; other members show the change but cannot know.
  ASSERT_TRUE(run_until([&] {
    return status_of(0, mover)["change"]["waiting_for"] == json::array({stopped.to_string()});
  }));
  ASSERT_TRUE(run_until([&] { return status_of(1, mover)["change"].is_object(); }));
  EXPECT_EQ(status_of(1, mover)["change"]["id"], change);
  EXPECT_EQ(status_of(1, mover)["change"]["waiting_for"], json::array());
  AdminResponse second = post(1, "/v1/move", R"({"tokens": ["300"]})");
  EXPECT_EQ(second.status, 409) << "one change at a time";
  EXPECT_NE(second.body.find(change), std::string::npos) << second.body;
  EXPECT_EQ(get(0, "/v1/change?id=" + change)["waiting_for"], json::array({stopped.to_string()}));
  net_.run_for(5'000);
  EXPECT_EQ(phase_of(0, change), "announce") << "no phase passes without the stopped member";

  EXPECT_EQ(post(0, "/v1/abort", "{}").status, 400);
  EXPECT_EQ(post(0, "/v1/abort", R"({"change": "nope"})").status, 400);
  EXPECT_EQ(post(0, "/v1/abort", json{{"change", NodeId::from_random_bits(1, 2).to_string()}}.dump()).status, 409);
  AdminResponse elsewhere = post(1, "/v1/abort", json{{"change", change}}.dump());
  EXPECT_EQ(elsewhere.status, 409);
  EXPECT_NE(elsewhere.body.find("is not this node's"), std::string::npos) << elsewhere.body;

  AdminResponse aborted = post(0, "/v1/abort", json{{"change", change}}.dump());
  ASSERT_EQ(aborted.status, 200) << aborted.body;
  EXPECT_EQ(json::parse(aborted.body),
            (json{{"change", change}, {"kind", "move"}, {"node", mover.to_string()}, {"coordinator", mover.to_string()}, {"phase", "aborted"}}));
  AdminResponse again = post(0, "/v1/abort", json{{"change", change}}.dump());
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(again.body.find("already ended"), std::string::npos) << again.body;
  EXPECT_EQ(phase_of(0, change), "aborted");
  json me = status_of(0, mover);
  EXPECT_EQ(me["status"], "NORMAL");
  EXPECT_EQ(me["change"], nullptr);
  EXPECT_EQ(me["tokens"], 16);
  EXPECT_EQ(get(0, "/v1/ring")["pending"], json::array());
  ASSERT_TRUE(run_until([&] { return phase_of(1, change) == "aborted"; }));
}

TEST_F(NodeTest, ADryRunPlansTheMoveTheNodeThenMakesAndAnnouncesNothing) {
  rf_ = 2;
  ASSERT_TRUE(start_cluster(3));
  const NodeId self = node(0).id();
  const auto before = node(0).ring();
  const std::string body = R"({"tokens": ["300", "100", "200"], "dry_run": true})";
  AdminResponse planned = post(0, "/v1/move", body);
  ASSERT_EQ(planned.status, 200) << planned.body;
  json plan = json::parse(planned.body);
  EXPECT_EQ(plan["node"], self.to_string());
  EXPECT_EQ(plan["tokens"], json::array({"100", "200", "300"}));
  ASSERT_FALSE(plan["moves"].empty());
  double sum_before = 0, sum_after = 0;
  ASSERT_EQ(plan["ownership_before"].size(), 3u);
  ASSERT_EQ(plan["ownership_after"].size(), 3u);
  for (auto& [id, f] : plan["ownership_before"].items()) sum_before += f.get<double>();
  for (auto& [id, f] : plan["ownership_after"].items()) sum_after += f.get<double>();
  EXPECT_NEAR(sum_before, 2.0, 1e-9);
  EXPECT_NEAR(sum_after, 2.0, 1e-9);
  for (const json& mv : plan["moves"]) {
    const Token end = *Token::parse(mv["end"].get<std::string>());
    EXPECT_TRUE(Token::parse(mv["start"].get<std::string>()));
    EXPECT_EQ(mv["from"], ids_json(before->natural_replicas(end).to_vector()));
    EXPECT_NE(mv["from"], mv["to"]);
  }
  // Nothing announced.
  EXPECT_EQ(node(0).ring()->digest(), before->digest());
  EXPECT_EQ(status_of(0, self)["status"], "NORMAL");
  EXPECT_EQ(get(0, "/v1/ring")["pending"], json::array());
  // Refused like the move itself.
  EXPECT_EQ(post(0, "/v1/move", R"({"tokens": [], "dry_run": true})").status, 409);
  EXPECT_EQ(post(0, "/v1/move", R"({"tokens": ["5", "5"], "dry_run": true})").status, 409);
  const std::string taken = before->find(node(1).id())->tokens.front().to_string();
  EXPECT_EQ(post(0, "/v1/move", R"({"tokens": [")" + taken + R"("], "dry_run": true})").status, 409);
  EXPECT_EQ(post(0, "/v1/move", R"({"tokens": ["1"], "dry_run": "yes"})").status, 400);

  // The plan is what the move does.
  AdminResponse moved = post(0, "/v1/move", R"({"tokens": ["300", "100", "200"]})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  const std::string change = json::parse(moved.body)["change"];
  ASSERT_TRUE(run_until([&] { return phase_of(0, change) == "done"; }));
  const auto after = node(0).ring();
  for (const json& mv : plan["moves"]) {
    EXPECT_EQ(mv["to"], ids_json(after->natural_replicas(*Token::parse(mv["end"].get<std::string>())).to_vector()));
  }
  const auto own = after->ownership();
  for (size_t i = 0; i < after->nodes().size(); ++i) {
    EXPECT_NEAR(plan["ownership_after"][after->nodes()[i].id.to_string()].get<double>(), own[i], 1e-9);
  }
}

// More tokens than --num-tokens allows (kMaxTokensPerNode) would not fit in the one gossiped
// value every peer bounds: a move or a dry run of one is refused (400) before anything is planned
// or written, as is Node::move_tokens, and Node::open refuses such --tokens or --num-tokens.
TEST_F(NodeTest, AMoveOfMoreTokensThanTheCapIsRefusedBeforeAnythingIsWritten) {
  ASSERT_TRUE(start_cluster(2));
  const NodeId self = node(0).id();
  const auto before = node(0).ring();
  auto tokens = [](size_t n) {
    json list = json::array();
    for (size_t t = 1; t <= n; ++t) list.push_back(std::to_string(t * 1000 + 7));
    return list;
  };
  for (bool dry_run : {true, false}) {
    AdminResponse r = post(0, "/v1/move", json{{"tokens", tokens(kMaxTokensPerNode + 1)}, {"dry_run", dry_run}}.dump());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("at most 4096"), std::string::npos) << r.body;
  }
  std::vector<Token> many;
  for (size_t t = 1; t <= kMaxTokensPerNode + 1; ++t) many.push_back(Token(t * 1000 + 7));
  EXPECT_EQ(node(0).move_tokens(many).code(), StatusCode::kRefused);
  EXPECT_EQ(node(0).ring()->digest(), before->digest()) << "nothing announced";
  EXPECT_EQ(status_of(0, self)["status"], "NORMAL");
  EXPECT_EQ(status_of(0, self)["change"], nullptr);
  EXPECT_EQ(get(0, "/v1/ring")["pending"], json::array());
  // At the cap, the plan is made.
  AdminResponse at_cap = post(0, "/v1/move", json{{"tokens", tokens(kMaxTokensPerNode)}, {"dry_run", true}}.dump());
  EXPECT_EQ(at_cap.status, 200) << at_cap.body.substr(0, 300);

  NodeConfig too_many = config({}, 5);
  too_many.tokens.assign(many.begin(), many.end());
  EXPECT_EQ(Node::open(too_many, std::make_unique<storage::MemoryStore>(), net_.make_env()).status().code(),
            StatusCode::kInvalidArgument);
  NodeConfig num = config({}, 6);
  num.num_tokens = kMaxTokensPerNode + 1;
  EXPECT_EQ(Node::open(num, std::make_unique<storage::MemoryStore>(), net_.make_env()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(NodeTest, ARebalanceOfABalancedNodeAnswersAnEmptyPlanAndStartsNothing) {
  rf_ = 2;  // fewer replicas than nodes: ownership can differ between nodes
  ASSERT_TRUE(start_cluster(3));
  const NodeId self = node(0).id();
  const auto digest = node(0).ring()->digest();
  for (const char* body : {R"({"dry_run": true})", "{}", ""}) {
    AdminResponse r = post(0, "/v1/rebalance", body);
    ASSERT_EQ(r.status, 200) << body << ": " << r.body;
    const json plan = json::parse(r.body);
    EXPECT_EQ(plan["node"], self.to_string());
    EXPECT_EQ(plan["balanced"], true);
    EXPECT_EQ(plan["tokens"], json::array());
    EXPECT_EQ(plan["moves"], json::array());
    EXPECT_EQ(plan["ownership_before"].size(), 3u);
    EXPECT_EQ(plan["ownership_before"], plan["ownership_after"]);
    EXPECT_FALSE(plan.contains("change")) << plan.dump();
  }
  net_.run_for(1'000);
  EXPECT_EQ(node(0).ring()->digest(), digest) << "nothing started";
  EXPECT_EQ(status_of(0, self)["status"], "NORMAL");
  EXPECT_EQ(status_of(0, self)["change"], nullptr);
}

TEST_F(NodeTest, ARebalancePlansThenMovesABadlyPlacedNodeAsAChangeOfKindRebalance) {
  rf_ = 2;
  ASSERT_TRUE(start_cluster(3));
  // A fourth node joins on 16 neighbouring tokens: it owns almost nothing.
  stores_.push_back(std::make_unique<SharedStore>());
  NodeConfig clustered = config({node(0).listen_address()}, 3);
  for (uint64_t t = 1000; t < 1016; ++t) clustered.tokens.push_back(Token(t));
  start_on(*stores_.back(), clustered);
  ASSERT_TRUE(run_until([&] {
    for (size_t i = 0; i < 4; ++i) {
      if (node(i).ring()->nodes().size() != 4 || node(i).ring()->digest() != node(0).ring()->digest()) return false;
    }
    return get(3, "/v1/health")["converged"] == true;
  }));
  const NodeId self = node(3).id();
  const auto before = node(3).ring();

  AdminResponse planned = post(3, "/v1/rebalance", R"({"dry_run": true})");
  ASSERT_EQ(planned.status, 200) << planned.body;
  const json plan = json::parse(planned.body);
  EXPECT_EQ(plan["balanced"], false);
  EXPECT_EQ(plan["dry_run"], true);
  EXPECT_EQ(plan["node"], self.to_string());
  EXPECT_EQ(plan["tokens"].size(), 16u);
  EXPECT_FALSE(plan["moves"].empty());
  EXPECT_GT(plan["ownership_after"][self.to_string()].get<double>(),
            plan["ownership_before"][self.to_string()].get<double>());
  net_.run_for(1'000);
  EXPECT_EQ(node(3).ring()->digest(), before->digest()) << "a dry run announces nothing";
  EXPECT_EQ(status_of(3, self)["change"], nullptr);

  const json answer = start_change(3, "/v1/rebalance", "{}", "rebalance");
  EXPECT_EQ(answer["tokens"], plan["tokens"]) << "the plan is what the rebalance does";
  const std::string change = answer.value("change", "");
  const json me = status_of(3, self);
  EXPECT_EQ(me["status"], "MOVING");
  EXPECT_EQ(me["change"]["kind"], "rebalance");
  EXPECT_EQ(me["change"]["id"], change);
  AdminResponse second = post(3, "/v1/decommission", "{}");
  EXPECT_EQ(second.status, 409) << "one change at a time: " << second.body;

  ASSERT_TRUE(run_until([&] { return phase_of(3, change) == "done"; }));
  EXPECT_EQ(get(3, "/v1/change?id=" + change)["kind"], "rebalance");
  ASSERT_TRUE(run_until([&] { return status_of(0, self)["status"] == "NORMAL"; }));
  EXPECT_EQ(status_of(0, self)["change"], nullptr);
  std::vector<std::string> mine;
  for (Token t : node(3).ring()->find(self)->tokens) mine.push_back(t.to_string());
  EXPECT_EQ(json(mine), plan["tokens"]);
  const json again = json::parse(post(3, "/v1/rebalance", "{}").body);
  EXPECT_EQ(again["balanced"], true) << again.dump();
}

TEST_F(NodeTest, ADecommissionWalksEveryPhaseAndLeavesTheNodeLeftAnsweringItsAdminApi) {
  ASSERT_TRUE(start_cluster(4));
  const NodeId leaver = node(3).id();
  const std::string change = start_change(3, "/v1/decommission", "{}", "decommission").value("change", "");

  // In flight: LEAVING, its change in status everywhere; one change at a time.
  const json me = status_of(3, leaver);
  EXPECT_EQ(me["status"], "LEAVING");
  EXPECT_EQ(me["change"]["kind"], "decommission");
  EXPECT_EQ(me["change"]["id"], change);
  EXPECT_TRUE(me["change"]["waiting_for"].is_array());
  ASSERT_TRUE(run_until([&] { return status_of(1, leaver)["change"].is_object(); }));
  EXPECT_EQ(status_of(1, leaver)["change"]["kind"], "decommission");
  EXPECT_EQ(status_of(1, leaver)["status"], "LEAVING");
  AdminResponse other = post(1, "/v1/decommission", "{}");
  EXPECT_EQ(other.status, 409);
  EXPECT_NE(other.body.find(change), std::string::npos) << other.body;

  std::vector<std::string> phases;
  ASSERT_TRUE(run_until([&] {
    const std::string p = phase_of(3, change);
    if (phases.empty() || phases.back() != p) phases.push_back(p);
    return p == "done";
  }));
  EXPECT_EQ(phases, (std::vector<std::string>{"announce", "write_both", "read_new", "release", "done"}));
  EXPECT_EQ(get(3, "/v1/change?id=" + change)["kind"], "decommission");

  // LEFT: owns nothing, still answers; the others route without it.
  const json left = status_of(3, leaver);
  EXPECT_EQ(left["status"], "LEFT");
  EXPECT_EQ(left["tokens"], 0);
  EXPECT_EQ(left["ownership"], 0.0);
  EXPECT_EQ(left["change"], nullptr);
  EXPECT_EQ(get(3, "/v1/info")["id"], leaver.to_string());
  EXPECT_EQ(post(3, "/v1/decommission", "{}").status, 409);
  EXPECT_EQ(post(3, "/v1/rebalance", "{}").status, 409);
  ASSERT_TRUE(run_until([&] {
    for (size_t i = 0; i < 3; ++i) {
      if (status_of(i, leaver)["status"] != "LEFT" || get(i, "/v1/health")["converged"] != true) return false;
    }
    return true;
  }));
  // Three owners at RF 3: another decommission would leave fewer owners than replicas.
  AdminResponse too_few = post(1, "/v1/decommission", "{}");
  EXPECT_EQ(too_few.status, 409);
  EXPECT_NE(too_few.body.find("would leave 2 nodes owning tokens, fewer than the replication factor 3"),
            std::string::npos)
      << too_few.body;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(node(i).ring()->current().size(), 48u);
    for (int k = 0; k < 50; ++k) {
      const json owners = get(i, "/v1/owners?key=k" + std::to_string(k));
      for (const char* list : {"replicas", "reachable", "pending"}) {
        for (const json& id : owners[list]) EXPECT_NE(id, leaver.to_string()) << list;
      }
    }
  }

  // Stopped and opened again on its data dir: refused, exit 3, saying it left.
  nodes_[3]->stop();
  auto again = Node::open(config({}, 3), std::make_unique<TestStore>(*stores_[3]), net_.make_env());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kDataDirRefused);
  EXPECT_NE(again.status().message().find("left the cluster"), std::string::npos) << again.status().message();
}

TEST_F(NodeTest, AGarbageFrameIsCountedAndLoggedOnceAWhile) {
  start({});
  ASSERT_TRUE(founded(0));
  // A second Env's transport sends garbage at the node's gossip address.
  auto env = net_.make_env();
  auto sender = env->make_transport({.listen = "127.0.0.1:0"}, [](std::string_view, const std::string&) { return true; });
  ASSERT_TRUE(sender->listen().ok());
  for (int i = 0; i < 3; ++i) sender->send(node(0).listen_address(), std::string("\0\0\0\x02zz", 6));
  net_.run_for(10);
  const std::string metrics = net_.admin_get(node(0).admin_address(), "/metrics").body;
  EXPECT_NE(metrics.find("ringkeeper_gossip_frames_rejected_total{reason=\"malformed\"} 3"), std::string::npos)
      << metrics;
  size_t lines = 0;
  for (const auto& l : net_.logs()) lines += l.text.find("dropped a frame") != std::string::npos;
  EXPECT_EQ(lines, 1u) << "one line per 10 s per reason";
  sender->close();
}

// A node started with another --cluster name than its seed's is refused at the handshake with a
// clear error, as other replication settings are: the seed counts the frame and answers it with a
// bare refusal; the joiner counts that answer and logs a line naming both cluster names, and its
// periodic "no seed" line says it was refused, not unanswered. It learns nothing of the cluster.
TEST_F(NodeTest, AWrongClusterNameIsRefusedAtTheHandshakeWithAClearError) {
  start({});
  ASSERT_TRUE(founded(0));
  NodeConfig c = config({node(0).listen_address()}, 1);
  c.cluster = "elsewhere";
  stores_.push_back(std::make_unique<SharedStore>());
  start_on(*stores_.back(), c);
  net_.run_for(15'000);
  const std::string wrong = "ringkeeper_gossip_frames_rejected_total{reason=\"wrong_cluster\"}";
  EXPECT_GE(metric(0, wrong), 1u) << "the seed counts the stranger's frames";
  EXPECT_GE(metric(1, wrong), 1u) << "the stranger counts the refusals";
  EXPECT_LT(metric(1, wrong), ~uint64_t{0});
  std::string clear, seed_line;
  for (const auto& l : net_.logs()) {
    if (l.text.find("refused " + node(0).listen_address()) != std::string::npos) clear = l.text;
    if (l.text.find("no seed has accepted this node yet") != std::string::npos) seed_line = l.text;
  }
  EXPECT_NE(clear.find("belongs to cluster 'ringkeeper', this node to 'elsewhere'"), std::string::npos) << clear;
  EXPECT_NE(clear.find("--cluster"), std::string::npos) << clear;
  EXPECT_NE(seed_line.find("'ringkeeper'"), std::string::npos) << seed_line;
  EXPECT_FALSE(net_.logged("no seed has answered yet"));
  EXPECT_TRUE(net_.logged("it names cluster 'elsewhere', this node's is 'ringkeeper'")) << "the seed's line";
  EXPECT_EQ(get(1, "/v1/gossipinfo")["nodes"].size(), 1u) << "it holds only itself";
  EXPECT_EQ(get(1, "/v1/info")["cluster_id"], "");
  EXPECT_EQ(get(0, "/v1/gossipinfo")["nodes"].size(), 1u) << "and the seed never took it in";
}

// The seed's answer to another cluster's frame says who refused, in the seed's cluster name, and
// nothing else: no cluster id, no replication settings, no liveness rumors.
TEST_F(NodeTest, TheRefusalOfAnotherClustersFrameRevealsOnlyTheNameAndWhoRefused) {
  start({});
  ASSERT_TRUE(founded(0));
  std::vector<std::string> answers;
  auto env = net_.make_env();
  auto stranger = env->make_transport({.listen = "127.0.0.1:0"}, [&](std::string_view frame, const std::string&) {
    answers.emplace_back(frame);
    return true;
  });
  const std::string address = stranger->listen().value();
  gossip::Message syn;
  syn.from = NodeId(5, 5);
  syn.from_address = address;
  syn.body = gossip::Syn{1, 2};
  for (int i = 0; i < 2; ++i) stranger->send(node(0).listen_address(), gossip::encode(syn, {.cluster_name = "elsewhere"}));
  net_.run_for(10);
  ASSERT_EQ(answers.size(), 1u) << "two at once: the second is not answered (at most 10 a second)";
  const gossip::DecodeResult r = gossip::decode(answers[0], {.cluster_name = "ringkeeper"});
  ASSERT_EQ(r.error, gossip::DecodeError::kNone);
  EXPECT_EQ(r.message->from, node(0).id());
  EXPECT_TRUE(std::holds_alternative<gossip::Rumor>(r.message->body));
  EXPECT_TRUE(r.message->cluster_id.is_nil());
  EXPECT_EQ(r.message->replication, "");
  EXPECT_TRUE(r.message->liveness.empty());
  stranger->close();
}

// ---- gossip encryption and the keyring ------------------------------------------------------

const std::string kKeyA(32, 'a'), kKeyB(32, 'b');

TEST_F(NodeTest, EncryptedNodesFormAClusterAndRefuseAPlaintextPeerWhileServing) {
  gossip_key_ = gossip::encode_key_base64(kKeyA);
  std::vector<std::string> frames;
  net_.on_send([&](const std::string&, const std::string&, std::string_view f) { frames.emplace_back(f); });
  ASSERT_TRUE(start_cluster(3));
  for (const std::string& f : frames) ASSERT_TRUE(gossip::is_sealed(f)) << "every frame goes out sealed";
  // A node without the key: its plaintext frames are dropped, counted and logged; it never joins.
  gossip_key_.clear();
  start({node(0).listen_address()});
  ASSERT_TRUE(run_until([&] { return metric(0, "ringkeeper_gossip_frames_rejected_total{reason=\"plaintext\"}") >= 3; }));
  EXPECT_TRUE(net_.logged("(plaintext: this node encrypts gossip"));
  net_.run_for(3000);
  EXPECT_EQ(node(3).members().size(), 1u) << "never merges";
  EXPECT_EQ(node(0).members().size(), 3u);
  EXPECT_EQ(get(0, "/v1/health")["live"], 3) << "the node keeps serving";
  EXPECT_EQ(metric(0, "ringkeeper_gossip_encrypted"), 1u);
  EXPECT_EQ(metric(3, "ringkeeper_gossip_encrypted"), 0u);
  net_.on_send(nullptr);  // `frames` goes before the nodes stop
}

TEST_F(NodeTest, KeysAreInstalledUsedAndRemovedOnEveryLiveNode) {
  gossip_key_ = gossip::encode_key_base64(kKeyA);
  ASSERT_TRUE(start_cluster(3));
  const std::string fa = gossip::key_fingerprint(kKeyA), fb = gossip::key_fingerprint(kKeyB);
  json listed = key_op(1, net_.admin_get(node(1).admin_address(), "/v1/keys"));
  EXPECT_EQ(listed["primary"], fa);
  EXPECT_EQ(listed["keys"], json::array({json{{"fingerprint", fa}, {"nodes", 3}}}));

  json installed = key_command(0, "install", kKeyB);
  EXPECT_EQ(installed["key"], fb);
  EXPECT_EQ(installed["nodes"], 3);
  EXPECT_EQ(installed["acked"], 3);
  EXPECT_EQ(installed["failed"], json::array());
  json used = key_command(1, "use", kKeyB);
  EXPECT_EQ(used["acked"], 3) << used;
  listed = key_op(2, net_.admin_get(node(2).admin_address(), "/v1/keys"));
  EXPECT_EQ(listed["primary"], fb);
  EXPECT_EQ(listed["keys"].size(), 2u);
  // Removing the primary is refused where the command is taken.
  AdminResponse primary = post(2, "/v1/keys/remove", json{{"key", gossip::encode_key_base64(kKeyB)}}.dump());
  EXPECT_EQ(primary.status, 409);
  EXPECT_NE(primary.body.find("primary"), std::string::npos) << primary.body;
  json removed = key_command(2, "remove", kKeyA);
  EXPECT_EQ(removed["acked"], 3) << removed;
  // The cluster carries on with key B alone, and every keyring on disk says so.
  const auto ring_before = node(0).ring()->digest();
  ASSERT_TRUE(run_until([&] { return get(2, "/v1/health")["converged"] == true; }));
  EXPECT_EQ(node(0).ring()->digest(), ring_before);
  for (size_t i = 0; i < 3; ++i) {
    auto k = load_keyring(config({}, i).data_dir);
    ASSERT_TRUE(k.ok()) << k.status().to_string();
    EXPECT_EQ(k->fingerprints(), std::vector<std::string>{fb}) << i;
    EXPECT_EQ(k->primary_fingerprint(), fb) << i;
    EXPECT_EQ(std::filesystem::status(keyring_path(config({}, i).data_dir)).permissions(),
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  // Bad input: clear 400s.
  EXPECT_EQ(post(0, "/v1/keys/install", R"({"key": "c2hvcnQ="})").status, 400);
  EXPECT_EQ(post(0, "/v1/keys/use", "{}").status, 400);
  EXPECT_EQ(post(0, "/v1/keys/use", json{{"key", gossip::encode_key_base64(kKeyA)}}.dump()).status, 409)
      << "a key this node does not hold";
  get(0, "/v1/keys/op?id=0000000000000001", 404);
  for (const char* not_hex : {"0x00000000000001", "-000000000000001", "%20000000000000001", "00000000000000g1"}) {
    get(0, std::string("/v1/keys/op?id=") + not_hex, 400);
  }
}

// The embedder's MAC under the keyring (Node::cluster_mac): HMAC-SHA256 under a key derived from
// the primary gossip key (never the key itself), verified under any installed key, following
// `ringctl keys` as it installs, switches and removes keys; nothing without a primary key.
TEST_F(NodeTest, TheClusterMacFollowsTheKeyringAndIsNeverTheGossipKeysOwn) {
  auto mac_under = [](const std::string& raw, std::string_view msg) {
    return gossip::hmac_sha256(gossip::hmac_sha256(raw, "ringkeeper cluster mac v1"), msg);
  };
  const std::string msg = "PUT /internal/kv/k";
  gossip_key_ = gossip::encode_key_base64(kKeyA);
  ASSERT_TRUE(start_cluster(3));
  auto a = node(0).cluster_mac(msg);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(*a, mac_under(kKeyA, msg)) << "the derivation docs/security.md pins";
  EXPECT_NE(*a, gossip::hmac_sha256(kKeyA, msg)) << "never a MAC under the gossip key itself";
  EXPECT_TRUE(node(0).has_cluster_key());
  EXPECT_TRUE(node(2).verify_cluster_mac(msg, *a));
  EXPECT_FALSE(node(2).verify_cluster_mac(msg + " ", *a)) << "another message";
  std::string flipped = *a;
  flipped[31] ^= 1;
  EXPECT_FALSE(node(2).verify_cluster_mac(msg, flipped));
  EXPECT_FALSE(node(2).verify_cluster_mac(msg, a->substr(0, 16))) << "a truncated MAC";
  EXPECT_FALSE(node(2).verify_cluster_mac(msg, "")) << "no MAC";

  // A rotation: after install every node still signs with A and takes B; after use, B signs and
  // A is still taken (a member that has not switched yet); after remove, A is refused.
  ASSERT_EQ(key_command(0, "install", kKeyB)["acked"], 3);
  EXPECT_EQ(*node(1).cluster_mac(msg), mac_under(kKeyA, msg));
  EXPECT_TRUE(node(1).verify_cluster_mac(msg, mac_under(kKeyB, msg)));
  ASSERT_EQ(key_command(1, "use", kKeyB)["acked"], 3);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(*node(i).cluster_mac(msg), mac_under(kKeyB, msg)) << i;
  EXPECT_TRUE(node(0).verify_cluster_mac(msg, mac_under(kKeyA, msg)));
  ASSERT_EQ(key_command(2, "remove", kKeyA)["acked"], 3);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(node(i).verify_cluster_mac(msg, mac_under(kKeyA, msg))) << i;
    EXPECT_TRUE(node(i).verify_cluster_mac(msg, mac_under(kKeyB, msg))) << i;
  }

  // Without a keyring there is nothing to sign or verify with.
  gossip_key_.clear();
  Node& plain = start({});
  EXPECT_FALSE(plain.has_cluster_key());
  EXPECT_FALSE(plain.cluster_mac(msg));
  EXPECT_FALSE(plain.verify_cluster_mac(msg, mac_under(kKeyB, msg)));
}

TEST_F(NodeTest, AMemberThatLacksTheKeyAUseNamesRefusesItAndIsListedAsFailed) {
  gossip_key_ = gossip::encode_key_base64(kKeyA);
  gossip::Keyring both;
  ASSERT_EQ(both.install(kKeyA), "");
  ASSERT_EQ(both.use(gossip::key_fingerprint(kKeyA)), "");
  ASSERT_EQ(both.install(kKeyB), "");
  for (size_t i = 0; i < 2; ++i) {  // nodes 0 and 1 hold A and B, node 2 only A
    std::filesystem::create_directories(config({}, i).data_dir);
    ASSERT_TRUE(save_keyring(config({}, i).data_dir, both).ok());
  }
  ASSERT_TRUE(start_cluster(3));
  json used = key_command(0, "use", kKeyB);
  EXPECT_EQ(used["nodes"], 3);
  EXPECT_EQ(used["acked"], 2);
  EXPECT_EQ(used["failed"], json::array({node(2).id().to_string()}));
  EXPECT_NE(used["errors"][node(2).id().to_string()].get<std::string>().find("not installed"), std::string::npos)
      << used;
}

TEST_F(NodeTest, EncryptionIsTurnedOnAcrossARunningClusterWithTheMigrationMode) {
  accept_plaintext_ = true;
  ASSERT_TRUE(start_cluster(3));
  EXPECT_EQ(key_command(0, "install", kKeyA)["acked"], 3) << "sent in plaintext: nobody encrypts yet";
  EXPECT_EQ(metric(0, "ringkeeper_gossip_encrypted"), 0u) << "installed is not in use";
  EXPECT_EQ(key_command(0, "use", kKeyA)["acked"], 3);
  size_t plain = 0;
  net_.on_send([&](const std::string&, const std::string&, std::string_view f) { plain += !gossip::is_sealed(f); });
  net_.run_for(5000);
  EXPECT_EQ(plain, 0u) << "every node now seals what it sends";
  EXPECT_TRUE(get(1, "/v1/health")["converged"] == true);
  net_.on_send(nullptr);  // `plain` goes before the nodes stop
}

TEST_F(NodeTest, APlaintextKeyCommandNeverChangesTheKeysOfANodeThatEncrypts) {
  gossip_key_ = gossip::encode_key_base64(kKeyA);
  accept_plaintext_ = true;  // plaintext frames are taken, but not to change keys
  start({});
  ASSERT_TRUE(founded(0));
  auto env = net_.make_env();
  std::vector<gossip::KeyOpAck> acks;
  auto forger = env->make_transport({.listen = "127.0.0.1:0"}, [&](std::string_view f, const std::string&) {
    auto r = gossip::decode(f, gossip::CodecOptions{});
    if (r.message) acks.push_back(std::get<gossip::KeyOpAck>(r.message->body));
    return true;
  });
  const Result<std::string> bound = forger->listen();
  ASSERT_TRUE(bound.ok()) << bound.status().to_string();
  const std::string at = *bound;
  gossip::Message m;
  m.from = node(0).id();  // even claiming to be the node itself
  m.from_address = at;
  m.replication = "simple:3";
  m.body = gossip::KeyOp{7, gossip::KeyOpKind::kInstall, kKeyB, ""};
  forger->send(node(0).listen_address(), gossip::encode(m, gossip::CodecOptions{}));
  net_.run_for(100);
  ASSERT_EQ(acks.size(), 0u) << "the answer goes out sealed: the forger cannot read it";
  auto k = load_keyring(config({}, 0).data_dir);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->fingerprints(), std::vector<std::string>{gossip::key_fingerprint(kKeyA)});
  EXPECT_TRUE(net_.logged("takes key commands only when they arrive encrypted"));
  forger->close();
}

TEST_F(NodeTest, TheKeyFileStartsTheKeyringOnceAndADifferentKeyIsRefused) {
  gossip_key_ = gossip::encode_key_base64(kKeyA);
  start({});
  ASSERT_TRUE(founded(0));
  nodes_[0]->stop();
  auto reopen = [&] { return Node::open(config({}, 0), std::make_unique<TestStore>(*stores_[0]), net_.make_env()); };
  {
    auto same = reopen();
    EXPECT_TRUE(same.ok()) << "given again: nothing to do; " << same.status().to_string();
  }
  gossip_key_ = gossip::encode_key_base64(kKeyB);
  auto other = reopen();
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("ringctl keys install"), std::string::npos) << other.status().to_string();
  gossip_key_ = "c2hvcnQ=";
  auto bad = reopen();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("32"), std::string::npos) << bad.status().to_string();
  gossip_key_.clear();
  auto without = reopen();
  EXPECT_TRUE(without.ok()) << "the keyring lives in the data dir: " << without.status().to_string();
}

TEST_F(NodeTest, WithTokenReadsRemoteReadsNeedTheTokenToo) {
  stores_.push_back(std::make_unique<SharedStore>());
  NodeConfig c = config({}, 0);
  c.admin_token = "t0ken";
  c.admin_token_reads = true;
  start_on(*stores_.back(), c);
  ASSERT_TRUE(founded(0));
  const std::string admin = node(0).admin_address();
  EXPECT_EQ(net_.admin(admin, AdminRequest{"GET", "/v1/status", "", "", false}).status, 403);
  EXPECT_EQ(net_.admin(admin, AdminRequest{"GET", "/metrics", "", "Bearer nope", false}).status, 403);
  EXPECT_EQ(net_.admin(admin, AdminRequest{"GET", "/v1/status", "", "Bearer t0ken", false}).status, 200);
  EXPECT_EQ(net_.admin(admin, AdminRequest{"GET", "/v1/status", "", "", true}).status, 200) << "loopback, as for writes";
}

// ---- SubscriberList on real threads -----------------------------------------------------------

// A notification runs on a thread of its own (the node thread); the test's thread resets.
TEST(SubscriberList, ResetOnAnotherThreadWaitsForTheRunningCallbackThenNothingMore) {
  auto list = std::make_shared<SubscriberList>();
  std::mutex mu;
  std::condition_variable cv;
  bool in_callback = false, reset_returned = false, reset_seen_inside = true;
  int calls = 0;
  Subscription sub = list->on_liveness_change([&](const NodeId&, PeerLiveness) {
    std::unique_lock lock(mu);
    ++calls;
    in_callback = true;
    cv.notify_all();
    // reset() on the other thread cannot return while this call runs: it must not within 300 ms.
    reset_seen_inside = cv.wait_for(lock, 300ms, [&] { return reset_returned; });
  });
  std::thread node_thread([&] { list->notify_liveness({{NodeId(1, 1), PeerLiveness::kUp}}); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return in_callback; }));
  }
  std::thread resetter([&] {
    sub.reset();
    std::lock_guard lock(mu);
    reset_returned = true;
    cv.notify_all();
  });
  node_thread.join();
  resetter.join();
  EXPECT_FALSE(reset_seen_inside) << "reset() returned while its callback was running";
  EXPECT_TRUE(reset_returned);
  list->notify_liveness({{NodeId(1, 1), PeerLiveness::kDown}});
  EXPECT_EQ(calls, 1);
}

TEST(SubscriberList, DestroyingItsOwnSubscriptionInsideTheCallbackDoesNotDeadlock) {
  auto list = std::make_shared<SubscriberList>();
  int calls = 0;
  auto sub = std::make_unique<Subscription>();
  *sub = list->on_ring_change([&](const RingChange&) {
    ++calls;
    sub.reset();  // destroys the Subscription whose callback this is
  });
  std::promise<void> done;
  std::thread node_thread([&] {
    list->notify_ring(RingChange{});
    list->notify_ring(RingChange{});
    done.set_value();
  });
  if (done.get_future().wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << "deadlocked";
    std::_Exit(1);  // the thread cannot be joined
  }
  node_thread.join();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(sub);
}

// ---- real sockets ---------------------------------------------------------------------------

TEST(RealEnv, EveryRuntimeLineReachesTheLogSink) {
  std::random_device rd;
  const auto dir = std::filesystem::temp_directory_path() / ("ringkeeper-node-sink-" + std::to_string(rd()));
  std::mutex mu;
  std::vector<std::pair<LogLevel, std::string>> lines;
  NodeConfig c;
  c.data_dir = dir.string();
  c.listen = "127.0.0.1:0";
  c.admin = "";
  c.log_sink = [&](LogLevel level, std::string_view line) {
    std::lock_guard lock(mu);
    lines.emplace_back(level, std::string(line));
  };
  {
    auto opened = Node::open(c, std::make_unique<storage::MemoryStore>());
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    ASSERT_EQ((*opened)->start(), Status());
    (*opened)->stop();
  }
  std::filesystem::remove_all(dir);
  std::lock_guard lock(mu);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines.front().first, LogLevel::kInfo);
  EXPECT_NE(lines.front().second.find("generation"), std::string::npos) << lines.front().second;
  EXPECT_NE(lines.back().second.find("stopped"), std::string::npos) << lines.back().second;
}

TEST(TcpTransport, AnAddressInUseIsAnIoError) {
  boost::asio::io_context io;
  auto ignore = [](std::string_view, const std::string&) { return true; };
  TcpTransport first(io, {.listen = "127.0.0.1:0"}, ignore);
  const Result<std::string> bound = first.listen();
  ASSERT_TRUE(bound.ok()) << bound.status().to_string();
  TcpTransport second(io, {.listen = *bound}, ignore);
  const Result<std::string> again = second.listen();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kIoError);
  EXPECT_TRUE(again.status().message().starts_with("gossip: cannot listen on " + *bound + ": "))
      << again.status().message();
}

TEST(TcpTransport, DeliversLargeFramesWhole) {
  boost::asio::io_context io;
  std::vector<std::string> got;
  TransportConfig cfg;
  cfg.listen = "127.0.0.1:0";
  TcpTransport t(io, cfg, [&](std::string_view frame, const std::string&) {
    got.emplace_back(frame);
    return true;
  });
  const Result<std::string> bound = t.listen();
  ASSERT_TRUE(bound.ok()) << bound.status().to_string();
  const std::string self = *bound;
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

TEST(KeyOpsTest, SilentMembersGetTheCommandAgainAndFailAtTheDeadline) {
  KeyOps ops;
  const NodeId self(1, 1), quick(2, 2), silent(3, 3), stranger(4, 4);
  gossip::Keyring k;
  const uint64_t id = ops.begin(gossip::KeyOp{0, gossip::KeyOpKind::kList, "", ""}, 42, self, key_op_answer(0, k, ""),
                                {{quick, "q:1"}, {silent, "s:1"}}, 1000);
  EXPECT_EQ(id, 42u);
  ops.on_ack(quick, key_op_answer(42, k, ""));
  ops.on_ack(stranger, key_op_answer(42, k, ""));  // not asked: ignored
  auto s = ops.status(42, 1500);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->done);
  EXPECT_EQ(s->acked, 2u);
  EXPECT_TRUE(ops.due_resends(1500).empty()) << "not a second yet";
  auto again = ops.due_resends(2000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].first, "s:1");
  EXPECT_EQ(again[0].second.op, 42u);
  s = ops.status(42, 1000 + KeyOps::kDeadlineMs);
  EXPECT_TRUE(s->done);
  EXPECT_EQ(s->nodes, 3u);
  EXPECT_EQ(s->acked, 2u);
  EXPECT_EQ(s->failed, std::vector<NodeId>{silent});
  EXPECT_NE(s->errors[silent].find("no answer"), std::string::npos);
  EXPECT_TRUE(ops.due_resends(1000 + KeyOps::kDeadlineMs).empty()) << "nothing after the deadline";
  EXPECT_FALSE(ops.status(43, 0)) << "unknown command";
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
  get.authorization.clear();
  EXPECT_FALSE(admin_call_allowed(get, "s3cret", true)) << "--admin-token-reads";
  get.authorization = "Bearer s3cret";
  EXPECT_TRUE(admin_call_allowed(get, "s3cret", true));
}


// removenode through the admin API: a phased change the answering node coordinates on the dead
// node's behalf (the dead node LEAVING meanwhile), and with "force", while another change waits
// for a dead member, its tombstone at once, which lets the waiting change complete.
TEST_F(NodeTest, RemovenodeRunsPhasedAndForceUnblocksAWaitingChange) {
  ASSERT_TRUE(start_cluster(5));
  const NodeId dead = node(4).id();
  node(4).stop();
  ASSERT_TRUE(run_until([&] { return node(0).liveness(dead) == PeerLiveness::kDown; }));
  EXPECT_EQ(post(0, "/v1/removenode", json{{"node", dead.to_string()}, {"force", "yes"}}.dump()).status, 400);
  AdminResponse r = post(0, "/v1/removenode", json{{"node", dead.to_string()}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  const json answer = json::parse(r.body);
  EXPECT_EQ(answer["kind"], "removenode");
  EXPECT_EQ(answer["node"], dead.to_string());
  EXPECT_EQ(answer["coordinator"], node(0).id().to_string());
  EXPECT_EQ(answer["phase"], "announce");
  const std::string change = answer["change"];
  const json leaving = status_of(0, dead);
  EXPECT_EQ(leaving["status"], "LEAVING");
  EXPECT_EQ(leaving["change"]["id"], change);
  EXPECT_EQ(leaving["change"]["kind"], "removenode");
  AdminResponse again = post(0, "/v1/removenode", json{{"node", dead.to_string()}}.dump());
  EXPECT_EQ(json::parse(again.body)["change"], change) << "the removal in flight answers";
  ASSERT_TRUE(run_until([&] { return phase_of(0, change) == "done"; }));
  ASSERT_TRUE(run_until([&] {  // node 1 answers 404 until the record reaches it
    const json c = json::parse(net_.admin_get(node(1).admin_address(), "/v1/change?id=" + change).body, nullptr, false);
    return c.value("phase", "") == "done" && c.value("node", "") == dead.to_string();
  }));
  ASSERT_TRUE(run_until([&] { return status_of(1, dead)["status"] == "REMOVED"; }));

  // A move waits for a stopped member; removenode of it without --force is refused, naming it.
  const NodeId stopped = node(3).id();
  node(3).stop();
  ASSERT_TRUE(run_until([&] { return node(1).liveness(stopped) == PeerLiveness::kDown; }));
  AdminResponse moved = post(0, "/v1/move", R"({"tokens": ["100", "200"]})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  const std::string move = json::parse(moved.body)["change"];
  ASSERT_TRUE(run_until([&] {
    return status_of(0, node(0).id())["change"]["waiting_for"] == json::array({stopped.to_string()});
  }));
  AdminResponse refused = post(1, "/v1/removenode", json{{"node", stopped.to_string()}}.dump());
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(refused.body.find("--force"), std::string::npos) << refused.body;
  AdminResponse forced = post(1, "/v1/removenode", json{{"node", stopped.to_string()}, {"force", true}}.dump());
  ASSERT_EQ(forced.status, 200) << forced.body;
  EXPECT_EQ(json::parse(forced.body)["phase"], "done");
  EXPECT_EQ(json::parse(forced.body)["node"], stopped.to_string());
  ASSERT_TRUE(run_until([&] { return phase_of(0, move) == "done"; }));
}

// A --replace that gives up — no such node, or a node that left — stops (kRefused) only once its
// peers hold it LEFT: a down JOINING ghost would hold every later change's barrier until someone
// removed it with --force. A move afterwards completes without anyone's help.
TEST_F(NodeTest, AReplaceThatGivesUpLeavesNoGhostThatHoldsLaterChanges) {
  ASSERT_TRUE(start_cluster(4));
  const NodeId left = node(3).id();
  const std::string decommission = start_change(3, "/v1/decommission", "{}", "decommission").value("change", "");
  ASSERT_TRUE(run_until([&] { return phase_of(3, decommission) == "done"; }));
  const std::pair<NodeId, std::string> targets[] = {{NodeId(0, 1), "no such node"}, {left, "it is LEFT"}};
  for (const auto& [target, why] : targets) {
    SCOPED_TRACE("--replace " + target.to_string());
    NodeConfig c = config({node(0).listen_address()}, nodes_.size());
    c.replace = target.to_string();
    stores_.push_back(std::make_unique<SharedStore>());
    Node& ghost = start_on(*stores_.back(), c);
    ASSERT_TRUE(run_until([&] { return ghost.failed(); }));
    EXPECT_EQ(ghost.failure().code(), StatusCode::kRefused);
    EXPECT_NE(ghost.failure().message().find(why), std::string::npos) << ghost.failure().message();
    ghost.stop();
    for (const auto& l : net_.logs()) EXPECT_EQ(l.text.find("no peer has confirmed"), std::string::npos) << l.text;
    // One peer had it when the ghost stopped; gossip among the others does the rest.
    EXPECT_TRUE(run_until([&] {
      for (size_t i = 0; i < 3; ++i) {
        if (status_of(i, ghost.id())["status"] != "LEFT") return false;
      }
      return true;
    })) << status_of(0, ghost.id()).dump();
  }
  const std::string move = start_change(1, "/v1/move", R"({"tokens": ["100", "200"]})", "move").value("change", "");
  EXPECT_TRUE(run_until([&] { return phase_of(1, move) == "done"; }))
      << "waiting for " << status_of(1, node(1).id())["change"].dump();
}

// /v1/status about a REMOVED tombstone: every documented field there, liveness "unknown" (nobody
// probes a removed id), generation 0 (a tombstone is no run of the node; its generation is 2^64-1
// inside, beyond what JSON carries exactly), "tombstone": true, address, dc and rack empty.
TEST_F(NodeTest, StatusShowsATombstoneWithUnknownLivenessAndNoGeneration) {
  ASSERT_TRUE(start_cluster(4));
  const NodeId dead = node(3).id();
  node(3).stop();
  ASSERT_TRUE(run_until([&] { return node(0).liveness(dead) == PeerLiveness::kDown; }));
  ASSERT_EQ(post(0, "/v1/removenode", json{{"node", dead.to_string()}, {"force", true}}.dump()).status, 200);
  ASSERT_TRUE(run_until([&] { return status_of(1, dead)["status"] == "REMOVED"; }));
  for (size_t i : {0, 1}) {
    const json m = status_of(i, dead);
    for (const char* k : {"id", "self", "address", "status", "liveness", "tokens", "ownership", "dc", "rack", "generation"}) {
      EXPECT_TRUE(m.contains(k)) << k << " in " << m;
    }
    EXPECT_EQ(m["liveness"], "unknown") << m;
    EXPECT_EQ(m["generation"], 0) << m;
    EXPECT_EQ(m["tombstone"], true) << m;
    EXPECT_EQ(m["tokens"], 0) << m;
    EXPECT_EQ(m["address"], "") << m;
    EXPECT_EQ(status_of(i, node(1).id())["tombstone"], false);
  }
}

// While a join is announced or writes both sides, the joiner's claim is what `ring` lists as
// pending: /v1/status gives its `tokens` (its claim, as DESIGN has it) with `pending_tokens` equal
// (none of them read from yet; ringctl prints "0/16") and no ownership; from read_new on, none
// pending.
TEST_F(NodeTest, AJoinersClaimIsPendingInStatusUntilItsJoinReadsFromIt) {
  ASSERT_TRUE(start_cluster(3));
  streams_data_ = true;  // the joiner's embedder holds write_both until it acknowledges
  Node& joiner = start({node(0).listen_address()});
  const NodeId id = joiner.id();
  std::string change;
  ASSERT_TRUE(run_until([&] {
    const json m = status_of(0, id);
    if (m.is_object() && m["change"].is_object() && m["change"]["phase"] == "write_both") change = m["change"]["id"];
    return !change.empty();
  }));
  for (size_t i : {0, 3}) {
    const json m = status_of(i, id);
    EXPECT_EQ(m["status"], "JOINING") << m;
    EXPECT_EQ(m["tokens"], 16) << m;
    EXPECT_EQ(m["claimed_tokens"], 16) << m;
    EXPECT_EQ(m["pending_tokens"], 16) << m;
    EXPECT_EQ(m["ownership"], 0.0) << m;
    EXPECT_EQ(status_of(i, node(1).id())["pending_tokens"], 0);
  }
  EXPECT_EQ(get(0, "/v1/ring")["pending"].size(), 16u);
  ASSERT_TRUE(joiner.acknowledge_ranges(*NodeId::parse(change)).ok());
  ASSERT_TRUE(run_until([&] { return status_of(0, id)["status"] == "NORMAL"; }));
  EXPECT_EQ(status_of(0, id)["pending_tokens"], 0);
  EXPECT_EQ(status_of(0, id)["tokens"], 16);
}

// An embedder that streams data (NodeConfig::streams_data) sees its ranges as ownership events:
// pending from write_both, with the old replicas as sources; the change does not read from new
// owners until each gaining node acknowledged; owned from read_new; released on the nodes that
// give ranges up. Aborted before read_new, the pending ranges are cancelled.
TEST_F(NodeTest, OwnershipEventsGateReadNewOnTheEmbeddersAcknowledgement) {
  streams_data_ = true;
  struct Seen {
    size_t node;
    OwnershipEvent event;
  };
  std::vector<Seen> seen;
  std::vector<Subscription> subs;
  bool auto_ack = true;  // while the cluster forms: each joiner holds what it gains at once
  auto subscribe = [&](size_t i) {
    subs.push_back(node(i).on_ownership([&, i](const OwnershipEvent& e) {
      if (auto_ack) {
        if (e.kind == OwnershipEvent::Kind::kPending) EXPECT_TRUE(node(i).acknowledge_ranges(e.change).ok());
        return;
      }
      seen.push_back({i, e});
    }));
  };
  start({});
  subscribe(0);
  ASSERT_TRUE(founded(0));
  for (size_t i = 1; i < 4; ++i) {
    start({node(0).listen_address()});
    subscribe(i);
  }
  ASSERT_TRUE(run_until([&] {
    for (size_t i = 0; i < 4; ++i) {
      if (!node(i).converged() || node(i).ring()->nodes().size() != 4) return false;
    }
    return true;
  }, 60'000));
  auto_ack = false;
  EXPECT_EQ(node(1).acknowledge_ranges(NodeId::from_random_bits(1, 2)).code(), StatusCode::kRefused)
      << "no such change in flight";
  AdminResponse moved = post(0, "/v1/move", R"({"tokens": ["100", "200", "9000000000000000000"]})");
  ASSERT_EQ(moved.status, 200) << moved.body;
  const NodeId change = *NodeId::parse(json::parse(moved.body)["change"].get<std::string>());
  auto pending_on = [&] {
    std::set<size_t> out;
    for (const Seen& s : seen) {
      if (s.event.kind == OwnershipEvent::Kind::kPending) out.insert(s.node);
    }
    return out;
  };
  ASSERT_TRUE(run_until([&] { return !pending_on().empty(); }));
  net_.run_for(3'000);
  EXPECT_EQ(phase_of(0, change.to_string()), "write_both") << "no read_new before every gaining node acknowledged";
  for (const Seen& s : seen) {
    EXPECT_EQ(s.event.change, change);
    EXPECT_EQ(s.event.change_kind, "move");
    ASSERT_EQ(s.event.kind, OwnershipEvent::Kind::kPending);
    ASSERT_FALSE(s.event.gained.empty());
    for (const RangeTransfer& t : s.event.gained) {
      EXPECT_FALSE(t.sources.empty());
      EXPECT_EQ(std::count(t.sources.begin(), t.sources.end(), node(s.node).id()), 0) << "it did not hold the range";
    }
  }
  for (size_t i : pending_on()) EXPECT_TRUE(node(i).acknowledge_ranges(change).ok());
  ASSERT_TRUE(run_until([&] { return phase_of(0, change.to_string()) == "done"; }));
  net_.run_for(2'000);
  // Per node: pending, then owned; nodes that gave ranges up saw released.
  std::map<size_t, std::vector<OwnershipEvent::Kind>> kinds;
  for (const Seen& s : seen) kinds[s.node].push_back(s.event.kind);
  for (size_t i : pending_on()) {
    ASSERT_GE(kinds[i].size(), 2u);
    EXPECT_EQ(kinds[i][0], OwnershipEvent::Kind::kPending);
    EXPECT_EQ(kinds[i][1], OwnershipEvent::Kind::kOwned);
  }
  size_t released = 0;
  for (const Seen& s : seen) released += s.event.kind == OwnershipEvent::Kind::kReleased && !s.event.released.empty();
  EXPECT_GE(released, 1u) << "someone gave up what the others gained";

  // Aborted before read_new: the gaining nodes' pending ranges are cancelled.
  seen.clear();
  AdminResponse again = post(1, "/v1/move", R"({"tokens": ["300", "400"]})");
  ASSERT_EQ(again.status, 200) << again.body;
  const std::string second = json::parse(again.body)["change"];
  ASSERT_TRUE(run_until([&] { return !pending_on().empty(); }));
  ASSERT_EQ(post(1, "/v1/abort", json{{"change", second}}.dump()).status, 200);
  ASSERT_TRUE(run_until([&] {
    for (size_t i : pending_on()) {
      bool cancelled = false;
      for (const Seen& s : seen) cancelled |= s.node == i && s.event.kind == OwnershipEvent::Kind::kCancelled;
      if (!cancelled) return false;
    }
    return true;
  }));
}

// State-changing admin calls need Content-Type: application/json and a Host header naming the
// node (a browser's form post or a DNS-rebound page can send neither); each refusal is counted.
TEST_F(NodeTest, StateChangingCallsNeedJsonAndAHostHeaderNamingTheNode) {
  ASSERT_TRUE(start_cluster(1));
  const std::string addr = node(0).admin_address();
  const std::string port = addr.substr(addr.rfind(':') + 1);
  auto call = [&](std::string type, std::string host) {
    return net_.admin(addr, AdminRequest{"POST", "/v1/rebalance", R"({"dry_run": true})", "", true, type, host});
  };
  EXPECT_EQ(call("text/plain", addr).status, 415);
  EXPECT_EQ(call("", addr).status, 415);
  EXPECT_EQ(call("application/x-www-form-urlencoded", addr).status, 415);
  EXPECT_EQ(call("application/json", "").status, 403);
  EXPECT_EQ(call("application/json", "evil.example:" + port).status, 403);
  EXPECT_EQ(call("application/json", "127.0.0.1:1").status, 403) << "another port";
  // Names that merely start like a loopback address are names a rebound page can have.
  for (std::string rebound : {"127.attacker.example", "127.0.0.1.nip.io", "127.0.0.1evil.com", "127.0.0.1x"}) {
    EXPECT_EQ(call("application/json", rebound + ":" + port).status, 403) << rebound;
  }
  EXPECT_EQ(call("application/json", addr).status, 200);
  EXPECT_EQ(call("Application/JSON; charset=utf-8", "localhost:" + port).status, 200);
  EXPECT_EQ(call("application/json", "127.0.0.2:" + port).status, 200) << "a loopback address";
  EXPECT_EQ(call("application/json", "[::1]:" + port).status, 200);
  EXPECT_NE(node(0).metrics_text().find("ringkeeper_admin_refused_total 10"), std::string::npos)
      << node(0).metrics_text();
  EXPECT_EQ(net_.admin_get(addr, "/v1/status").status, 200) << "reads need neither";
}

TEST_F(NodeTest, AMalformedJsonBodyIsRefusedSayingWhereItDoesNotParse) {
  ASSERT_TRUE(start_cluster(1));
  const std::string addr = node(0).admin_address();
  auto post = [&](std::string target, std::string body) {
    return net_.admin(addr, AdminRequest{"POST", std::move(target), std::move(body), "", true, "application/json", addr});
  };
  for (const char* target : {"/v1/move", "/v1/rebalance", "/v1/decommission", "/v1/abort", "/v1/removenode"}) {
    AdminResponse r = post(target, R"({"tokens": ["1",)");
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_NE(r.body.find("malformed JSON: parse error at line 1, column 17"), std::string::npos) << target << r.body;
  }
  // Well-formed JSON of the wrong shape keeps its route's own message; an unknown route stays 404.
  EXPECT_NE(post("/v1/move", R"({"tokens": 1})").body.find("move needs {"), std::string::npos);
  EXPECT_EQ(post("/v1/nothing", "{x").status, 404);
  EXPECT_EQ(post("/v1/rebalance", "").status, 200) << "an empty body is {}";
}

// Two nodes join at once with interleaved tokens (RF 1): the first join's pending event must
// name every range it reads from at read_new, though the second joiner's claim (waiting in
// announce) sits between its tokens in the future ring (found by a review: the plan was read off
// the ring with every change applied). On this schedule the second claim reaches the first
// joiner only after its plan is made, so this passes without the fix too; the review's own
// simulator schedule (seed 1 of 3) failed before it.
TEST_F(NodeTest, AJoinsPendingRangesAreWhatItServesWithAnotherJoinWaiting) {
  rf_ = 1;
  ASSERT_TRUE(start_cluster(3));
  streams_data_ = true;
  const uint64_t x = 0x4000'0000'0000'0000ULL, y = 0xB000'0000'0000'0000ULL;
  struct Joiner {
    size_t index;
    std::vector<OwnershipEvent> events;
  };
  std::vector<Joiner> joiners;
  std::vector<Subscription> subs;
  for (auto tokens : {std::vector<Token>{Token(x + 1000), Token(y)}, std::vector<Token>{Token(x), Token(y + 1000)}}) {
    stores_.push_back(std::make_unique<SharedStore>());
    NodeConfig c = config({node(0).listen_address()}, nodes_.size());
    c.tokens = tokens;
    start_on(*stores_.back(), c);
    joiners.push_back({nodes_.size() - 1, {}});
  }
  for (Joiner& j : joiners) {
    subs.push_back(node(j.index).on_ownership([&, idx = j.index](const OwnershipEvent& e) {
      for (Joiner& k : joiners) {
        if (k.index == idx) k.events.push_back(e);
      }
      if (e.kind == OwnershipEvent::Kind::kPending) (void)node(idx).acknowledge_ranges(e.change);
    }));
  }
  // Whenever a joiner reads a probe token at read_new of its own join, its pending event named it.
  std::string problem;
  auto check = [&] {
    for (Joiner& j : joiners) {
      const auto ring = node(j.index).ring();
      const RingNode* me = ring->find(node(j.index).id());
      if (!me || me->status != NodeStatus::kJoining || me->phase != ChangePhase::kReadNew) continue;
      for (Token t : {Token(x), Token(x - 5), Token(y + 1000), Token(y + 999)}) {
        if (!ring->natural_replicas(t).contains(node(j.index).id())) continue;
        bool named = false;
        for (const OwnershipEvent& e : j.events) {
          for (const RangeTransfer& g : e.gained) named |= e.kind == OwnershipEvent::Kind::kPending && g.range.contains(t);
        }
        if (!named && problem.empty()) problem = "joiner " + std::to_string(j.index) + " reads " + t.to_string() + " unnamed";
      }
    }
    return node(joiners[0].index).ring()->find(node(joiners[0].index).id())->status == NodeStatus::kNormal &&
           node(joiners[1].index).ring()->find(node(joiners[1].index).id())->status == NodeStatus::kNormal;
  };
  ASSERT_TRUE(run_until([&] { return node(joiners[0].index).ring()->find(node(joiners[0].index).id()) &&
                                     node(joiners[1].index).ring()->find(node(joiners[1].index).id()) && check(); },
                        90'000));
  EXPECT_EQ(problem, "");
  for (const Joiner& j : joiners) EXPECT_FALSE(j.events.empty()) << "joiner " << j.index << " streamed";
}
}  // namespace
}  // namespace ringkeeper
