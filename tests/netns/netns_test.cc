// Multi-host tests: real ringd processes, each in a network namespace of its own on a private
// bridge, partitioned with iptables DROP rules (packets vanish; nothing refuses a connection).
// The test drives the nodes through ringctl --json run from the bridge's own namespace, which no
// partition cuts. Needs root, `ip netns` and iptables; otherwise every test is SKIPPED, saying why.
// Each scenario prints one `netns: ...` line with its figures (docs/benchmarks.md quotes them).
// Run alone: `ctest -L netns --output-on-failure -V` in the build dir, or
// `build/tests/netns_test --gtest_filter='NetnsTest.OneWay*'`. Namespaces are rk<pid>-sw and
// rk<pid>-hK, deleted at the end (and by the next run if this one was killed).
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/cluster/harness.h"
#include "tests/netns/virtual_lan.h"

namespace ringkeeper::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Fixed ports are fine: every host has an address of its own.
constexpr const char* kGossipPort = "7000";
constexpr const char* kAdminPort = "7180";

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// "12.3", or "timeout(60)" when the wait gave up.
std::string figure(bool reached, double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", seconds);
  return reached ? buf : "timeout(60)";
}

// Evaluates `pred` about every `period` (the time it takes counts) until it holds or `deadline`
// passes. A condition wait like wait_until, paced for predicates that run many ringctl calls.
bool poll_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
                std::chrono::milliseconds period = 200ms) {
  const auto end = Clock::now() + deadline;
  for (;;) {
    const auto next = Clock::now() + period;
    if (pred()) return true;
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_until(std::min(next, end));
  }
}

// (viewer, target) pairs of node ids that a node's `status` showed `down`. With `only_after_up`,
// a pair counts only once the viewer had shown the target `up` earlier in the same watch: a
// healthy node knocked down, not the leftover of a partition that is healing.
class DownWatch {
 public:
  explicit DownWatch(bool only_after_up) : only_after_up_(only_after_up) {}

  void observe(const std::string& viewer, const json& status) {
    for (const json& m : status["nodes"]) {
      const std::pair<std::string, std::string> pair{viewer, m.value("id", "")};
      const std::string liveness = m.value("liveness", "");
      if (liveness == "up") seen_up_.insert(pair);
      if (!only_after_up_ || seen_up_.count(pair)) {
        if (liveness == "down") down_.insert(pair);
        if (liveness == "suspect") suspect_.insert(pair);
      }
    }
  }
  // A transition to down that the viewer's log shows (polls miss flaps shorter than a poll).
  void add(const std::string& viewer, const std::string& target) { down_.insert({viewer, target}); }
  const std::set<std::pair<std::string, std::string>>& pairs() const { return down_; }
  // The same, for `suspect` (reported, not asserted: suspicion is how a probe failure starts).
  const std::set<std::pair<std::string, std::string>>& suspect_pairs() const { return suspect_; }
  std::set<std::string> targets() const {
    std::set<std::string> t;
    for (const auto& [viewer, target] : down_) t.insert(target);
    return t;
  }

 private:
  bool only_after_up_;
  std::set<std::pair<std::string, std::string>> seen_up_, down_, suspect_;
};

// Nodes on a VirtualLan: host K runs at most one ringd, listening on HOST_IP:7000 with its
// admin API on HOST_IP:7180. Members are declared so that nodes die before their namespaces go.
struct LanCluster {
  TempDir tmp;
  std::unique_ptr<VirtualLan> lan;
  std::string error;
  std::vector<std::unique_ptr<Ringd>> nodes;  // by host; null until started
  std::vector<std::string> ids;               // by host; empty until it served
  std::map<std::string, int> host_of;         // node id -> host

  explicit LanCluster(int hosts) : lan(VirtualLan::create(hosts, &error)), nodes(hosts), ids(hosts) {}

  std::string gossip(int h) const { return lan->ip(h) + ":" + kGossipPort; }
  std::string admin(int h) const { return lan->ip(h) + ":" + kAdminPort; }
  std::string name(const std::string& id) const {
    auto it = host_of.find(id);
    return it == host_of.end() ? id : "h" + std::to_string(it->second);
  }
  std::string names(const std::set<std::pair<std::string, std::string>>& pairs) const {
    std::string s;
    for (const auto& [v, t] : pairs) s += (s.empty() ? "" : " ") + name(v) + "->" + name(t);
    return s.empty() ? "none" : s;
  }

