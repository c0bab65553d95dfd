#include "ringkeeper/ring/types.h"

#include <gtest/gtest.h>

namespace ringkeeper {
namespace {

TEST(TokenTest, ParsesDecimalOnly) {
  EXPECT_EQ(Token::parse("0"), Token(0));
  EXPECT_EQ(Token::parse("18446744073709551615"), Token(UINT64_MAX));
  EXPECT_FALSE(Token::parse("18446744073709551616"));
  EXPECT_FALSE(Token::parse("-1"));
  EXPECT_FALSE(Token::parse("+1"));
  EXPECT_FALSE(Token::parse("12a"));
  EXPECT_FALSE(Token::parse(""));
}

TEST(TokenRangeTest, ContainsIsHalfOpenAndWraps) {
  TokenRange r{Token(10), Token(20)};
  EXPECT_FALSE(r.contains(Token(10)));
  EXPECT_TRUE(r.contains(Token(11)));
  EXPECT_TRUE(r.contains(Token(20)));
  EXPECT_FALSE(r.contains(Token(21)));
  TokenRange wrap{Token(UINT64_MAX - 1), Token(5)};
  EXPECT_TRUE(wrap.contains(Token(UINT64_MAX)));
  EXPECT_TRUE(wrap.contains(Token(0)));
  EXPECT_TRUE(wrap.contains(Token(5)));
  EXPECT_FALSE(wrap.contains(Token(6)));
  EXPECT_TRUE((TokenRange{Token(7), Token(7)}).contains(Token(7)));
  EXPECT_DOUBLE_EQ((TokenRange{Token(7), Token(7)}).fraction(), 1.0);
  EXPECT_DOUBLE_EQ((TokenRange{Token(0), Token(uint64_t{1} << 62)}).fraction(), 0.25);
}

TEST(NodeIdTest, RoundTripsCanonicalForm) {
  NodeId id = NodeId::from_random_bits(0x0123456789abcdefULL, 0xfedcba9876543210ULL);
  std::string text = id.to_string();
  EXPECT_EQ(text, "01234567-89ab-4def-bedc-ba9876543210");
  EXPECT_EQ(NodeId::parse(text), id);
  EXPECT_EQ(NodeId::parse("01234567-89AB-4DEF-BEDC-BA9876543210"), id);
  EXPECT_FALSE(NodeId::parse("01234567-89ab-4def-bedc-ba987654321"));
  EXPECT_FALSE(NodeId::parse("01234567x89ab-4def-bedc-ba9876543210"));
  EXPECT_FALSE(NodeId::parse("0123456g-89ab-4def-bedc-ba9876543210"));
}

TEST(NodeStatusTest, NamesRoundTrip) {
  for (auto s : {NodeStatus::kJoining, NodeStatus::kNormal, NodeStatus::kLeaving,
                 NodeStatus::kMoving, NodeStatus::kLeft, NodeStatus::kRemoved}) {
    EXPECT_EQ(parse_node_status(to_string(s)), s);
  }
  EXPECT_FALSE(parse_node_status("normal"));
}

TEST(HlcStampTest, OrdersByMillisThenCounter) {
  EXPECT_LT(HlcStamp::make(5, 9), HlcStamp::make(6, 0));
  EXPECT_LT(HlcStamp::make(5, 1), HlcStamp::make(5, 2));
  EXPECT_EQ(HlcStamp::make(5, 1).millis(), 5u);
}

}  // namespace
}  // namespace ringkeeper
