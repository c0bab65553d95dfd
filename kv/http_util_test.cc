// The pure HTTP helpers: percent-encoding round trips, query parsing, numbers, host:port.
#include "kv/http_util.h"

#include <gtest/gtest.h>

namespace ringkeeper::kv {
namespace {

TEST(HttpUtilTest, PercentEncodingRoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string enc = percent_encode(all);
  EXPECT_EQ(enc.find('/'), std::string::npos);
  EXPECT_EQ(percent_decode(enc), all);
  EXPECT_EQ(percent_decode("a%2Fb"), "a/b");
  EXPECT_FALSE(percent_decode("a%2").has_value());
  EXPECT_FALSE(percent_decode("a%zz").has_value());
  EXPECT_FALSE(percent_decode("%").has_value());
}

TEST(HttpUtilTest, QueriesNumbersAndAddresses) {
  auto q = parse_query("w=2&r=%31");
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)["w"], "2");
  EXPECT_EQ((*q)["r"], "1");
  EXPECT_FALSE(parse_query("w=1&w=2").has_value());
  EXPECT_FALSE(parse_query("w=%g1").has_value());
  EXPECT_EQ(parse_u64("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_u64("18446744073709551616").has_value());
  EXPECT_FALSE(parse_u64("-1").has_value());
  EXPECT_FALSE(parse_u64("1x").has_value());
  EXPECT_FALSE(parse_u64("").has_value());
  EXPECT_EQ(split_host_port("[::1]:80"), std::make_pair(std::string("::1"), uint16_t{80}));
  EXPECT_EQ(split_host_port("h:0"), std::make_pair(std::string("h"), uint16_t{0}));
  EXPECT_FALSE(split_host_port("h:70000").has_value());
  EXPECT_FALSE(split_host_port("h").has_value());
  EXPECT_EQ(from_hex(to_hex(std::string("\x00\xff z", 4))), std::string("\x00\xff z", 4));
  EXPECT_FALSE(from_hex("abc").has_value());
}

}  // namespace
}  // namespace ringkeeper::kv
