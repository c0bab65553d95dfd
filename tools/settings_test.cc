#include "tools/settings.h"

#include <fstream>

#include <gtest/gtest.h>

#include "tests/cluster/harness.h"

namespace ringkeeper::tools {
namespace {

using testing::TempDir;

// Writes `text` to NAME in `dir`; its path.
std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.path() / name) << text;
  return (dir.path() / name).string();
}

// What ringd does with a command line: parse (flags and --config), then resolve.
struct Parsed {
  bool ok = false;
  std::string error;  // the CLI11 parse error or resolve_node_flags' error
  NodeFlags flags;
  NodeConfig config;
};

Parsed parse(std::vector<std::string> args) {
  Parsed p;
  CLI::App app{"test"};
  add_node_flags(app, p.flags);
  args.insert(args.begin(), "ringd");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    p.error = e.what();
    return p;
  }
  p.ok = resolve_node_flags(app, p.flags, p.config, &p.error);
  return p;
}

// A config file of `text` (after a data-dir line) is refused with an error holding `message`
// and the file's path.
void expect_refused(const TempDir& dir, const std::string& text, const std::string& message) {
  const std::string conf = write(dir, "refused.conf", "data-dir = /d\n" + text);
  Parsed p = parse({"--config", conf});
  EXPECT_FALSE(p.ok) << text;
  EXPECT_NE(p.error.find(message), std::string::npos) << text << " gave: " << p.error;
  EXPECT_NE(p.error.find(conf), std::string::npos) << text << " gave: " << p.error;
}

TEST(SettingsTest, FlagsAloneAndDefaults) {
  Parsed p = parse({"--data-dir", "/d", "--seeds", "127.0.0.1:7000,[::1]:7001", "--tokens", "5,10",
                    "--strategy", "topology", "--rf", "dc1:3,dc2:2"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.config.cluster, "ringkeeper");
  EXPECT_EQ(p.config.listen, "127.0.0.1:7000");
  EXPECT_EQ(p.config.seeds, (std::vector<std::string>{"127.0.0.1:7000", "[::1]:7001"}));
  EXPECT_EQ(p.config.tokens, (std::vector<Token>{Token(5), Token(10)}));
  EXPECT_EQ(p.config.replication.canonical(), "topology:dc1=3,dc2=2");
  EXPECT_EQ(p.config.num_tokens, 16u);
  EXPECT_FALSE(p.config.reset_generation);
  EXPECT_TRUE(p.flags.set_by_config_file.empty());
}

TEST(SettingsTest, QuotedValuesAreUnquotedAndCommentsSkipped) {
  TempDir dir;
  const std::string settings =
      "# a node\n"
      "\n"
      "cluster = \"prod\"   # the name, without its quotes\n"
      "data-dir = \"/var/lib/ring keeper\"\n"
      "rack = 'r 2'\n"
      "   dc=east\n";
  Parsed p = parse({"--config", write(dir, "a.conf", settings)});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.config.cluster, "prod");
  EXPECT_EQ(p.config.data_dir, "/var/lib/ring keeper");
  EXPECT_EQ(p.config.rack, "r 2");
  EXPECT_EQ(p.config.dc, "east");
  EXPECT_EQ(p.flags.set_by_config_file, (std::set<std::string>{"cluster", "data-dir", "rack", "dc"}));

  const std::string conf = write(dir, "b.conf", settings + "data_dir_is_not_here = 1\n");
  Parsed bad = parse({"--config", conf});
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.error.find("unknown setting 'data-dir-is-not-here'"), std::string::npos) << bad.error;
  EXPECT_NE(bad.error.find(conf), std::string::npos) << "names the file: " << bad.error;
}

TEST(SettingsTest, ListsInBothForms) {
  TempDir dir;
  const std::vector<std::string> seeds = {"127.0.0.1:7000", "127.0.0.1:7001"};
  for (const std::string& text : {
           std::string("seeds = [\"127.0.0.1:7000\", \"127.0.0.1:7001\"]\ntokens = [1, 2, 3]\n"),
           std::string("seeds = 127.0.0.1:7000,127.0.0.1:7001\ntokens = 1,2,3\n"),
           std::string("seeds = \"127.0.0.1:7000,127.0.0.1:7001\"\ntokens = \"1,2,3\"\n"),
           std::string("seeds = [\"127.0.0.1:7000\",\n         \"127.0.0.1:7001\"]\ntokens = [1,\n 2, 3]\n"),
       }) {
    SCOPED_TRACE(text);
    const std::string conf = write(dir, "n.conf", text + "data_dir = /d\nstrategy = topology\nrf = dc1:3,dc2:2\n");
    Parsed p = parse({"--config", conf});
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.config.seeds, seeds);
    EXPECT_EQ(p.config.tokens, (std::vector<Token>{Token(1), Token(2), Token(3)}));
    EXPECT_EQ(p.config.replication.canonical(), "topology:dc1=3,dc2=2");
  }
}

