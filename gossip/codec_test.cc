#include "gossip/codec.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <random>

#include "ring/test_util.h"

namespace ringkeeper::gossip {
namespace {

Message sample(Body body) {
  Message m;
  m.from = NodeId(0x1234, 0x5678);
  m.cluster_id = ClusterId(NodeId(7, 8));
  m.replication = "simple:3";
  m.from_address = "127.0.0.1:7000";
  m.body = std::move(body);
  m.liveness = {{NodeId(1, 1), Generation{5}, Incarnation{2}, Liveness::kSuspect}};
  return m;
}

// Hand-written msgpack, for frames encode() cannot produce. Always the widest forms: the decoder
// accepts any encoding of a value, as msgpack does.
class Bytes {
 public:
  Bytes& array(uint32_t n) { return tag(0xdd).be(n, 4); }
  Bytes& map(uint32_t n) { return tag(0xdf).be(n, 4); }
  Bytes& uint(uint64_t v) { return tag(0xcf).be(v, 8); }
  // The narrowest forms: a fixarray (n < 16), a positive fixint (v < 128), an empty fixstr.
  Bytes& tiny_array(uint32_t n) { return tag(static_cast<uint8_t>(0x90 | n)); }
  Bytes& tiny_uint(uint64_t v) { return tag(static_cast<uint8_t>(v)); }
  Bytes& empty_str() { return tag(0xa0); }
  Bytes& nils(size_t n) {
    s_.append(n, '\xc0');
    return *this;
  }
  Bytes& str(std::string_view v) {
    tag(0xdb).be(v.size(), 4);
    s_ += v;
    return *this;
  }
  Bytes& bin(std::string_view v) {
    tag(0xc6).be(v.size(), 4);
    s_ += v;
    return *this;
  }
  // The payload's fields up to the body, for a message of `type`.
  Bytes& header(uint64_t type) {
    return array(11).uint(kWireVersion).str("ringkeeper").uint(type).uint(1).uint(2).uint(3).uint(4)
        .str("simple:3").str("127.0.0.1:7000");
  }
  size_t size() const { return s_.size(); }
  // With the length prefix.
  std::string frame() const {
    Bytes prefix;
    prefix.be(s_.size(), 4);
    return prefix.s_ + s_;
  }

 private:
  Bytes& tag(uint8_t t) {
    s_ += static_cast<char>(t);
    return *this;
  }
  Bytes& be(uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) s_ += static_cast<char>(v >> (8 * i));
    return *this;
  }
  std::string s_;
};

std::vector<Body> every_body() {
  NodeState st;
  st.generation = Generation{9};
  st.values = {{"status", {"NORMAL", Version{3}}}, {"tokens", {"1,2,3", Version{4}}}};
  st.max_version = Version{4};
  return {Syn{42, 7},
          SynReply{{1, 2, 3}},
          Digests{{0, 5}, {{NodeId(1, 2), Generation{3}, Version{4}}}},
          Ack{{{NodeId(3, 4), st}}, {{NodeId(5, 6), Generation{7}, Version{8}}}},
          Ack2{{{NodeId(3, 4), st}}},
          Ping{11},
          PingAck{12, NodeId(4, 4), Generation{9}},
          PingReq{13, NodeId(9, 9), "[::1]:7001"},
          Rumor{},
          KeyOp{14, KeyOpKind::kInstall, std::string(32, '\x07'), ""},
          KeyOpAck{15, "", "0123456789abcdef", {"0123456789abcdef", "fedcba9876543210"}}};
}

TEST(CodecTest, EveryMessageRoundTrips) {
  CodecOptions opts;
  for (const Body& b : every_body()) {
    Message m = sample(b);
    std::string frame = encode(m, opts);
    DecodeResult r = decode(frame, opts);
    ASSERT_EQ(r.error, DecodeError::kNone) << b.index();
    EXPECT_EQ(r.consumed, frame.size());
    EXPECT_EQ(*r.message, m);
  }
}

// The tags are the protocol: reordering Body's alternatives must not change them.
TEST(CodecTest, EveryMessageTypeKeepsItsPinnedWireTag) {
  const std::vector<uint32_t> pinned = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};  // in every_body() order
  const std::vector<Body> bodies = every_body();
  ASSERT_EQ(bodies.size(), pinned.size());
  for (size_t i = 0; i < bodies.size(); ++i) {
    EXPECT_EQ(wire_tag_of(bodies[i]), pinned[i]) << i;
    // And a hand-written frame with that tag decodes to that type.
    const std::string frame = encode(sample(bodies[i]), CodecOptions{});
    DecodeResult r = decode(frame, CodecOptions{});
    ASSERT_EQ(r.error, DecodeError::kNone);
    EXPECT_EQ(r.message->body.index(), bodies[i].index());
  }
  EXPECT_EQ(wire_tag_of(Ping{}), wire_tag::kPing);
  EXPECT_EQ(wire_tag::kPing, 5u);
  EXPECT_EQ(wire_tag::kKeyOp, 9u);
  EXPECT_EQ(wire_tag::kKeyOpAck, 10u);
}

