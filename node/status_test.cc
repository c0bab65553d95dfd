// Status and Result<T> (include/ringkeeper/status.h): codes, messages, values, moves, and that
// misuse — a value taken from an error — stops the process instead of reading garbage.
#include "ringkeeper/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <set>
#include <string>

namespace ringkeeper {

void PrintTo(const Status& s, std::ostream* os) { *os << s.to_string(); }

namespace {

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return Status::invalid_argument(std::string("not a digit: ") + c);
  return c - '0';
}

struct Base {
  virtual ~Base() = default;
  virtual int n() const { return 1; }
};
struct Derived : Base {
  int n() const override { return 2; }
};

Result<std::unique_ptr<Base>> make(bool ok) {
  if (!ok) return Status::refused("no");
  return std::make_unique<Derived>();  // converted on the way out
}

TEST(Status, DefaultIsOkWithNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.to_string(), "ok");
  EXPECT_EQ(s, Status());
}

TEST(Status, EachFactoryGivesItsCodeAndKeepsTheMessage) {
  const std::pair<Status, std::string> cases[] = {
      {Status::invalid_argument("m"), "invalid_argument: m"},
      {Status::data_dir_refused("m"), "data_dir_refused: m"},
      {Status::io_error("m"), "io_error: m"},
      {Status::refused("m"), "refused: m"},
      {Status::not_running("m"), "not_running: m"},
      {Status::internal("m"), "internal: m"},
  };
  for (const auto& [s, text] : cases) {
    EXPECT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.message(), "m");
    EXPECT_EQ(s.to_string(), text);
  }
  EXPECT_EQ(Status::refused("x").code(), StatusCode::kRefused);
  EXPECT_NE(Status::refused("x"), Status::refused("y"));
  EXPECT_NE(Status::refused("x"), Status::io_error("x"));
}

TEST(Status, EveryCodeHasADistinctName) {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c) {
    const std::string_view n = to_string(static_cast<StatusCode>(c));
    EXPECT_NE(n, "unknown") << c;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(StatusCode::kInternal) + 1);
}

TEST(Result, HoldsAValueOrTheStatusSayingWhyNot) {
  Result<int> seven = parse_digit('7');
  ASSERT_TRUE(seven.ok());
  EXPECT_EQ(*seven, 7);
  EXPECT_EQ(seven.value(), 7);
  EXPECT_TRUE(seven.status().ok());

  Result<int> bad = parse_digit('x');
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "not a digit: x");
}

TEST(Result, MovesMoveOnlyValuesAndConvertsThemOnReturn) {
  Result<std::unique_ptr<Base>> made = make(true);
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->n(), 2);
  EXPECT_EQ(made->get()->n(), 2);
  std::unique_ptr<Base> taken = std::move(made).value();
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->n(), 2);

  Result<std::unique_ptr<Base>> refused = make(false);
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.status(), Status::refused("no"));

  Result<std::string> s = std::string("abc");
  EXPECT_EQ(s->size(), 3u);
  const Result<std::string>& cs = s;
  EXPECT_EQ(*cs, "abc");
}

TEST(Result, AnOkStatusWithoutAValueIsReportedAsInternal) {
  Result<int> r = Status();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(ResultDeathTest, TakingTheValueOfAnErrorAborts) {
  Result<int> bad = parse_digit('x');
  EXPECT_DEATH((void)bad.value(), "value\\(\\) of an error: invalid_argument: not a digit: x");
  EXPECT_DEATH((void)*bad, "invalid_argument");
}

}  // namespace
}  // namespace ringkeeper
