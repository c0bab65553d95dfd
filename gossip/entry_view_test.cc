// EntryView (gossip/entry_view.h) and the strong types of gossip/types.h.
#include "gossip/entry_view.h"

#include <type_traits>

#include <gtest/gtest.h>

#include "gossip/types.h"

namespace ringkeeper::gossip {
namespace {

// No implicit mixing: raw integers and one kind of counter do not become another.
static_assert(!std::is_convertible_v<uint64_t, Generation>);
static_assert(!std::is_convertible_v<Version, Generation>);
static_assert(!std::is_assignable_v<Generation&, Version>);
static_assert(!std::is_assignable_v<Incarnation&, uint64_t>);
static_assert(!std::is_convertible_v<Generation, uint64_t>);
static_assert(!std::is_convertible_v<NodeId, ClusterId>);
static_assert(!std::is_convertible_v<ClusterId, NodeId>);
static_assert(!std::is_convertible_v<uint64_t, RingEpoch> && !std::is_convertible_v<RingEpoch, Version>);
static_assert(!std::is_convertible_v<uint64_t, HlcStamp> && !std::is_convertible_v<HlcStamp, uint64_t>);
// Zero-cost: the wrappers are the integers and the UUID they wrap.
static_assert(sizeof(Generation) == sizeof(uint64_t) && std::is_trivially_copyable_v<Generation>);
static_assert(sizeof(ClusterId) == sizeof(NodeId) && std::is_trivially_copyable_v<ClusterId>);
static_assert(Version{7}.next() == Version{8} && Generation{2} > Generation{1});

NodeState entry(std::vector<std::pair<std::string, std::string>> values, Generation generation = Generation{3}) {
  NodeState st;
  st.generation = generation;
  std::sort(values.begin(), values.end());
  for (auto& [k, v] : values) {
    st.max_version = st.max_version.next();
    st.values.push_back({k, {v, st.max_version}});
  }
  return st;
}

TEST(EntryViewTest, ReadsEveryWellKnownValueOnce) {
  const NodeId change_id(5, 6);
  const NodeState st = entry({{"status", "MOVING"},
                              {"tokens", "30,10,20"},
                              {"moving_to", "40"},
                              {"stamp", "123456"},
                              {"epoch", "9"},
                              {"change", change_id.to_string() + " move write_both 77"},
                              {"dc", "east"},
                              {"rack", "r2"},
                              {"address", "10.0.0.1:7000"},
                              {"ring_digest", "abcd"},
                              {"wire", "2"}});
  const Result<EntryView> decoded = EntryView::decode(st);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  const EntryView& v = *decoded;
  EXPECT_EQ(v.generation, Generation{3});
  EXPECT_EQ(v.max_version, Version{11});
  EXPECT_EQ(v.status, NodeStatus::kMoving);
  EXPECT_EQ(v.status_text, "MOVING");
  EXPECT_EQ(v.tokens, (std::vector<Token>{Token(10), Token(20), Token(30)}));
  EXPECT_TRUE(v.has_claim);
  EXPECT_EQ(v.moving_to, std::vector<Token>{Token(40)});
  EXPECT_EQ(v.stamp, HlcStamp{123456});
  EXPECT_EQ(v.epoch, RingEpoch{9});
  ASSERT_TRUE(v.change);
  EXPECT_EQ(v.change->id, change_id);
  EXPECT_EQ(v.change->step, ChangeStep::kWriteBoth);
  EXPECT_EQ(v.dc, "east");
  EXPECT_EQ(v.rack, "r2");
  EXPECT_EQ(v.address, "10.0.0.1:7000");
  EXPECT_EQ(v.ring_digest, "abcd");
  EXPECT_EQ(v.wire, 2u);

  const auto d = describe_entry(NodeId(1, 1), st);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, NodeStatus::kMoving);
  EXPECT_EQ(d->tokens, v.tokens);
  EXPECT_EQ(d->pending_tokens, v.moving_to);
  EXPECT_EQ(d->phase, ChangePhase::kWriteBoth);
  EXPECT_EQ(d->dc, "east");
  EXPECT_EQ(d->stamp, HlcStamp{123456});
}

TEST(EntryViewTest, AnUnreadableTokenListOrStampIsAnErrorWithFallbacks) {
  const NodeState bad_tokens = entry({{"status", "NORMAL"}, {"tokens", "1,x"}});
  EXPECT_EQ(EntryView::decode(bad_tokens).status().code(), StatusCode::kInvalidArgument);
  const EntryView v = EntryView::read(bad_tokens);
  EXPECT_TRUE(v.tokens.empty()) << "an unreadable list counts as no tokens";
  EXPECT_TRUE(v.has_claim);
  EXPECT_NE(v.problem.message().find("tokens"), std::string::npos);

  const NodeState bad_stamp = entry({{"status", "JOINING"}, {"stamp", "12abc"}});
  EXPECT_FALSE(EntryView::decode(bad_stamp).ok());
  EXPECT_EQ(EntryView::read(bad_stamp).stamp, HlcStamp{UINT64_MAX}) << "a bad stamp loses every conflict";
  EXPECT_EQ(describe_entry(NodeId(1, 1), bad_stamp)->stamp, HlcStamp{UINT64_MAX});

  // Values the engine never refused keep their lenient readings.
  const NodeState lenient = entry({{"status", "SLEEPING"}, {"moving_to", "?"}, {"epoch", "7x"}, {"wire", "v2"}});
  const Result<EntryView> r = EntryView::decode(lenient);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status_text, "SLEEPING");
  EXPECT_FALSE(r->status) << "a status this build does not know";
  EXPECT_TRUE(r->moving_to.empty());
  EXPECT_EQ(r->epoch, RingEpoch{7}) << "the epoch's decimal prefix, as always";
  EXPECT_FALSE(r->wire);
  EXPECT_FALSE(describe_entry(NodeId(1, 1), lenient)) << "no readable status: not in the ring";
}

// Counters and stamps kept as text read back strictly: the whole text, decimal, in range.
TEST(EntryViewTest, DecimalTextIsDecodedWholeOrNotAtAll) {
  EXPECT_EQ(decode_decimal("0"), 0u);
  EXPECT_EQ(decode_decimal("18446744073709551615"), UINT64_MAX);
  for (std::string_view bad : {"", "x", "12x", " 12", "12 ", "+1", "-1", "0x10", "18446744073709551616"}) {
    EXPECT_FALSE(decode_decimal(bad)) << "'" << bad << "'";
  }
  EXPECT_EQ(decode_stamp("123456"), HlcStamp{123456});
  EXPECT_FALSE(decode_stamp("123456 "));
}

TEST(EntryViewTest, ATombstoneIsRemovedAndGossipsNoEpochOrChange) {
  const NodeState tomb = entry({{"status", "REMOVED"}, {"epoch", "4"},
                                {"change", NodeId(2, 2).to_string() + " move announce 1"}},
                               kTombstoneGeneration);
  const EntryView v = EntryView::read(tomb);
  EXPECT_TRUE(v.tombstone);
  EXPECT_EQ(v.epoch, RingEpoch{});
  const auto d = describe_entry(NodeId(1, 1), tomb);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, NodeStatus::kRemoved);
  EXPECT_EQ(d->phase, ChangePhase::kWriteBoth) << "a tombstone's change record is not in flight";
  EXPECT_FALSE(EntryView::read(entry({})).status_text);
}

}  // namespace
}  // namespace ringkeeper::gossip
