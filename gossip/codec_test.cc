#include "gossip/codec.h"

#include <gtest/gtest.h>

#include <random>

#include "ring/test_util.h"

namespace ringkeeper::gossip {
namespace {

Message sample(Body body) {
  Message m;
  m.from = NodeId(0x1234, 0x5678);
  m.cluster_id = NodeId(7, 8);
  m.replication = "simple:3";
  m.from_address = "127.0.0.1:7000";
  m.body = std::move(body);
  m.liveness = {{NodeId(1, 1), 5, 2, Liveness::kSuspect}};
  return m;
}

std::vector<Body> every_body() {
  NodeState st;
  st.generation = 9;
  st.values = {{"status", {"NORMAL", 3}}, {"tokens", {"1,2,3", 4}}};
  st.max_version = 4;
  return {Syn{42, 7},
          SynReply{{1, 2, 3}},
          Digests{{0, 5}, {{NodeId(1, 2), 3, 4}}},
          Ack{{{NodeId(3, 4), st}}, {{NodeId(5, 6), 7, 8}}},
          Ack2{{{NodeId(3, 4), st}}},
          Ping{11},
          PingAck{12},
          PingReq{13, NodeId(9, 9), "[::1]:7001"},
          Rumor{}};
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

TEST(CodecTest, RefusesOversizedWrongClusterAndBadMac) {
  CodecOptions opts;
  opts.max_frame = 64;
  Ack big;
  for (int i = 0; i < 50; ++i) big.requests.push_back({NodeId(i, i), 1, 1});
  CodecOptions wide;
  EXPECT_EQ(decode(encode(sample(big), wide), opts).error, DecodeError::kOversized);

  CodecOptions other;
  other.cluster_name = "other";
  EXPECT_EQ(decode(encode(sample(Syn{1}), other), wide).error, DecodeError::kWrongCluster);

  CodecOptions secret;
  secret.secret = "s3cret";
  std::string framed = encode(sample(Syn{1}), secret);
  EXPECT_EQ(decode(framed, secret).error, DecodeError::kNone);
  EXPECT_EQ(decode(encode(sample(Syn{1}), wide), secret).error, DecodeError::kBadMac);
  framed[10] ^= 1;
  EXPECT_EQ(decode(framed, secret).error, DecodeError::kBadMac);
  CodecOptions wrong_secret;
  wrong_secret.secret = "nope";
  EXPECT_EQ(decode(encode(sample(Syn{1}), secret), wrong_secret).error, DecodeError::kBadMac);
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

}  // namespace
}  // namespace ringkeeper::gossip