TEST(CodecTest, KeyOpsRefuseUnknownKindsAndOversizedFields) {
  for (const KeyOpKind kind : {KeyOpKind::kList, KeyOpKind::kInstall, KeyOpKind::kUse, KeyOpKind::kRemove}) {
    const Message m = sample(KeyOp{1, kind, "", "0123456789abcdef"});
    DecodeResult r = decode(encode(m, CodecOptions{}), CodecOptions{});
    ASSERT_EQ(r.error, DecodeError::kNone);
    EXPECT_EQ(*r.message, m);
  }
  Bytes bad_kind;
  bad_kind.header(wire_tag::kKeyOp).array(4).uint(1).uint(4).str("").str("").array(0);
  EXPECT_EQ(decode(bad_kind.frame(), CodecOptions{}).error, DecodeError::kMalformed);
  Bytes long_fingerprint;
  long_fingerprint.header(wire_tag::kKeyOp).array(4).uint(1).uint(2).str("").str(std::string(65, 'a')).array(0);
  EXPECT_EQ(decode(long_fingerprint.frame(), CodecOptions{}).error, DecodeError::kMalformed);
}

// Rolling upgrades: this build reads the previous wire version and writes it to a peer that speaks
// nothing newer; a build of the previous version refuses our newest frames, which is why we never
// send it one.
TEST(CodecTest, ThePreviousWireVersionIsReadAndWritten) {
  static_assert(kMinWireVersion + 1 == kWireVersion, "every build speaks the version before it");
  CodecOptions ours;
  CodecOptions older;
  older.newest_version = kMinWireVersion;  // stands in for the previous build
  const Message targeted = sample(Ping{3, NodeId(4, 5), Generation{6}});

  // Ours at the old version: an old reader takes it, target included (version-1 builds already
  // wrote and read it as trailing fields).
  const std::string down = encode(targeted, ours, kMinWireVersion);
  DecodeResult r = decode(down, older);
  ASSERT_EQ(r.error, DecodeError::kNone);
  EXPECT_EQ(r.version, kMinWireVersion);
  EXPECT_EQ(r.sender_newest, kMinWireVersion) << "clamped to what the reader speaks";
  EXPECT_EQ(std::get<Ping>(r.message->body), (Ping{3, NodeId(4, 5), Generation{6}}));
  EXPECT_EQ(decode(down, ours).sender_newest, kWireVersion) << "the frame says what its sender speaks";
  // Ours at our version: the old reader refuses it (as it would refuse any newer frame).
  EXPECT_EQ(decode(encode(targeted, ours), older).error, DecodeError::kWrongVersion);
  const DecodeResult ack = decode(encode(sample(PingAck{4, NodeId(5, 6), Generation{7}}), ours, kMinWireVersion), ours);
  ASSERT_EQ(ack.error, DecodeError::kNone);
  EXPECT_EQ(std::get<PingAck>(ack.message->body), (PingAck{4, NodeId(), Generation{}})) << "version 1 names nobody";
  // Theirs: read by us, and we learn they speak only the old version.
  r = decode(encode(targeted, older), ours);
  ASSERT_EQ(r.error, DecodeError::kNone);
  EXPECT_EQ(r.sender_newest, kMinWireVersion);
  EXPECT_EQ(std::get<Ping>(r.message->body).target, NodeId(4, 5));
  // A frame as the first build wrote it (11 fields, no trailing version): read, sender at version 1.
  Bytes first;
  first.array(11).uint(1).str("ringkeeper").uint(wire_tag::kPing).uint(1).uint(2).uint(3).uint(4)
      .str("simple:3").str("127.0.0.1:7000").array(1).uint(9).array(0);
  r = decode(first.frame(), ours);
  ASSERT_EQ(r.error, DecodeError::kNone);
  EXPECT_EQ(r.sender_newest, 1u);
  EXPECT_EQ(std::get<Ping>(r.message->body).seq, 9u);
  // Versions nobody speaks.
  for (uint64_t v : {uint64_t{0}, uint64_t{kWireVersion} + 1}) {
    Bytes b;
    b.array(11).uint(v).str("ringkeeper").uint(wire_tag::kRumor).uint(1).uint(2).uint(3).uint(4)
        .str("simple:3").str("127.0.0.1:7000").array(0).array(0);
    EXPECT_EQ(decode(b.frame(), ours).error, DecodeError::kWrongVersion) << v;
  }
}

