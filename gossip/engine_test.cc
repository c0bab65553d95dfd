#include "gossip/engine.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>

#include "gossip/codec.h"

namespace ringkeeper::gossip {
namespace {

// A tiny in-memory network that routes every message through the real codec.
struct Net {
  CodecOptions codec;
  std::map<std::string, GossipEngine*> by_address;
  std::deque<Envelope> queue;
  uint64_t bytes = 0;

  void send(std::vector<Envelope> out) {
    for (auto& e : out) queue.push_back(std::move(e));
  }
  void drain(Millis now) {
    while (!queue.empty()) {
      Envelope e = std::move(queue.front());
      queue.pop_front();
      std::string frame = encode(e.message, codec);
      bytes += frame.size();
      DecodeResult r = decode(frame, codec);
      ASSERT_EQ(r.error, DecodeError::kNone);
      auto it = by_address.find(e.to);
      if (it != by_address.end()) send(it->second->on_message(now, *r.message));
    }
  }
};

// An empty message from "node2" (id 0:2) that `to` accepts (same cluster, same replication).
Message from_node2(const GossipEngine& to) {
  Message m;
  m.from = NodeId(0, 2);
  m.cluster_id = to.config().cluster_id;
  m.replication = to.config().replication.canonical();
  m.from_address = "node2";
  return m;
}

EngineConfig config(uint64_t n, std::vector<std::string> seeds) {
  EngineConfig c;
  c.id = NodeId(0, n);
  c.address = "node" + std::to_string(n);
  c.seeds = std::move(seeds);
  c.cluster_id = ClusterId(NodeId(1, 1));
  return c;
}

TEST(GossipEngineTest, NodesStartedTogetherJoinAsOneClusterAndGoQuiet) {
  SplitMixRng rng(1);
  UnsharedRingCache cache;
  std::vector<std::unique_ptr<GossipEngine>> engines;
  Net net;
  for (int i = 1; i <= 5; ++i) {
    engines.push_back(std::make_unique<GossipEngine>(config(i, {"node1"}), rng, cache));
    net.by_address[engines.back()->config().address] = engines.back().get();
    engines.back()->set_local("x.greeting", "hello from " + std::to_string(i));
  }
  // Started together, knowing only node1: they learn each other, claim tokens from one joint
  // allocation, and become NORMAL once everyone routes with the same ring.
  bool converged = false;
  int round = 0;
  for (; round < 30 && !converged; ++round) {
    for (auto& e : engines) net.send(e->tick(round * 1000));
    net.drain(round * 1000);
    converged = true;
    for (auto& e : engines) {
      converged &= e->state().summary() == engines[0]->state().summary() && e->converged() &&
                   e->own_status() == NodeStatus::kNormal;
    }
  }
  ASSERT_TRUE(converged) << "after " << round << " rounds";
  for (auto& e : engines) EXPECT_EQ(e->state().size(), 5u);
  auto ring = engines[0]->ring();
  EXPECT_EQ(ring->current().size(), 5u * 16u);
  auto own = ring->ownership();
  for (double o : own) EXPECT_NEAR(o, 3.0 / 5.0, 1e-9) << "a joint allocation is perfectly balanced";
  for (auto& e : engines) EXPECT_EQ(e->stats().token_repicks, 0u);
  // Steady state: one Syn per exchange, nothing more.
  const uint64_t before = net.bytes;
  const Millis later = (round + 1) * 1000;
  for (auto& e : engines) net.send(e->tick(later));
  net.drain(later);
  const uint64_t per_node = (net.bytes - before) / engines.size();
  EXPECT_LT(per_node, 3 * 80u) << "a steady round costs about one small Syn per peer";
}

TEST(GossipEngineTest, ForeignClusterIdAndReplicationAreRefused) {
  SplitMixRng rng(2);
  UnsharedRingCache cache;
  GossipEngine a(config(1, {}), rng, cache);
  auto cfg = config(2, {});
  cfg.cluster_id = ClusterId(NodeId(9, 9));
  GossipEngine b(cfg, rng, cache);
  Message m;
  m.from = b.id();
  m.cluster_id = b.config().cluster_id;
  m.replication = b.config().replication.canonical();
  m.from_address = "node2";
  m.body = Syn{123};
  // A refused Syn gets one bare answer, so the sender learns why (it refuses that in turn,
  // without answering: no ping-pong between two refusing nodes).
  auto out = a.on_message(0, m);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Rumor>(out[0].message.body));
  EXPECT_EQ(out[0].to, "node2");
  EXPECT_EQ(a.stats().rejected_cluster, 1u);
  EXPECT_TRUE(b.on_message(0, out[0].message).empty());
  EXPECT_EQ(b.stats().rejected_cluster, 1u);
  m.cluster_id = a.config().cluster_id;
  m.replication = "simple:5";
  EXPECT_EQ(a.on_message(0, m).size(), 1u);
  EXPECT_EQ(a.stats().rejected_replication, 1u);
  m.body = Ack2{};  // an answer is never answered
  EXPECT_TRUE(a.on_message(0, m).empty());
  EXPECT_EQ(a.stats().rejected_replication, 2u);
}

TEST(GossipEngineTest, RingFollowsGossipedTokens) {
  SplitMixRng rng(3);
  UnsharedRingCache cache;
  GossipEngine a(config(1, {}), rng, cache), b(config(2, {"node1"}), rng, cache);
  Net net;
  net.by_address = {{"node1", &a}, {"node2", &b}};
  a.set_local("status", "NORMAL");
  a.set_local("tokens", "100,300");
  b.set_local("status", "NORMAL");
  b.set_local("tokens", "200");
  for (int r = 0; r < 5; ++r) {
    net.send(b.tick(r));
    net.drain(r);
  }
  auto ra = a.ring();
  auto rb = b.ring();
  EXPECT_EQ(ra->digest(), rb->digest());
  EXPECT_EQ(ra->natural_replicas(Token(150))[0], NodeId(0, 2));
}

}  // namespace
}  // namespace ringkeeper::gossip