// The example in docs/operations.md, with the key file in the scratch dir.
TEST(SettingsTest, TheDocumentedExample) {
  TempDir dir;
  const std::string key = write(dir, "gossip.key", "8J9qvU1m0m1i7d6Fv0ZJ3T2O5t5bqkQyQeB4z3mB1kA=\n");
  const std::string conf = write(dir, "n1.conf",
                                     "# /etc/ringkeeper/n1.conf\n"
                                     "cluster     = \"prod\"\n"
                                     "data-dir    = \"/var/lib/ringkeeper\"\n"
                                     "listen      = 10.0.0.1:7000\n"
                                     "admin       = 127.0.0.1:7180\n"
                                     "seeds       = [\"10.0.0.1:7000\", \"10.0.0.2:7000\", \"10.0.0.3:7000\"]\n"
                                     "dc          = east\n"
                                     "rack        = r1\n"
                                     "strategy    = topology\n"
                                     "rf          = east:3,west:2      # a list: east 3 replicas, west 2\n"
                                     "gossip-key-file = " + key + "\n"
                                     "log-level   = info\n");
  Parsed p = parse({"--config", conf, "--log-level", "debug"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.config.cluster, "prod");
  EXPECT_EQ(p.config.data_dir, "/var/lib/ringkeeper");
  EXPECT_EQ(p.config.listen, "10.0.0.1:7000");
  EXPECT_EQ(p.config.seeds.size(), 3u);
  EXPECT_EQ(p.config.dc, "east");
  EXPECT_EQ(p.config.replication.canonical(), "topology:east=3,west=2");
  EXPECT_EQ(p.config.gossip_key, "8J9qvU1m0m1i7d6Fv0ZJ3T2O5t5bqkQyQeB4z3mB1kA=");
  EXPECT_EQ(p.flags.log_level, "debug");
}

TEST(SettingsTest, FlagsBeatTheFile) {
  TempDir dir;
  const std::string conf = write(dir, "n.conf",
                                     "data-dir = /from-file\nrack = r9\nseeds = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n"
                                     "reset-generation = false\nnum-tokens = 64\nlisten = 127.0.0.1:7001\n");
  Parsed p = parse({"--config", conf, "--rack", "r1", "--seeds", "127.0.0.1:3", "--reset-generation", "--tokens", "7"});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.config.rack, "r1");
  EXPECT_EQ(p.config.seeds, (std::vector<std::string>{"127.0.0.1:3"}));
  EXPECT_TRUE(p.config.reset_generation);
  EXPECT_EQ(p.config.tokens, (std::vector<Token>{Token(7)})) << "the --tokens flag wins over the file's num-tokens";
  EXPECT_EQ(p.config.data_dir, "/from-file");
  EXPECT_EQ(p.config.listen, "127.0.0.1:7001");
  EXPECT_EQ(p.flags.set_by_config_file, (std::set<std::string>{"data-dir", "num-tokens", "listen"}));

  // The other way round: the --num-tokens flag wins over the file's tokens.
  const std::string tokens_conf = write(dir, "t.conf", "data-dir = /d\ntokens = 1,2\n");
  Parsed q = parse({"--config", tokens_conf, "--num-tokens", "8"});
  ASSERT_TRUE(q.ok) << q.error;
  EXPECT_TRUE(q.config.tokens.empty());
  EXPECT_EQ(q.config.num_tokens, 8u);
}

TEST(SettingsTest, FlagSettingsInTheFile) {
  TempDir dir;
  for (const char* text : {"reset-generation = true\n", "reset_generation = on\n", "reset-generation\n"}) {
    Parsed p = parse({"--data-dir", "/d", "--config", write(dir, "n.conf", text)});
    ASSERT_TRUE(p.ok) << text << p.error;
    EXPECT_TRUE(p.config.reset_generation) << text;
  }
}