TEST(CodecTest, PeerVersionsWriteTheNewestBothSpeak) {
  PeerVersions ours(kWireVersion, 2);
  EXPECT_EQ(ours.version_for("a:1"), kMinWireVersion) << "not heard from yet: the oldest supported";
  EXPECT_EQ(ours.version_for("a:1", kWireVersion), kWireVersion) << "...unless its entry says more";
  EXPECT_EQ(ours.version_for("a:1", kWireVersion + 5), kWireVersion) << "never above what we speak";
  ours.heard("a:1", kWireVersion);
  EXPECT_EQ(ours.version_for("a:1"), kWireVersion);
  ours.heard("a:1", kMinWireVersion);  // restarted on an older build
  EXPECT_EQ(ours.version_for("a:1"), kMinWireVersion);
  EXPECT_EQ(ours.version_for("a:1", kWireVersion), kMinWireVersion) << "what its frames say wins";
  PeerVersions older(kMinWireVersion);
  older.heard("b:1", kWireVersion);
  EXPECT_EQ(older.version_for("b:1"), kMinWireVersion) << "never above what we speak";
  ours.heard("b:1", kWireVersion);
  ours.heard("c:1", kWireVersion);  // over the bound: forgets and learns again
  EXPECT_EQ(ours.version_for("c:1"), kWireVersion);
  EXPECT_EQ(ours.version_for("a:1"), kMinWireVersion);
}

TEST(CodecTest, StreamsHoldSeveralFramesAndPartialOnesWait) {
  CodecOptions opts;
  std::string two = encode(sample(Syn{1}), opts) + encode(sample(Ping{2}), opts);
  DecodeResult first = decode(two, opts);
  ASSERT_EQ(first.error, DecodeError::kNone);
  DecodeResult second = decode(std::string_view(two).substr(first.consumed), opts);
  ASSERT_EQ(second.error, DecodeError::kNone);
  EXPECT_TRUE(std::holds_alternative<Ping>(second.message->body));
  EXPECT_EQ(decode(std::string_view(two).substr(0, 7), opts).error, DecodeError::kTruncated);
}

TEST(CodecTest, RefusesOversizedAndWrongCluster) {
  CodecOptions opts;
  opts.max_frame = 64;
  Ack big;
  for (int i = 0; i < 50; ++i) big.requests.push_back({NodeId(i, i), Generation{1}, Version{1}});
  CodecOptions wide;
  EXPECT_EQ(decode(encode(sample(big), wide), opts).error, DecodeError::kOversized);

  CodecOptions other;
  other.cluster_name = "other";
  EXPECT_EQ(decode(encode(sample(Syn{1}), other), wide).error, DecodeError::kWrongCluster);
}