  void start(int h, int seed) {
    nodes[h] = std::make_unique<Ringd>(tmp.path() / ("h" + std::to_string(h)),
                                       std::vector<std::string>{"--listen", gossip(h), "--admin", admin(h), "--seeds", gossip(seed)},
                                       lan->in_host(h));
  }
  // Waits until the node serves and learns its id; false with the node's log in *why.
  bool serving(int h, std::string* why) {
    if (nodes[h]->wait_serving(30s)) {
      if (auto info = ctl(h, {"info"})) {
        ids[h] = info->value("id", "");
        host_of[ids[h]] = h;
        return true;
      }
    }
    *why = "h" + std::to_string(h) + " does not serve; its log:\n" + nodes[h]->log();
    return false;
  }
  std::vector<int> started() const {
    std::vector<int> r;
    for (size_t h = 0; h < nodes.size(); ++h) {
      if (nodes[h]) r.push_back(static_cast<int>(h));
    }
    return r;
  }
  // ringctl --json from the switch namespace.
  std::optional<json> ctl(int h, const std::vector<std::string>& args, int* rc = nullptr) const {
    return ctl_json(admin(h), args, rc, lan->in_switch());
  }
  std::map<int, json> statuses() const {
    std::map<int, json> out;
    for (int h : started()) {
      if (auto s = ctl(h, {"status"})) out[h] = std::move(*s);
    }
    return out;
  }
  std::optional<json> self_entry(int h) const {
    auto s = ctl(h, {"status"});
    if (!s) return std::nullopt;
    for (const json& m : (*s)["nodes"]) {
      if (m.value("self", false)) return m;
    }
    return std::nullopt;
  }
  void observe(DownWatch& watch) const {
    for (const auto& [h, s] : statuses()) watch.observe(ids[h], s);
  }
  // Every started node: converged, and shows exactly `n` members, all up and NORMAL.
  bool formed(size_t n) const {
    for (int h : started()) {
      auto s = ctl(h, {"status"});
      if (!s || !s->value("converged", false) || (*s)["nodes"].size() != n) return false;
      for (const json& m : (*s)["nodes"]) {
        if (m["liveness"] != "up" || m["status"] != "NORMAL") return false;
      }
    }
    return healthy_everywhere(n);
  }
  // `ringctl health` on every started node: converged (exit 0), `n` live, none down, and one ring
  // digest that is the same on every node.
  bool healthy_everywhere(size_t n) const {
    std::set<std::string> digests;
    for (int h : started()) {
      int rc = -1;
      auto hl = ctl(h, {"health"}, &rc);
      if (!hl || rc != 0 || !hl->value("converged", false) || hl->value("live", 0u) != n || hl->value("down", 0u) != 0 ||
          (*hl)["ring_digests"].size() != 1) {
        return false;
      }
      digests.insert((*hl)["ring_digests"].begin().key());
    }
    return digests.size() == 1;
  }
  // Every viewer shows every target `down`.
  bool sees_down(const std::vector<int>& viewers, const std::vector<int>& targets) const {
    for (int v : viewers) {
      auto s = ctl(v, {"status"});
      if (!s) return false;
      for (int t : targets) {
        bool down = false;
        for (const json& m : (*s)["nodes"]) {
          if (m["id"] == ids[t]) down = m["liveness"] == "down";
        }
        if (!down) return false;
      }
    }
    return true;
  }
  // The ownership invariants once state converged, checked on every node; empty when they hold.
  std::vector<std::string> ownership_problems() const {
    std::vector<std::string> problems;
    std::set<std::string> digests;
    for (int h : started()) {
      const std::string at = "on h" + std::to_string(h) + ": ";
      auto status = ctl(h, {"status"});
      auto ring = ctl(h, {"ring"});
      auto gossip = ctl(h, {"gossipinfo"});
      if (!status || !ring || !gossip) {
        problems.push_back(at + "status, ring or gossipinfo did not answer");
        continue;
      }
      digests.insert(status->value("ring_digest", ""));
      digests.insert(ring->value("ring_digest", ""));
      std::map<std::string, std::multiset<std::string>> owned;  // node id -> tokens in `ring`
      std::set<std::string> seen;
      for (const json& t : (*ring)["tokens"]) {
        const std::string token = t.value("token", "");
        if (!seen.insert(token).second) problems.push_back(at + "token " + token + " appears more than once in ring");
        owned[t.value("node", "")].insert(token);
      }
      std::map<std::string, std::multiset<std::string>> gossiped;  // node id -> its `tokens` value
      for (const json& n : (*gossip)["nodes"]) {
        if (!n["values"].contains("tokens")) continue;
        std::istringstream list(n["values"]["tokens"].value("value", ""));
        for (std::string token; std::getline(list, token, ',');) {
          if (!token.empty()) gossiped[n.value("id", "")].insert(token);
        }
      }
      for (const json& m : (*status)["nodes"]) {
        const std::string id = m.value("id", "");
        const size_t tokens = m.value("tokens", 0u);
        if (tokens != owned[id].size()) {
          problems.push_back(at + name(id) + " has tokens=" + std::to_string(tokens) + " in status but " +
                             std::to_string(owned[id].size()) + " in ring");
        }
        if (m.value("status", "") != "NORMAL") continue;
        if (tokens == 0) problems.push_back(at + name(id) + " is NORMAL with 0 tokens");
        if (m.contains("claimed_tokens")) {
          if (m["claimed_tokens"].get<size_t>() != tokens) {
            problems.push_back(at + name(id) + " is NORMAL owning " + std::to_string(tokens) + " of the " +
                               m["claimed_tokens"].dump() + " tokens it claims");
          }
        } else if (gossiped[id] != owned[id]) {
          problems.push_back(at + name(id) + " is NORMAL owning " + std::to_string(owned[id].size()) + " tokens but gossips " +
                             std::to_string(gossiped[id].size()) + " (not the same set)" + holders(gossiped[id], owned, id));
        }
      }
    }
    if (digests.size() != 1) problems.push_back("ring digests differ across nodes: " + std::to_string(digests.size()));
    return problems;
  }
  // ", of which N owned by hK, ..." for the tokens `id` gossips but does not own.
  std::string holders(const std::multiset<std::string>& tokens,
                      const std::map<std::string, std::multiset<std::string>>& owned, const std::string& id) const {
    std::map<std::string, size_t> by_owner;
    for (const std::string& t : tokens) {
      for (const auto& [owner, theirs] : owned) {
        if (owner != id && theirs.count(t)) ++by_owner[name(owner)];
      }
    }
    std::string s;
    for (const auto& [owner, n] : by_owner) s += (s.empty() ? ", of which owned by " : ", ") + owner + ": " + std::to_string(n);
    return s;
  }
  // Each started node's log size: where "since" starts for down_transitions_since().
  std::vector<size_t> log_marks() const {
    std::vector<size_t> marks(nodes.size(), 0);
    for (int h : started()) marks[h] = nodes[h]->log().size();
    return marks;
  }
  // (viewer id, target id) for every "node ID is down" line (ringd logs each transition into
  // down) written since `marks` (and before `until`, when given).
  std::vector<std::pair<std::string, std::string>> down_transitions_since(
      const std::vector<size_t>& marks, const std::vector<size_t>& until = {}) const {
    static const std::regex line("node ([0-9a-f-]+) is down");
    std::vector<std::pair<std::string, std::string>> out;
    for (int h : started()) {
      const std::string log = nodes[h]->log();
      const size_t from = static_cast<size_t>(h) < marks.size() ? std::min(marks[h], log.size()) : 0;
      const size_t to = static_cast<size_t>(h) < until.size() ? std::min(until[h], log.size()) : log.size();
      const std::string fresh = log.substr(from, to > from ? to - from : 0);
      for (std::sregex_iterator it(fresh.begin(), fresh.end(), line), end; it != end; ++it) {
        out.push_back({ids[h], (*it)[1].str()});
      }
    }
    return out;
  }
  std::string logs() const {
    std::string s;
    for (int h : started()) s += "--- h" + std::to_string(h) + " log (tail) ---\n" + tail(nodes[h]->log());
    return s;
  }
  static std::string tail(const std::string& log) { return log.size() > 3000 ? log.substr(log.size() - 3000) : log; }
};

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += l + "\n";
  return s;
}