TEST(SettingsTest, UnknownNamesAreRefusedNamingThem) {
  TempDir dir;
  expect_refused(dir, "colour = blue\n", "unknown setting 'colour'");
  expect_refused(dir, "[node]\nlisten = 127.0.0.1:1\n", "unknown section [node]");
  expect_refused(dir, "config = other.conf\n", "unknown setting 'config'");
  expect_refused(dir, "help = true\n", "unknown setting 'help'");
  expect_refused(dir, "just-a-word\n", "unknown setting 'just-a-word'");
}

TEST(SettingsTest, BadValuesNameTheSettingAndTheFile) {
  TempDir dir;
  const std::string conf = write(dir, "n.conf", "data-dir = /d\nlisten = nowhere\n");
  Parsed p = parse({"--config", conf});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.error, "listen (in " + conf + "): expected HOST:PORT ([v6]:PORT for IPv6), got 'nowhere'");

  Parsed flag = parse({"--data-dir", "/d", "--listen", "nowhere"});
  EXPECT_EQ(flag.error, "--listen: expected HOST:PORT ([v6]:PORT for IPv6), got 'nowhere'");

  // The flag wins, so a bad value in the file is never used.
  EXPECT_TRUE(parse({"--config", conf, "--listen", "127.0.0.1:1"}).ok);

  expect_refused(dir, "seeds = [\"127.0.0.1:1\", \"nohost\"]\n", "seeds (in ");
  expect_refused(dir, "tokens = 1,x\n", "tokens (in ");
  expect_refused(dir, "num-tokens = 0\n", "num-tokens (in ");
  expect_refused(dir, "num-tokens = 4097\n", "num-tokens (in ");
  std::string many = "tokens = 1";
  for (int t = 2; t <= 4097; ++t) many += "," + std::to_string(t);
  expect_refused(dir, many + "\n", "tokens (in ");
  std::string at_cap = "1";
  for (int t = 2; t <= 4096; ++t) at_cap += "," + std::to_string(t);
  EXPECT_EQ(parse({"--data-dir", "/d", "--tokens", at_cap}).config.tokens.size(), 4096u);
  expect_refused(dir, "rf = many\n", "rf (in ");
  expect_refused(dir, "log-level = loud\n", "log-level (in ");
  expect_refused(dir, "gossip-key-file = /nonexistent/key\n", "gossip-key-file (in ");
  expect_refused(dir, "num-tokens = 4\ntokens = 1\n", "give num-tokens (in ");
  expect_refused(dir, "cluster = two words\n", "cluster takes one value, got 2");
  expect_refused(dir, "cluster = a\nrack = r\ncluster = b\n", "cluster is set twice");
  expect_refused(dir, "reset-generation = maybe\n", "reset-generation: expected true or false, got 'maybe'");
}

TEST(SettingsTest, SecurityFlags) {
  TempDir dir;
  const std::string key = write(dir, "k", "8J9qvU1m0m1i7d6Fv0ZJ3T2O5t5bqkQyQeB4z3mB1kA=\n");
  const std::string token = write(dir, "t", "tok\n");
  const std::string pem = write(dir, "pem", "not checked here: Node::open loads it\n");
  Parsed p = parse({"--data-dir", "/d", "--gossip-key-file", key, "--gossip-accept-plaintext", "--admin-token-file", token,
                    "--admin-token-reads", "--admin-tls-cert", pem, "--admin-tls-key", pem});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.config.gossip_key, "8J9qvU1m0m1i7d6Fv0ZJ3T2O5t5bqkQyQeB4z3mB1kA=");
  EXPECT_TRUE(p.config.gossip_accept_plaintext);
  EXPECT_TRUE(p.config.admin_token_reads);
  EXPECT_EQ(p.config.admin_tls_cert, pem);
  // And in the file, names without dashes.
  const std::string conf = write(dir, "s.conf", "data-dir = /d\ngossip-key-file = " + key +
                                                    "\ngossip-accept-plaintext = true\nadmin-token-file = " + token +
                                                    "\nadmin-token-reads = true\nadmin-tls-cert = " + pem +
                                                    "\nadmin-tls-key = " + pem + "\n");
  Parsed f = parse({"--config", conf});
  ASSERT_TRUE(f.ok) << f.error;
  EXPECT_EQ(f.config.gossip_key, p.config.gossip_key);
  EXPECT_TRUE(f.config.gossip_accept_plaintext && f.config.admin_token_reads);
  EXPECT_EQ(f.config.admin_tls_key, pem);
}