// Another cluster's frame is refused as wrong_cluster and still read: the refusal can name the
// other cluster and the sender, and answer an opening message. Garbage after another cluster's
// name is refused as wrong_cluster too, with nothing to answer.
TEST(CodecTest, AnotherClustersFrameIsRefusedButNamesItsClusterAndSender) {
  CodecOptions ours, other;
  other.cluster_name = "other";
  const DecodeResult r = decode(encode(sample(Syn{1}), other), ours);
  EXPECT_EQ(r.error, DecodeError::kWrongCluster);
  EXPECT_EQ(r.foreign_cluster, "other");
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.message->from, sample(Syn{1}).from);
  EXPECT_EQ(r.message->from_address, "127.0.0.1:7000");
  EXPECT_TRUE(std::holds_alternative<Syn>(r.message->body));
  other.cluster_name = std::string(300, 'n');
  EXPECT_EQ(decode(encode(sample(Rumor{}), other), ours).foreign_cluster, std::string(64, 'n')) << "bounded";

  std::string cut = encode(sample(Ack2{}), CodecOptions{.cluster_name = "other"});
  cut.resize(cut.size() - 3);
  cut[3] = static_cast<char>(static_cast<uint8_t>(cut[3]) - 3);  // a shorter, complete, malformed frame
  const DecodeResult garbage = decode(cut, ours);
  EXPECT_EQ(garbage.error, DecodeError::kWrongCluster);
  EXPECT_FALSE(garbage.message);
  EXPECT_EQ(decode(encode(sample(Syn{1}), ours), ours).foreign_cluster, "") << "our own cluster";
}

// Garbage never crashes the decoder: it is refused as malformed (or waits for more bytes).
TEST(CodecTest, ContainerHeadersClaimingMoreThanTheFrameHoldsAreRefused) {
  CodecOptions opts;
  // A 5-byte payload whose array header claims 2^32 - 1 elements: refused as malformed without
  // msgpack allocating for them (an ASan build reports the 64 GiB allocation otherwise).
  for (const char* header : {"\xdd\xff\xff\xff\xff", "\xdf\xff\xff\xff\xff", "\xdb\xff\xff\xff\xff"}) {
    std::string frame("\0\0\0\x05", 4);
    frame.append(header, 5);
    DecodeResult r = decode(frame, opts);
    EXPECT_EQ(r.error, DecodeError::kMalformed);
  }
  EXPECT_FALSE(decode_node_state(std::string("\xdd\xff\xff\xff\xff", 5)));
}

TEST(CodecTest, RandomGarbageIsRefused) {
  CodecOptions opts;
  const std::string good = encode(sample(every_body()[3]), opts);
  for (int seed = 1; seed <= testing::seed_count(2000, 100000); ++seed) {
    std::mt19937_64 rng(seed);
    std::string frame = good;
    const int flips = 1 + rng() % 8;
    for (int i = 0; i < flips; ++i) frame[4 + rng() % (frame.size() - 4)] = static_cast<char>(rng());
    DecodeResult r = decode(frame, opts);
    if (r.error == DecodeError::kNone) {
      ASSERT_TRUE(r.message.has_value()) << "seed " << seed;
    }
    std::string junk(rng() % 64, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    (void)decode(junk, opts);
  }
}

TEST(CodecTest, HandWrittenFramesDecode) {
  Bytes syn;
  syn.header(0).array(2).uint(5).uint(6).array(0);
  DecodeResult r = decode(syn.frame(), CodecOptions{});
  ASSERT_EQ(r.error, DecodeError::kNone);
  EXPECT_EQ(std::get<Syn>(r.message->body), (Syn{5, 6}));
  EXPECT_EQ(r.message->from, NodeId(1, 2));
}

// How much decoding `bytes` raises this process's peak resident set; nullopt where it cannot be
// measured (no /proc/self/clear_refs, or a sanitizer whose shadow memory and quarantine skew it).
std::optional<long> peak_rss_growth_kb(std::string_view bytes, DecodeError expect = DecodeError::kMalformed) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  (void)bytes;
  (void)expect;
  return std::nullopt;
#else
  auto status_kb = [](std::string_view field) -> long {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
    }
    return -1;
  };
  {
    std::ofstream reset("/proc/self/clear_refs");
    if (!(reset << "5" << std::flush)) return std::nullopt;  // 5: peak RSS := current RSS
  }
  const long before = status_kb("VmHWM:");
  DecodeResult r = decode(bytes, CodecOptions{});
  const long after = status_kb("VmHWM:");
  EXPECT_EQ(r.error, expect);
  if (before < 0 || after < 0) return std::nullopt;
  return after - before;
