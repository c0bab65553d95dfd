#include "gossip/seal.h"

#include <gtest/gtest.h>

namespace ringkeeper::gossip {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

std::string key_of(char c) { return std::string(kGossipKeyBytes, c); }

Keyring ring_of(std::initializer_list<char> keys) {
  Keyring k;
  for (char c : keys) EXPECT_EQ(k.install(key_of(c)), "");
  EXPECT_EQ(k.use(key_fingerprint(key_of(*keys.begin()))), "");
  return k;
}

Message sample(uint64_t seq = 1, NodeId from = NodeId(0x1234, 0x5678)) {
  Message m;
  m.from = from;
  m.cluster_id = ClusterId(NodeId(7, 8));
  m.replication = "simple:3";
  m.from_address = "127.0.0.1:7000";
  m.body = Ping{seq, NodeId(9, 9), Generation{3}};
  return m;
}

SealedCodec codec_with(Keyring k, bool accept_plaintext = false, uint64_t generation = 100) {
  return SealedCodec(std::move(k), {.accept_plaintext = accept_plaintext}, Generation{generation});
}

TEST(SealTest, SealedFramesRoundTripAndHideThePayload) {
  SealedCodec sender = codec_with(ring_of({'a'}));
  SealedCodec receiver = codec_with(ring_of({'a'}));
  const std::string frame = sender.encode(sample(), CodecOptions{}, kWireVersion, kNow);
  EXPECT_TRUE(is_sealed(frame));
  EXPECT_EQ(frame.size(), encode(sample(), CodecOptions{}).size() + kSealHeaderBytes + kSealTagBytes);
  EXPECT_EQ(frame.find("127.0.0.1:7000"), std::string::npos) << "the payload is encrypted";
  EXPECT_EQ(frame.find("ringkeeper"), std::string::npos);
  DecodeResult r = receiver.decode(frame, CodecOptions{}, kNow + 5);
  ASSERT_EQ(r.error, DecodeError::kNone) << to_string(r.error);
  EXPECT_TRUE(r.sealed);
  EXPECT_EQ(*r.message, sample());
  EXPECT_EQ(r.consumed, frame.size());
}

TEST(SealTest, TamperingWithAnyByteIsRefused) {
  SealedCodec sender = codec_with(ring_of({'a'}));
  const std::string frame = sender.encode(sample(), CodecOptions{}, kWireVersion, kNow);
  for (size_t i = 4; i < frame.size(); ++i) {
    SealedCodec receiver = codec_with(ring_of({'a'}));  // a fresh replay window each time
    std::string bad = frame;
    bad[i] ^= 0x20;
    const DecodeError e = receiver.decode(bad, CodecOptions{}, kNow).error;
    EXPECT_NE(e, DecodeError::kNone) << "byte " << i;
    // Past the marker and version bytes every change fails authentication.
    if (i >= 6) {
      EXPECT_EQ(e, DecodeError::kBadMac) << "byte " << i;
    }
  }
  SealedCodec receiver = codec_with(ring_of({'a'}));
  EXPECT_EQ(receiver.decode(frame, CodecOptions{}, kNow).error, DecodeError::kNone) << "the original still opens";
  // Cut short: refused, never read past the end.
  std::string cut = frame.substr(0, 4 + kSealHeaderBytes + 3);
  const uint32_t n = static_cast<uint32_t>(cut.size() - 4);
  for (int i = 0; i < 4; ++i) cut[i] = static_cast<char>(n >> (24 - 8 * i));
  EXPECT_EQ(codec_with(ring_of({'a'})).decode(cut, CodecOptions{}, kNow).error, DecodeError::kMalformed);
}

TEST(SealTest, AReplayedFrameIsRefused) {
  SealedCodec sender = codec_with(ring_of({'a'}));
  SealedCodec receiver = codec_with(ring_of({'a'}));
  const std::string first = sender.encode(sample(1), CodecOptions{}, kWireVersion, kNow);
  const std::string second = sender.encode(sample(2), CodecOptions{}, kWireVersion, kNow);
  EXPECT_EQ(receiver.decode(second, CodecOptions{}, kNow).error, DecodeError::kNone);
  EXPECT_EQ(receiver.decode(first, CodecOptions{}, kNow).error, DecodeError::kNone) << "out of order, within the window";
  EXPECT_EQ(receiver.decode(first, CodecOptions{}, kNow).error, DecodeError::kReplayed);
  EXPECT_EQ(receiver.decode(second, CodecOptions{}, kNow).error, DecodeError::kReplayed);
  // A frame further back than the window is refused too: it cannot be told from a replay.
  const std::string old = sender.encode(sample(3), CodecOptions{}, kWireVersion, kNow);
  for (uint64_t i = 0; i < kReplayWindow; ++i) (void)sender.encode(sample(4), CodecOptions{}, kWireVersion, kNow);
  EXPECT_EQ(receiver.decode(sender.encode(sample(5), CodecOptions{}, kWireVersion, kNow), CodecOptions{}, kNow).error,
            DecodeError::kNone);
  EXPECT_EQ(receiver.decode(old, CodecOptions{}, kNow).error, DecodeError::kReplayed);
  // The sender restarted (a higher generation): its counter starts again, above every old nonce.
  SealedCodec restarted = codec_with(ring_of({'a'}), false, 101);
  EXPECT_EQ(receiver.decode(restarted.encode(sample(6), CodecOptions{}, kWireVersion, kNow), CodecOptions{}, kNow).error,
            DecodeError::kNone);
  EXPECT_EQ(receiver.decode(sender.encode(sample(7), CodecOptions{}, kWireVersion, kNow), CodecOptions{}, kNow).error,
            DecodeError::kReplayed)
      << "frames of the earlier run are refused once the later run was heard";
}

// A run whose generation is far ahead of the receiver's clock (a clock that ran ahead) is
// refused before the replay window sees it, so the sender's later run, restarted with
// --reset-generation at a lower generation, is still heard.
TEST(SealTest, AnEpochFarAheadIsRefusedAndDoesNotLockOutTheSendersLaterRuns) {
  SealedCodec receiver = codec_with(ring_of({'a'}));
  const uint64_t now_s = kNow / 1000;
  SealedCodec ahead = codec_with(ring_of({'a'}), false, now_s + kMaxGenerationAheadS + 60);
  EXPECT_EQ(receiver.decode(ahead.encode(sample(1), CodecOptions{}, kWireVersion, kNow), CodecOptions{}, kNow).error,
            DecodeError::kStale);
  SealedCodec reset = codec_with(ring_of({'a'}), false, now_s);
  EXPECT_EQ(receiver.decode(reset.encode(sample(2), CodecOptions{}, kWireVersion, kNow), CodecOptions{}, kNow).error,
            DecodeError::kNone);
  SealedCodec within = codec_with(ring_of({'a'}), false, now_s + 3600);  // a clock an hour ahead is fine
  EXPECT_EQ(receiver.decode(within.encode(sample(3), CodecOptions{}, kWireVersion, kNow), CodecOptions{}, kNow).error,
            DecodeError::kNone);
}

TEST(ReplayWindowTest, RemembersEachSenderApartAndStaysBounded) {
  ReplayWindow w(2);
  EXPECT_TRUE(w.accept(NodeId(1, 1), {1, 10}));
  EXPECT_TRUE(w.accept(NodeId(2, 2), {1, 10})) << "another sender's nonce space";
  EXPECT_FALSE(w.accept(NodeId(1, 1), {1, 10}));
  EXPECT_TRUE(w.accept(NodeId(1, 1), {1, 9}));
  EXPECT_TRUE(w.accept(NodeId(1, 1), {1, 10 + kReplayWindow * 3})) << "a jump past the window";
  EXPECT_FALSE(w.accept(NodeId(1, 1), {1, 11}));
}

TEST(SealTest, FramesOlderOrNewerThanTheAgeBoundAreRefused) {
  SealedCodec sender = codec_with(ring_of({'a'}));
  SealedCodec receiver = codec_with(ring_of({'a'}));
  const std::string at_now = sender.encode(sample(1), CodecOptions{}, kWireVersion, kNow);
  EXPECT_EQ(receiver.decode(at_now, CodecOptions{}, kNow + kMaxFrameAgeMs + 1).error, DecodeError::kStale);
  EXPECT_EQ(receiver.decode(at_now, CodecOptions{}, kNow - kMaxFrameAgeMs - 1).error, DecodeError::kStale);
  EXPECT_EQ(receiver.decode(at_now, CodecOptions{}, kNow + kMaxFrameAgeMs).error, DecodeError::kNone)
      << "at the bound: taken (and the refusals above recorded no nonce)";
}

TEST(SealTest, AFrameSealedWithAKeyTheReceiverDoesNotHoldIsRefused) {
  SealedCodec sender = codec_with(ring_of({'a'}));
  SealedCodec receiver = codec_with(ring_of({'b', 'c'}));
  EXPECT_EQ(receiver.decode(sender.encode(sample(), CodecOptions{}, kWireVersion, kNow), CodecOptions{}, kNow).error,
            DecodeError::kBadMac);
  SealedCodec keyless = codec_with(Keyring{});
  EXPECT_EQ(keyless.decode(sender.encode(sample(2), CodecOptions{}, kWireVersion, kNow), CodecOptions{}, kNow).error,
            DecodeError::kBadMac)
      << "a node without keys cannot open sealed frames";
}

TEST(SealTest, EveryInstalledKeyOpensFramesAndThePrimarySeals) {
  // The receiver holds b (primary) and a: frames sealed with either open.
  SealedCodec receiver = codec_with(ring_of({'b', 'a'}));
  SealedCodec with_a = codec_with(ring_of({'a'}));
  SealedCodec with_b = codec_with(ring_of({'b'}), false, 200);
  EXPECT_EQ(receiver.decode(with_a.encode(sample(1), CodecOptions{}, kWireVersion, kNow), CodecOptions{}, kNow).error,
            DecodeError::kNone);
  EXPECT_EQ(receiver.decode(with_b.encode(sample(2, NodeId(5, 5)), CodecOptions{}, kWireVersion, kNow), CodecOptions{},
                            kNow).error,
            DecodeError::kNone);
  // What the receiver sends is sealed with its primary, b: a node holding only a cannot open it.
  const std::string out = receiver.encode(sample(3, NodeId(6, 6)), CodecOptions{}, kWireVersion, kNow);
  EXPECT_EQ(with_b.decode(out, CodecOptions{}, kNow).error, DecodeError::kNone);
  EXPECT_EQ(with_a.decode(out, CodecOptions{}, kNow).error, DecodeError::kBadMac);
}

TEST(SealTest, PlaintextIsRefusedByANodeWithAPrimaryKeyUnlessItAcceptsPlaintext) {
  const std::string plain = encode(sample(), CodecOptions{});
  SealedCodec strict = codec_with(ring_of({'a'}));
  const DecodeResult refused = strict.decode(plain, CodecOptions{}, kNow);
  EXPECT_EQ(refused.error, DecodeError::kPlaintext);
  EXPECT_FALSE(refused.sealed);
  SealedCodec migrating = codec_with(ring_of({'a'}), true);
  EXPECT_EQ(migrating.decode(plain, CodecOptions{}, kNow).error, DecodeError::kNone);
  EXPECT_EQ(migrating.plaintext_accepted(), 1u);
  // Keys installed but none primary yet (keys install before keys use): plaintext both ways.
  Keyring installed;
  ASSERT_EQ(installed.install(key_of('a')), "");
  SealedCodec waiting = codec_with(installed);
  EXPECT_EQ(waiting.decode(plain, CodecOptions{}, kNow).error, DecodeError::kNone);
  EXPECT_FALSE(is_sealed(waiting.encode(sample(), CodecOptions{}, kWireVersion, kNow)));
  EXPECT_EQ(waiting.decode(codec_with(ring_of({'a'})).encode(sample(), CodecOptions{}, kWireVersion, kNow),
                           CodecOptions{}, kNow).error,
            DecodeError::kNone)
      << "and opens sealed frames with the installed key";
  // No keys at all: plaintext as before.
  EXPECT_FALSE(is_sealed(codec_with(Keyring{}).encode(sample(), CodecOptions{}, kWireVersion, kNow)));
}

// A node that takes no plaintext answers no plaintext frame, another cluster's included: the
// refusal is counted (wrong_cluster) but carries no message to answer.
TEST(SealTest, AnotherClustersPlaintextFrameLeavesNothingToAnswerToANodeThatEncrypts) {
  const std::string plain = encode(sample(), CodecOptions{.cluster_name = "other"});
  const DecodeResult strict = codec_with(ring_of({'a'})).decode(plain, CodecOptions{}, kNow);
  EXPECT_EQ(strict.error, DecodeError::kWrongCluster);
  EXPECT_FALSE(strict.message);
  const DecodeResult open = codec_with(Keyring{}).decode(plain, CodecOptions{}, kNow);
  EXPECT_EQ(open.error, DecodeError::kWrongCluster);
  EXPECT_TRUE(open.message) << "a plaintext node answers it";
}

TEST(SealTest, TheInsideMustNameTheSenderAndClusterTheHeaderAuthenticates) {
  const std::string plain = encode(sample(), CodecOptions{});
  SealHeader liar{NodeId(66, 66), ClusterId(NodeId(7, 8)), kNow, {1, 1}};
  SealedCodec receiver = codec_with(ring_of({'a'}));
  EXPECT_EQ(receiver.decode(seal(plain, key_of('a'), liar), CodecOptions{}, kNow).error, DecodeError::kMalformed);
  SealHeader other_cluster{sample().from, ClusterId(NodeId(9, 9)), kNow, {1, 2}};
  EXPECT_EQ(receiver.decode(seal(plain, key_of('a'), other_cluster), CodecOptions{}, kNow).error,
            DecodeError::kMalformed);
  SealHeader honest{sample().from, ClusterId(NodeId(7, 8)), kNow, {1, 3}};
  EXPECT_EQ(receiver.decode(seal(plain, key_of('a'), honest), CodecOptions{}, kNow).error, DecodeError::kNone);
}

TEST(SealTest, TwoSendersWithTheSameNonceSealUnderDifferentKeys) {
  const std::string plain = encode(sample(), CodecOptions{});
  const std::string x = seal(plain, key_of('a'), SealHeader{NodeId(1, 1), ClusterId(), kNow, {5, 5}});
  const std::string y = seal(plain, key_of('a'), SealHeader{NodeId(2, 2), ClusterId(), kNow, {5, 5}});
  EXPECT_NE(x.substr(4 + kSealHeaderBytes), y.substr(4 + kSealHeaderBytes));
}

TEST(KeyringTest, KeysFingerprintsAndTheirRules) {
  // `openssl rand -base64 32` output.
  auto key = decode_key_base64(" 8J9qvU1m0m1i7d6Fv0ZJ3T2O5t5bqkQyQeB4z3mB1kA=\n");
  ASSERT_TRUE(key.ok()) << key.status().to_string();
  EXPECT_EQ(key->size(), 32u);
  EXPECT_EQ(encode_key_base64(*key), "8J9qvU1m0m1i7d6Fv0ZJ3T2O5t5bqkQyQeB4z3mB1kA=");
  const auto short_key = decode_key_base64("c2hvcnQ=");
  EXPECT_EQ(short_key.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(short_key.status().message().find("decodes to 5 bytes"), std::string::npos) << short_key.status().message();
  const auto garbage = decode_key_base64("not*base64!!");
  EXPECT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("not base64"), std::string::npos) << garbage.status().message();
  EXPECT_FALSE(decode_key_base64("").ok());

  const std::string fp = key_fingerprint(*key);
  EXPECT_EQ(fp.size(), 16u);
  EXPECT_EQ(fp.find_first_not_of("0123456789abcdef"), std::string::npos);
  Keyring k;
  EXPECT_NE(k.install("short"), "");
  EXPECT_EQ(k.install(*key), "");
  EXPECT_EQ(k.install(*key), "") << "installing a held key again does nothing";
  EXPECT_EQ(k.keys().size(), 1u);
  EXPECT_EQ(k.primary(), nullptr) << "installed is not in use";
  EXPECT_NE(k.use("0000000000000000"), "");
  EXPECT_EQ(k.use(fp), "");
  EXPECT_EQ(k.primary_fingerprint(), fp);
  EXPECT_NE(k.remove(fp).find("primary"), std::string::npos) << "the primary cannot be removed";
  ASSERT_EQ(k.install(key_of('z')), "");
  ASSERT_EQ(k.use(key_fingerprint(key_of('z'))), "");
  EXPECT_EQ(k.remove(fp), "");
  EXPECT_EQ(k.fingerprints(), std::vector<std::string>{key_fingerprint(key_of('z'))});
  EXPECT_EQ(k.remove(fp), "") << "removing a key not held does nothing";
}

}  // namespace
}  // namespace ringkeeper::gossip