TEST(SettingsTest, BadKeysTheOldSecretAndHalfATlsPairAreRefusedClearly) {
  TempDir dir;
  Parsed old = parse({"--data-dir", "/d", "--secret-file", write(dir, "s", "s3cret\n")});
  EXPECT_FALSE(old.ok);
  EXPECT_NE(old.error.find("--secret-file is no longer supported"), std::string::npos) << old.error;
  EXPECT_NE(old.error.find("--gossip-key-file"), std::string::npos) << old.error;
  expect_refused(dir, "secret-file = /anything\n", "secret-file (in ");
  Parsed short_key = parse({"--data-dir", "/d", "--gossip-key-file", write(dir, "short", "c2hvcnQ=\n")});
  EXPECT_NE(short_key.error.find("--gossip-key-file: "), std::string::npos) << short_key.error;
  EXPECT_NE(short_key.error.find("decodes to 5 bytes; an AES-256 key is 32"), std::string::npos) << short_key.error;
  Parsed not_base64 = parse({"--data-dir", "/d", "--gossip-key-file", write(dir, "junk", "correct horse battery staple\n")});
  EXPECT_NE(not_base64.error.find("not base64"), std::string::npos) << not_base64.error;
  Parsed half = parse({"--data-dir", "/d", "--admin-tls-cert", write(dir, "c", "x")});
  EXPECT_NE(half.error.find("give both"), std::string::npos) << half.error;
  Parsed reads = parse({"--data-dir", "/d", "--admin-token-reads"});
  EXPECT_NE(reads.error.find("needs --admin-token-file"), std::string::npos) << reads.error;
}

TEST(SettingsTest, MissingFileIsAnError) {
  Parsed p = parse({"--data-dir", "/d", "--config", "/nonexistent/ringd.conf"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.error.find("/nonexistent/ringd.conf"), std::string::npos) << p.error;
}

TEST(SettingsTest, ATokenGivenTwiceIsRefusedAsTheFlagOrInTheFile) {
  Parsed flag = parse({"--data-dir", "/d", "--tokens", "100,7,100"});
  EXPECT_FALSE(flag.ok);
  EXPECT_EQ(flag.error, "--tokens: token 100 is given twice");
  TempDir dir;
  expect_refused(dir, "tokens = [5, 6, 5]\n", "tokens (in ");
  expect_refused(dir, "tokens = 5,5\n", "token 5 is given twice");
  EXPECT_TRUE(parse({"--data-dir", "/d", "--tokens", "100,101"}).ok);
}

// `[` alone on its line, items one a line (with comments and a trailing comma), `]` alone: as
// TOML writes a long list. The docs promise lists "may run over several lines".
TEST(SettingsTest, ListsOpenedOnALineOfTheirOwn) {
  TempDir dir;
  const std::string conf = write(dir, "n.conf",
                                 "data-dir = /d\n"
                                 "seeds = [\n"
                                 "  \"127.0.0.1:1\",   # the first seed\n"
                                 "\n"
                                 "  # a comment line inside the list\n"
                                 "  \"127.0.0.1:2\",\n"
                                 "]\n"
                                 "tokens = [\n"
                                 "  1, 2,\n"
                                 "  3\n"
                                 "  ]  # closed\n"
                                 "rack = r2\n");
  Parsed p = parse({"--config", conf});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.config.seeds, (std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2"}));
  EXPECT_EQ(p.config.tokens, (std::vector<Token>{Token(1), Token(2), Token(3)}));
  EXPECT_EQ(p.config.rack, "r2");
  EXPECT_EQ(p.flags.set_by_config_file, (std::set<std::string>{"data-dir", "seeds", "tokens", "rack"}));

  expect_refused(dir, "seeds = [\n\"127.0.0.1:1\",\n", "the list of seeds is not closed with ]");
  // A list item that is no address is still named as the file's.
  expect_refused(dir, "seeds = [\n  \"nohost\",\n]\n", "seeds (in ");
}

}  // namespace
}  // namespace ringkeeper::tools