#endif
}

// A 4 MiB frame of nils used to cost ~100 MB resident (a msgpack object per nil) plus a reserve of
// ~240 MB for the deltas it claimed; now the first container over its cap ends the parse.
TEST(CodecTest, HostileFramesAreRefusedBeforeTheyAreExpanded) {
  const size_t n = kDefaultMaxFrame - 256;  // nils that fit in one frame beside the header
  std::vector<std::pair<std::string, Bytes>> frames(4);
  frames[0].first = "Ack deltas of nils";
  frames[0].second.header(3).array(2).array(n).nils(n).array(0).array(0);
  frames[1].first = "liveness of nils";
  frames[1].second.header(8).array(0).array(n).nils(n);
  frames[2].first = "a delta's values of nils";
  frames[2].second.header(4).array(1).array(1).array(4).uint(1).uint(2).uint(3).array(n).nils(n).array(0);
  frames[3].first = "deep nesting";
  frames[3].second.header(8);
  for (size_t i = 0; i < n / 5; ++i) frames[3].second.array(1);
  for (auto& [what, payload] : frames) {
    ASSERT_LE(payload.size(), kDefaultMaxFrame) << what;
    const std::string frame = payload.frame();
    EXPECT_EQ(decode(frame, CodecOptions{}).error, DecodeError::kMalformed) << what;
    if (auto kb = peak_rss_growth_kb(frame)) {
      EXPECT_LT(*kb, 4096) << what;
    }
  }
}

// The most a frame the decoder accepts can make it allocate: every list element the budget allows,
// each as small on the wire and as large in memory as the schema permits. Before the streaming
// reader, the object tree alone cost ~24 bytes per wire element: ~111 MB for such a frame.
TEST(CodecTest, TheLargestAcceptedFrameDecodesInBoundedMemory) {
  std::vector<std::pair<std::string, Bytes>> frames(2);
  // 256 deltas of 1024 empty values each: 4 wire bytes a value, ~72 bytes decoded.
  frames[0].first = "values";
  frames[0].second.header(wire_tag::kAck2).array(1).array(256);
  for (int d = 0; d < 256; ++d) {
    frames[0].second.array(4).uint(1).uint(static_cast<uint64_t>(d)).uint(1).array(kMaxKeysPerEntry);
    for (uint32_t v = 0; v < kMaxKeysPerEntry; ++v) frames[0].second.tiny_array(3).empty_str().empty_str().tiny_uint(1);
  }
  frames[0].second.array(0);
  // The longest digest list: 2^18 requests.
  frames[1].first = "digests";
  frames[1].second.header(wire_tag::kAck).array(2).array(0).array(kMaxListEntries);
  for (uint32_t i = 0; i < kMaxListEntries; ++i) {
    frames[1].second.tiny_array(4).tiny_uint(i % 128).tiny_uint(i / 128 % 128).tiny_uint(1).tiny_uint(1);
  }
  frames[1].second.array(0);
  for (auto& [what, payload] : frames) {
    ASSERT_LE(payload.size(), kDefaultMaxFrame) << what;
    const std::string frame = payload.frame();
    ASSERT_EQ(decode(frame, CodecOptions{}).error, DecodeError::kNone) << what;
    if (auto kb = peak_rss_growth_kb(frame, DecodeError::kNone)) {
      EXPECT_LT(*kb, 40 * 1024) << what;
      std::printf("%s: %zu-byte frame, peak RSS +%ld KiB while decoding\n", what.c_str(), frame.size(), *kb);
    }
  }
}

// One entry of `keys` values (keys x.0000, x.0001, ... in order); the first key is padded to
// `key_bytes` and the first value is `value_bytes` long.
Message with_values(size_t keys, size_t key_bytes, size_t value_bytes) {
  NodeState st;
  st.generation = Generation{1};
  for (size_t i = 0; i < keys; ++i) {
    std::string key = std::to_string(10000 + i);
    key = "x." + key.substr(1);
    if (i == 0) key.resize(key_bytes, 'k');
    st.values.push_back({key, {std::string(i == 0 ? value_bytes : 1, 'v'), Version{i}}});
  }
  st.max_version = Version{keys - 1};
  return sample(Ack2{{{NodeId(1, 2), st}}});
}