class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = VirtualLan::unavailable_reason()) {
      std::fprintf(stderr, "netns_test: SKIPPED, the multi-host tests did not run: %s\n", why->c_str());
      GTEST_SKIP() << "network-namespace tests skipped: " << *why;
    }
  }
  // Starts ringd on hosts [0, n) seeded by h0 and waits until they formed.
  static void form(LanCluster& c, int n) {
    ASSERT_TRUE(c.lan) << c.error;
    for (int h = 0; h < n; ++h) c.start(h, 0);
    std::string why;
    for (int h = 0; h < n; ++h) ASSERT_TRUE(c.serving(h, &why)) << why;
    ASSERT_TRUE(poll_until([&] { return c.formed(static_cast<size_t>(n)); }, 60s)) << "never formed\n" << c.logs();
  }
};

// Five members split 3 | 2; a new node joins on each side. A join's barrier waits for every
// member that is not LEFT or REMOVED, down ones included (DESIGN, "Ownership changes"), so
// neither joiner may turn NORMAL before the heal. Then the heal: no healthy node knocked down,
// one ring everywhere, every token owned once.
TEST_F(NetnsTest, SplitWithAJoinOnEachSideThenHeal) {
  LanCluster c(7);  // h0..h4 members; h5 joins the majority side, h6 the minority side
  form(c, 5);
  if (HasFatalFailure()) return;
  const std::vector<int> majority = {0, 1, 2, 5}, minority = {3, 4, 6};
  const auto before_cut = c.log_marks();
  ASSERT_TRUE(c.lan->cut(majority, minority)) << "iptables failed";
  const auto cut_at = Clock::now();
  ASSERT_TRUE(poll_until([&] { return c.sees_down({0, 1, 2}, {3, 4}) && c.sees_down({3, 4}, {0, 1, 2}); }, 30s))
      << "the sides never saw each other down\n" << c.lan->rules(0) << c.logs();
  const double cut_detected_s = seconds_since(cut_at);
  // The heal's count reads these lines too: make sure ringd still writes them.
  ASSERT_FALSE(c.down_transitions_since(before_cut).empty())
      << "no \"node ID is down\" line in any log although the sides saw each other down: did the log wording change?";

  c.start(5, 0);
  c.start(6, 3);
  const auto joiners_started = Clock::now();
  std::string why;
  ASSERT_TRUE(c.serving(5, &why)) << why;
  ASSERT_TRUE(c.serving(6, &why)) << why;
  // Hold the split 15 s, watching what each joiner says about itself. Ends early only when both
  // are NORMAL: the contract is then broken and there is nothing more to see.
  std::map<int, json> said;   // joiner -> its last self entry
  std::map<int, double> went_normal;  // joiner -> seconds after its start when first seen NORMAL
  poll_until(
      [&] {
        for (int j : {5, 6}) {
          if (auto self = c.self_entry(j)) {
            said[j] = *self;
            if ((*self)["status"] == "NORMAL" && !went_normal.count(j)) went_normal[j] = seconds_since(joiners_started);
          }
        }
        return went_normal.size() == 2;
      },
      15s);
  for (int j : {5, 6}) {
    const json& s = said[j];
    std::printf("netns: split-join joiner h%d (%s side) says status=%s tokens=%s%s\n", j, j == 5 ? "majority" : "minority",
                s.value("status", "?").c_str(), s.contains("tokens") ? s["tokens"].dump().c_str() : "?",
                went_normal.count(j) ? (" (NORMAL " + figure(true, went_normal[j]) + " s after it started)").c_str() : "");
  }

  const auto before_heal = c.log_marks();
  ASSERT_TRUE(c.lan->heal()) << "iptables failed";
  const auto healed_at = Clock::now();
  // Healthy nodes knocked down during the heal: seen down by a poll after having been seen up, or
  // a transition into down in any log (every node is alive and, from now on, reachable).
  DownWatch knocked_down(/*only_after_up=*/true);
  int polls = 0;
  const bool converged = poll_until(
      [&] {
        ++polls;
        c.observe(knocked_down);
        return c.healthy_everywhere(7);
      },
      60s);
  const double heal_s = seconds_since(healed_at);
  const size_t polled_pairs = knocked_down.pairs().size();
  const auto logged = c.down_transitions_since(before_heal);
  for (const auto& [viewer, target] : logged) knocked_down.add(viewer, target);
  std::printf("netns: split-join heal_to_converged_s=%s healthy_marked_down=%zu joiners_normal_during_split=%zu "
              "cut_detected_s=%.1f heal_polls=%d down_transitions_logged=%zu down_pairs_polled=%zu\n",
              figure(converged, heal_s).c_str(), knocked_down.targets().size(), went_normal.size(), cut_detected_s, polls,
              logged.size(), polled_pairs);
  std::printf("netns: split-join healthy nodes knocked down during the heal (viewer->target): %s; suspected: %s\n",
              c.names(knocked_down.pairs()).c_str(), c.names(knocked_down.suspect_pairs()).c_str());
  std::fflush(stdout);

  EXPECT_EQ(went_normal.size(), 0u) << "a joiner turned NORMAL while members were cut off (joiners seen NORMAL: "
                                    << (went_normal.count(5) ? "h5 " : "") << (went_normal.count(6) ? "h6" : "")
                                    << "); DESIGN: the barrier waits for every member not LEFT or REMOVED, down ones included";
  EXPECT_TRUE(knocked_down.pairs().empty()) << "healthy nodes marked down while the partition healed: "
                                             << c.names(knocked_down.pairs());
  ASSERT_TRUE(converged) << "not converged 60 s after the heal\n" << c.logs();
  const auto problems = c.ownership_problems();
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

// h0 stops hearing h4 while h4 still hears h0, for 20 s; then the heal. Every node is healthy
// throughout: whoever marks one down is reported; after the heal nobody may be down and the
// cluster must converge within 60 s with the ownership invariants holding.
TEST_F(NetnsTest, OneWayCutThenHeal) {
  LanCluster c(5);
  form(c, 5);
  if (HasFatalFailure()) return;
  const auto before_cut = c.log_marks();
  ASSERT_TRUE(c.lan->drop(/*from=*/4, /*to=*/0)) << "iptables failed";
  DownWatch during_cut(/*only_after_up=*/false);
  poll_until(  // the 20 s hold: observing only
      [&] {
        c.observe(during_cut);
        return false;
      },
      20s);

  const auto before_heal = c.log_marks();
  const uint64_t dropped = c.lan->dropped_packets(0);
  EXPECT_GT(dropped, 0u) << "the cut dropped nothing: h4 never sent to h0?\n" << c.lan->rules(0);
  ASSERT_TRUE(c.lan->heal()) << "iptables failed";
  const auto healed_at = Clock::now();
  DownWatch during_heal(/*only_after_up=*/false);
  int polls = 0;
  const bool converged = poll_until(
      [&] {
        ++polls;
        c.observe(during_heal);
        return c.healthy_everywhere(5);
      },
      60s);
  const double heal_s = seconds_since(healed_at);
  // Transitions into down in the logs: polls miss flaps shorter than a poll.
  const auto logged_cut = c.down_transitions_since(before_cut, before_heal);
  const auto logged_heal = c.down_transitions_since(before_heal);
  for (const auto& [viewer, target] : logged_cut) during_cut.add(viewer, target);
  for (const auto& [viewer, target] : logged_heal) during_heal.add(viewer, target);
  std::set<std::string> knocked = during_cut.targets();
  for (const std::string& t : during_heal.targets()) knocked.insert(t);
  std::printf("netns: one-way-cut heal_to_converged_s=%s healthy_marked_down=%zu down_pairs_during_cut=%zu "
              "down_pairs_during_heal=%zu down_transitions_logged=%zu packets_dropped=%llu heal_polls=%d\n",
              figure(converged, heal_s).c_str(), knocked.size(), during_cut.pairs().size(), during_heal.pairs().size(),
              logged_cut.size() + logged_heal.size(), static_cast<unsigned long long>(dropped), polls);
  std::printf("netns: one-way-cut marked down during the cut (viewer->target): %s; suspected: %s; "
              "marked down during the heal: %s\n",
              c.names(during_cut.pairs()).c_str(), c.names(during_cut.suspect_pairs()).c_str(),
              c.names(during_heal.pairs()).c_str());
  std::fflush(stdout);

  ASSERT_TRUE(converged) << "not converged, or someone still down, 60 s after the heal\n" << c.logs();
  const auto problems = c.ownership_problems();
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

}  // namespace
}  // namespace ringkeeper::testing
