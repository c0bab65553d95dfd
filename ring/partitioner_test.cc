#include "ringkeeper/ring/partitioner.h"

#include <gtest/gtest.h>

namespace ringkeeper {
namespace {

// These values are part of the on-disk and on-wire contract: a change here re-homes every key.
TEST(PartitionerTest, Xxh3OutputIsFixed) {
  const Partitioner& p = default_partitioner();
  EXPECT_EQ(p.name(), "xxh3");
  EXPECT_EQ(p.token_of(""), Token(3244421341483603138ULL));
  EXPECT_EQ(p.token_of("a"), Token(16629034431890738719ULL));
  EXPECT_EQ(p.token_of("hello"), Token(10760762337991515389ULL));
}

TEST(PartitionerTest, KeysAreBytesNotCStrings) {
  const Partitioner& p = default_partitioner();
  std::string with_nul("a\0b", 3);
  EXPECT_NE(p.token_of(with_nul), p.token_of("a"));
}

}  // namespace
}  // namespace ringkeeper