// Each cap admits what it names and refuses one more; the entry caps hold for the store too.
TEST(CodecTest, CapsAdmitTheLargestLegitimateMessagesAndNothingLarger) {
  CodecOptions opts;
  auto error_of = [&](const Message& m) { return decode(encode(m, opts), opts).error; };

  const Message over[] = {with_values(kMaxKeysPerEntry + 1, 4, 1), with_values(1, kMaxKeyBytes + 1, 1),
                          with_values(1, 4, kMaxValueBytes + 1)};
  for (const Message& m : over) {
    EXPECT_EQ(error_of(m), DecodeError::kMalformed);
    const NodeState& st = std::get<Ack2>(m.body).deltas[0].state;
    EXPECT_FALSE(decode_node_state(encode_node_state(st)));
  }
  const Message at_cap = with_values(kMaxKeysPerEntry, kMaxKeyBytes, kMaxValueBytes);
  const NodeState& entry = std::get<Ack2>(at_cap.body).deltas[0].state;
  EXPECT_EQ(error_of(at_cap), DecodeError::kNone);
  EXPECT_EQ(decode_node_state(encode_node_state(entry)), entry);

  Message rumors = sample(Rumor{});
  rumors.liveness.assign(kMaxLivenessRecords, {NodeId(1, 1), Generation{5}, Incarnation{2}, Liveness::kSuspect});
  EXPECT_EQ(error_of(rumors), DecodeError::kNone);
  rumors.liveness.push_back(rumors.liveness.back());
  EXPECT_EQ(error_of(rumors), DecodeError::kMalformed);

  SynReply buckets;
  buckets.buckets.assign(ClusterState::kBuckets, 7);
  EXPECT_EQ(error_of(sample(buckets)), DecodeError::kNone);
  buckets.buckets.push_back(7);
  EXPECT_EQ(error_of(sample(buckets)), DecodeError::kMalformed);
  Digests digests;
  digests.buckets.assign(ClusterState::kBuckets + 1, 3);
  EXPECT_EQ(error_of(sample(digests)), DecodeError::kMalformed);

  Ack requests;
  for (uint32_t i = 0; i < kMaxListEntries; ++i) requests.requests.push_back({NodeId(i, i), Generation{1}, Version{1}});
  ASSERT_LE(encode(sample(requests), opts).size(), kDefaultMaxFrame);
  EXPECT_EQ(error_of(sample(requests)), DecodeError::kNone);
  requests.requests.push_back({NodeId(1, 1), Generation{1}, Version{1}});
  EXPECT_EQ(error_of(sample(requests)), DecodeError::kMalformed);
}

// Trailing fields a later build adds are skipped if they nest no deeper than kMaxDepth; maps, bins
// and exts, which the schema never uses, are refused.
TEST(CodecTest, TrailingFieldsAreSkippedWithinTheDepthCap) {
  auto syn_with_extra = [](const std::function<void(Bytes&)>& extra) {
    Bytes b;
    b.header(0).array(3).uint(5).uint(6);
    extra(b);
    b.array(0);
    return decode(b.frame(), CodecOptions{}).error;
  };
  // The Syn body is at depth 2, so its extra field may open kMaxDepth - 2 arrays.
  auto nested = [](uint32_t levels) {
    return [levels](Bytes& b) {
      for (uint32_t i = 0; i < levels; ++i) b.array(i + 1 < levels ? 1 : 0);
    };
  };
  EXPECT_EQ(syn_with_extra(nested(kMaxDepth - 2)), DecodeError::kNone);
  EXPECT_EQ(syn_with_extra(nested(kMaxDepth - 1)), DecodeError::kMalformed);
  EXPECT_EQ(syn_with_extra([](Bytes& b) { b.map(1).uint(1).uint(2); }), DecodeError::kMalformed);
  EXPECT_EQ(syn_with_extra([](Bytes& b) { b.bin("xy"); }), DecodeError::kMalformed);
  EXPECT_EQ(syn_with_extra([](Bytes& b) { b.str("later"); }), DecodeError::kNone);
}

}  // namespace
}  // namespace ringkeeper::gossip
