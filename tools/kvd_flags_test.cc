#include "tools/kvd_flags.h"

#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/cluster/harness.h"

namespace ringkeeper::tools {
namespace {

using testing::TempDir;

// What kvd does with a command line: parse, resolve the node flags, then its own.
struct Parsed {
  bool ok = false;
  std::string error;
  kv::KvConfig config;
};

Parsed parse(std::vector<std::string> args) {
  Parsed p;
  CLI::App app{"test"};
  NodeFlags node;
  KvdFlags kvd;
  add_node_flags(app, node);
  add_kvd_flags(app, kvd);
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector of arguments last first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    p.error = e.what();
    return p;
  }
  p.ok = resolve_node_flags(app, node, p.config.node, &p.error) && resolve_kvd_flags(node, kvd, p.config, &p.error);
  return p;
}

TEST(KvdFlagsTest, DefaultsAreKvConfigsAndGoodValuesApply) {
  Parsed d = parse({"--data-dir", "/d"});
  ASSERT_TRUE(d.ok) << d.error;
  const kv::KvConfig defaults;
  EXPECT_EQ(d.config.kv_listen, defaults.kv_listen);
  EXPECT_EQ(d.config.anti_entropy_interval_ms, defaults.anti_entropy_interval_ms);
  EXPECT_EQ(d.config.anti_entropy_bytes_per_s, defaults.anti_entropy_bytes_per_s);
  EXPECT_EQ(d.config.outside_collect_interval_ms, defaults.outside_collect_interval_ms);
  EXPECT_EQ(d.config.max_hints, defaults.max_hints);
  EXPECT_EQ(d.config.ack_delay_ms, 0);

  Parsed p = parse({"--data-dir", "/d", "--kv", "[::1]:0", "--kv-anti-entropy-ms", "0", "--kv-anti-entropy-rate",
                    "1024", "--kv-collect-outside-ms", "300", "--kv-max-hints", "0", "--kv-ack-delay-ms", "1500"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.config.kv_listen, "[::1]:0");
  EXPECT_EQ(p.config.anti_entropy_interval_ms, 0);
  EXPECT_EQ(p.config.anti_entropy_bytes_per_s, 1024u);
  EXPECT_EQ(p.config.outside_collect_interval_ms, 300);
  EXPECT_EQ(p.config.max_hints, 0u);
  EXPECT_EQ(p.config.ack_delay_ms, 1500);
}

TEST(KvdFlagsTest, OutOfRangeValuesAreRefusedNamingTheFlag) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"--kv-anti-entropy-ms", "-1"},   {"--kv-anti-entropy-ms", "604800001"}, {"--kv-anti-entropy-rate", "0"},
      {"--kv-anti-entropy-rate", "1023"}, {"--kv-collect-outside-ms", "-5"},   {"--kv-max-hints", "-1"},
      {"--kv-max-hints", "100000001"},  {"--kv-ack-delay-ms", "-5"},          {"--kv-ack-delay-ms", "0x10"},
      {"--kv-max-hints", "12abc"},
  };
  for (const auto& [flag, value] : bad) {
    Parsed p = parse({"--data-dir", "/d", flag + "=" + value});
    EXPECT_FALSE(p.ok) << flag << " " << value;
    EXPECT_EQ(p.error.rfind(flag + ": expected ", 0), 0u) << flag << " " << value << " gave: " << p.error;
    EXPECT_NE(p.error.find("got '" + value + "'"), std::string::npos) << p.error;
  }
  Parsed kv = parse({"--data-dir", "/d", "--kv", "bad"});
  EXPECT_EQ(kv.error, "--kv: expected HOST:PORT ([v6]:PORT for IPv6), got 'bad'");
}

TEST(KvdFlagsTest, BadValuesInTheConfigFileNameTheSettingAndTheFile) {
  TempDir dir;
  for (const char* line : {"kv = bad", "kv-max-hints = -1", "kv_anti_entropy_rate = 0"}) {
    const std::string conf = (dir.path() / "kvd.conf").string();
    std::ofstream(conf) << "data-dir = /d\n" << line << "\n";
    Parsed p = parse({"--config", conf});
    EXPECT_FALSE(p.ok) << line;
    EXPECT_NE(p.error.find(" (in " + conf + "): expected "), std::string::npos) << line << " gave: " << p.error;
  }
}

}  // namespace
}  // namespace ringkeeper::tools