namespace ringkeeper::gossip {
namespace {

TEST(GossipEngineTest, LocalWritesOutrankAnInstalledOwnEntry) {
  SplitMixRng rng(4);
  UnsharedRingCache cache;
  GossipEngine a(config(1, {}), rng, cache);
  auto st = std::make_shared<NodeState>();
  st->generation = Generation{1};
  st->values = {{"address", {"node1", Version{7}}}};
  st->max_version = Version{7};
  a.install(a.id(), st);
  a.set_local("x.k", "v");
  EXPECT_EQ(a.state().find(a.id())->get("x.k")->version.value(), 8u);
  EXPECT_EQ(a.state().find(a.id())->max_version.value(), 8u);
}

}  // namespace
}  // namespace ringkeeper::gossip

namespace ringkeeper::gossip {
namespace {

TEST(GossipEngineTest, LoadIsRepublishedAtABoundedRate) {
  SplitMixRng rng(5);
  UnsharedRingCache cache;
  auto cfg = config(1, {});
  cfg.load_interval = 10'000;
  GossipEngine a(cfg, rng, cache);
  auto load_version = [&] {
    const VersionedValue* v = a.state().find(a.id())->get(keys::kLoad);
    return v ? v->version.value() : 0;
  };
  a.set_load("100");
  a.tick(0);
  const uint64_t first = load_version();
  EXPECT_GT(first, 0u);
  for (int s = 1; s < 10; ++s) {  // many reports inside one interval: no new version
    a.set_load(std::to_string(100 + s));
    a.tick(s * 1000);
  }
  EXPECT_EQ(load_version(), first);
  a.tick(10'000);
  EXPECT_GT(load_version(), first);
  EXPECT_EQ(a.state().find(a.id())->get(keys::kLoad)->value, "109") << "the latest report wins";
}

}  // namespace
}  // namespace ringkeeper::gossip

namespace ringkeeper::gossip {
namespace {

// Five engines started together through the real codec until every one is NORMAL and converged.
struct FormedCluster {
  SplitMixRng rng{11};
  UnsharedRingCache cache;
  std::vector<std::unique_ptr<GossipEngine>> engines;
  Net net;
  Millis now = 0;
  explicit FormedCluster(int n) {
    for (int i = 1; i <= n; ++i) {
      engines.push_back(std::make_unique<GossipEngine>(config(i, {"node1"}), rng, cache));
      net.by_address[engines.back()->config().address] = engines.back().get();
    }
  }
  void step() {
    now += 100;
    for (auto& e : engines) net.send(e->tick(now));
    net.drain(now);
  }
  bool all_converged() {
    for (auto& e : engines) {
      if (e->own_status() != NodeStatus::kNormal || !e->converged()) return false;
    }
    return true;
  }
};

TEST(GossipEngineTest, ShutdownAnnouncementMarksTheNodeDownEverywhereAtOnce) {
  FormedCluster c(5);
  for (int i = 0; i < 600 && !c.all_converged(); ++i) c.step();
  ASSERT_TRUE(c.all_converged());
  GossipEngine& leaving = *c.engines[4];
  c.net.send(leaving.announce_shutdown(c.now));
  c.net.by_address.erase(leaving.config().address);
  c.net.drain(c.now);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(c.engines[i]->liveness(leaving.id()), PeerLiveness::kDown) << "engine " << i;
  }
}

TEST(GossipEngineTest, MovedTokensReachEveryRing) {
  FormedCluster c(3);
  for (int i = 0; i < 600 && !c.all_converged(); ++i) c.step();
  ASSERT_TRUE(c.all_converged());
  GossipEngine& mover = *c.engines[2];
  EXPECT_NE(mover.move_tokens({}, c.now), "");
  const Token taken = c.engines[0]->ring()->find(c.engines[0]->id())->tokens[0];
  EXPECT_NE(mover.move_tokens({taken}, c.now).find("owned by"), std::string::npos);
  ASSERT_EQ(mover.move_tokens({Token(5), Token(1000)}, c.now), "");
  for (int i = 0; i < 100; ++i) c.step();
  for (auto& e : c.engines) {
    EXPECT_EQ(e->ring()->find(mover.id())->tokens, (std::vector<Token>{Token(5), Token(1000)}));
    EXPECT_TRUE(e->converged());
  }
}

TEST(GossipEngineTest, EntriesFromAClockFarAheadAreRefusedAndCounted) {
  SplitMixRng rng(12);
  UnsharedRingCache cache;
  EngineConfig c = config(1, {});
  c.max_generation_ahead_s = 1000;  // wall clock at now = 0 is 0 s: generations up to 1000 pass
  GossipEngine a(c, rng, cache);
  Message m = from_node2(a);
  NodeState ahead;
  ahead.generation = Generation{5000};
  ahead.values = {{"address", {"node2", Version{1}}}};
  ahead.max_version = Version{1};
  m.body = Ack2{{NodeDelta{NodeId(0, 2), ahead}}};
  a.on_message(0, m);
  EXPECT_EQ(a.state().find(NodeId(0, 2)), nullptr);
  EXPECT_EQ(a.stats().rejected_generation, 1u);
  ahead.generation = Generation{900};
  m.body = Ack2{{NodeDelta{NodeId(0, 2), ahead}}};
  a.on_message(0, m);
  EXPECT_NE(a.state().find(NodeId(0, 2)), nullptr);
  // Nor does a liveness record of that refused run count: the node's later runs at honest
  // generations (--reset-generation) would be shadowed by it for good.
  Message rumor = from_node2(a);
  rumor.body = Rumor{};
  rumor.liveness.push_back(LivenessRecord{NodeId(0, 2), Generation{5000}, Incarnation{}, Liveness::kDown});
  a.on_message(0, rumor);
  EXPECT_EQ(a.stats().rejected_generation, 2u);
  EXPECT_NE(a.liveness(NodeId(0, 2)), PeerLiveness::kDown) << "a record of the refused run marked it down";
  // The bound follows the clock: a node that has run for a long while accepts what is no longer
  // ahead (the bound was once computed at start only, refusing every later restart for good).
  ahead.generation = Generation{5000};
  m.body = Ack2{{NodeDelta{NodeId(0, 2), ahead}}};
  a.on_message(4'500'000, m);
  EXPECT_EQ(a.state().find(NodeId(0, 2))->generation.value(), 5000u);
  EXPECT_EQ(a.stats().rejected_generation, 2u);
}

// Everything remote input can make a node hold has a bound; each refusal is counted, and the
// node keeps what it had.
TEST(GossipEngineTest, RemoteInputBeyondItsBoundsIsRefusedAndCounted) {
  SplitMixRng rng(14);
  UnsharedRingCache cache;
  EngineConfig c = config(1, {});
  c.max_members = 3;  // itself and two more
  c.max_tombstones = 2;
  c.max_keys_per_entry = 4;
  c.max_value_bytes = 16;
  GossipEngine a(c, rng, cache);
  auto entry = [](std::vector<std::pair<std::string, std::string>> values, uint64_t generation = 7) {
    NodeState st;
    st.generation = Generation{generation};
    Version v;
    for (auto& [k, val] : values) {
      v = v.next();
      st.values.push_back({k, {val, v}});
    }
    std::sort(st.values.begin(), st.values.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    st.max_version = v;
    return st;
  };
  const NodeState tombstone = entry({{"status", "REMOVED"}}, kTombstoneGeneration.value());
  auto offer = [&](uint64_t id, const NodeState& st) {
    Message m = from_node2(a);
    m.body = Ack2{{NodeDelta{NodeId(0, id), st}}};
    a.on_message(0, m);
    const NodeState* held = a.state().find(NodeId(0, id));
    return held && *held == st;
  };
  EXPECT_TRUE(offer(2, entry({{"address", "node2"}})));
  EXPECT_TRUE(offer(3, entry({{"address", "node3"}})));
  EXPECT_FALSE(offer(4, entry({{"address", "node4"}}))) << "a fourth member";
  EXPECT_EQ(a.stats().rejected_bounds, 1u);
  // Tombstones of unknown ids have a bound of their own and never count as members.
  EXPECT_TRUE(offer(10, tombstone));
  EXPECT_TRUE(offer(11, tombstone));
  EXPECT_FALSE(offer(12, tombstone));
  EXPECT_EQ(a.stats().rejected_bounds, 2u);
  EXPECT_TRUE(offer(3, tombstone)) << "a known id may always be removed";
  EXPECT_TRUE(offer(4, entry({{"address", "node4"}}))) << "a removed member frees its place";
  // One entry's keys and values.
  EXPECT_FALSE(offer(2, entry({{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}}, 8)));
  EXPECT_FALSE(offer(2, entry({{"address", std::string(17, 'x')}}, 8)));
  EXPECT_EQ(a.stats().rejected_bounds, 4u);
  // Values this build cannot read: the whole entry is refused, the previous one stays.
  EXPECT_FALSE(offer(2, entry({{"tokens", "1,x,3"}}, 8)));
  EXPECT_FALSE(offer(2, entry({{"stamp", "soon"}}, 8)));
  EXPECT_EQ(a.stats().rejected_malformed, 2u);
  EXPECT_EQ(a.state().find(NodeId(0, 2))->generation.value(), 7u);
  // The node's own values are refused with the reason beyond the same bounds.
  EXPECT_NE(a.set_application_value("v", std::string(17, 'x')), "");
  EXPECT_NE(a.set_application_value(std::string(300, 'n'), "v"), "");
  EXPECT_EQ(a.set_application_value("v", "ok"), "");
  // Application values fill the entry up to what the engine's own keys leave free (a quarter of
  // the bound at most, 32 at the default 1,000).
  std::string refused;
  for (int k = 0; refused.empty() && k < 10; ++k) refused = a.set_application_value("k" + std::to_string(k), "ok");
  EXPECT_NE(refused, "") << "the own entry is full";
  EXPECT_EQ(a.state().find(a.id())->values.size(), c.max_keys_per_entry - 1);
  EXPECT_EQ(a.set_application_value("v", "changed"), "") << "an existing key may change";
}

// An entry with a value over max_value_bytes still decodes (the codec's caps sit above the
// engine's bounds): the engine refuses that entry alone, counted as `bounds`, and merges the rest
// of the frame. This node's own writes never go over the bound: set_local refuses them with a
// notice, and a move of more tokens than kMaxTokensPerNode is refused with the reason.
TEST(GossipEngineTest, AnOversizedValueCostsOnlyItsEntryAndIsCountedAsBounds) {
  SplitMixRng rng(15);
  UnsharedRingCache cache;
  GossipEngine a(config(1, {}), rng, cache);
  const size_t over = a.config().max_value_bytes + 1;
  NodeState big, small;
  big.generation = small.generation = Generation{7};
  big.values = {{"address", {"node2", Version{1}}}, {"x.big", {std::string(over, 'v'), Version{2}}}};
  big.max_version = Version{2};
  small.values = {{"address", {"node3", Version{1}}}};
  small.max_version = Version{1};
  Message m = from_node2(a);
  m.body = Ack2{{NodeDelta{NodeId(0, 2), big}, NodeDelta{NodeId(0, 3), small}}};
  CodecOptions codec;
  DecodeResult r = decode(encode(m, codec), codec);
  ASSERT_EQ(r.error, DecodeError::kNone) << to_string(r.error);
  a.on_message(0, *r.message);
  EXPECT_EQ(a.stats().rejected_bounds, 1u);
  EXPECT_EQ(a.state().find(NodeId(0, 2)), nullptr);
  EXPECT_NE(a.state().find(NodeId(0, 3)), nullptr) << "the rest of the frame merged";

  (void)a.take_notices();
  a.set_local("dc", "east");
  a.set_local("dc", std::string(over, 'd'));
  EXPECT_EQ(a.state().find(a.id())->get("dc")->value, "east") << "not written";
  const auto notices = a.take_notices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_NE(notices[0].find("refused to gossip dc"), std::string::npos) << notices[0];

  GossipEngine b(config(4, {}), rng, cache);
  for (Millis now = 0; now < 20'000 && b.own_status() != NodeStatus::kNormal; now += 500) (void)b.tick(now);
  ASSERT_EQ(b.own_status(), NodeStatus::kNormal) << "founded alone";
  std::vector<Token> tokens;
  for (uint64_t t = 1; t <= kMaxTokensPerNode + 1; ++t) tokens.push_back(Token(t * 3));
  const std::string refused = b.move_tokens(tokens, 20'000);
  EXPECT_NE(refused.find("at most 4096"), std::string::npos) << refused;
  EXPECT_FALSE(b.own_change());
  tokens.pop_back();
  EXPECT_EQ(b.move_tokens(tokens, 20'000), "") << "at the cap";
}

TEST(GossipEngineTest, ClaimStampsFarAheadOfTheWallClockAreRefused) {
  SplitMixRng rng(13);
  UnsharedRingCache cache;
  EngineConfig c = config(1, {});
  c.wall_offset = 1'000'000;  // wall clock 1,000 s at now = 0
  GossipEngine a(c, rng, cache);
  Message m = from_node2(a);
  NodeState st;
  st.generation = Generation{7};
  const HlcStamp far = HlcStamp::make(1'000'000 + c.max_clock_ahead + 1, 0);
  st.values = {{"address", {"node2", Version{1}}}, {"stamp", {std::to_string(far.value), Version{2}}}};
  st.max_version = Version{2};
  m.body = Ack2{{NodeDelta{NodeId(0, 2), st}}};
  a.on_message(0, m);
  EXPECT_EQ(a.state().find(NodeId(0, 2)), nullptr);
  EXPECT_EQ(a.stats().rejected_clock_ahead, 1u);
  EXPECT_LT(a.hlc(), far) << "a refused stamp does not drag the clock along";
  const HlcStamp near = HlcStamp::make(1'000'000 + 5'000, 3);
  st.values = {{"address", {"node2", Version{1}}}, {"stamp", {std::to_string(near.value), Version{2}}}};
  m.body = Ack2{{NodeDelta{NodeId(0, 2), st}}};
  a.on_message(0, m);
  EXPECT_NE(a.state().find(NodeId(0, 2)), nullptr);
  EXPECT_EQ(a.hlc(), near) << "raised by every stamp accepted";
  EXPECT_GT(a.next_hlc(0), near);
  EXPECT_EQ(a.next_hlc(10'000).millis(), 1'010'000u) << "wall-clock milliseconds";
}

TEST(GossipEngineTest, APingMeantForAnotherNodeIsNotAnswered) {
  SplitMixRng rng(14);
  UnsharedRingCache cache;
  GossipEngine a(config(1, {}), rng, cache);
  Message m = from_node2(a);
  m.body = Ping{5, NodeId(0, 9), Generation{3}};  // for the node that listened here before (another id)
  EXPECT_TRUE(a.on_message(0, m).empty());
  EXPECT_EQ(a.stats().misdirected_probes, 1u);
  m.body = Ping{6, a.id(), Generation{1}};
  auto out = a.on_message(0, m);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<PingAck>(out[0].message.body));
  m.body = Ping{7, NodeId(), Generation{}};  // a peer one revision older names no target: answered
  EXPECT_EQ(a.on_message(0, m).size(), 1u);
  // A probe request for an id this node does not know is refused, whatever address it names.
  m.body = PingReq{8, NodeId(0, 42), "10.9.9.9:7000"};
  EXPECT_TRUE(a.on_message(0, m).empty());
  EXPECT_EQ(a.stats().rejected_unknown, 1u);
}

// A probe ends only with an answer about the node probed: another node at its address (or a
// helper reaching another node) answers about itself, which proves nothing for the target.
TEST(GossipEngineTest, AnAnswerAboutAnotherNodeDoesNotEndAProbe) {
  for (const bool about_target : {false, true}) {
    SplitMixRng rng(15);
    UnsharedRingCache cache;
    GossipEngine a(config(1, {}), rng, cache);
    NodeState st;
    st.generation = Generation{4};
    st.values = {{"address", {"node2", Version{1}}}};
    st.max_version = Version{1};
    a.install(NodeId(0, 2), std::make_shared<NodeState>(st));
    std::optional<uint64_t> seq;
    Millis t = 0;
    for (; t < 5000 && !seq; t += 10) {
      for (const Envelope& e : a.tick(t)) {
        const Ping* p = std::get_if<Ping>(&e.message.body);
        if (p && p->seq != 0 && p->target == NodeId(0, 2)) seq = p->seq;
      }
    }
    ASSERT_TRUE(seq);
    Message m = from_node2(a);
    m.body = PingAck{*seq, about_target ? NodeId(0, 2) : NodeId(0, 9), Generation{4}};
    a.on_message(t, m);
    for (Millis end = t + 600; t < end; t += 10) (void)a.tick(t);
    EXPECT_EQ(a.stats().probes_failed, about_target ? 0u : 1u) << about_target;
    EXPECT_EQ(a.stats().misdirected_probes, about_target ? 0u : 1u) << about_target;
  }
}

TEST(CodecTest, NodeStateRoundTripsForTheStore) {
  NodeState st;
  st.generation = Generation{77};
  st.values = {{"address", {"127.0.0.1:7000", Version{3}}}, {"tokens", {"1,2,3", Version{9}}}};
  st.max_version = Version{9};
  auto back = decode_node_state(encode_node_state(st));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, st);
  EXPECT_FALSE(decode_node_state("\xc1garbage"));
}

}  // namespace
}  // namespace ringkeeper::gossip

namespace ringkeeper::gossip {
namespace {

// Catch-up sends down records a page at a time; successive pages cover every one, so a node that
// missed more than a page of verdicts still learns them all.
TEST(LivenessTableTest, DownRecordPagesCoverEveryDownNode) {
  LivenessTable t(NodeId(0, 1), LivenessTimings{});
  std::set<NodeId> down;
  for (uint64_t i = 0; i < 600; ++i) {
    const NodeId id(7, i);
    // Its own shutdown announcement: down at once.
    ASSERT_TRUE(t.apply({id, Generation{1}, Incarnation{1}, Liveness::kDown}, id, 0));
    down.insert(id);
  }
  ASSERT_EQ(t.down_count(), 600u);
  std::set<NodeId> seen;
  for (size_t start = 0; start < 600; start += 256) {
    for (const LivenessRecord& r : t.down_records(256, start)) seen.insert(r.node);
  }
  EXPECT_EQ(seen, down);
  EXPECT_EQ(t.down_records(256, 512).size(), 256u) << "the last page wraps around";
}

// A "down" heard from a third party only starts a suspicion; the subject's own word is final.
TEST(LivenessTableTest, RelayedDownIsASuspicionOwnShutdownIsDown) {
  LivenessTable t(NodeId(0, 1), LivenessTimings{});
  const NodeId a(7, 1), b(7, 2), relay(7, 3);
  ASSERT_TRUE(t.apply({a, Generation{1}, Incarnation{0}, Liveness::kDown}, relay, 0));
  EXPECT_EQ(t.view(a), PeerLiveness::kSuspect);
  ASSERT_TRUE(t.apply({b, Generation{1}, Incarnation{1}, Liveness::kDown}, b, 0));
  EXPECT_EQ(t.view(b), PeerLiveness::kDown);
}

}  // namespace
}  // namespace ringkeeper::gossip
