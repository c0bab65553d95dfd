// A private LAN of Linux network namespaces for multi-host tests: a "switch" namespace holding a
// bridge, and hosts each in a namespace of its own with one veth into that bridge and an address
// in a private /24. Nothing is created in the caller's namespace. Partitions are iptables DROP
// rules inside the hosts: packets vanish, nobody refuses a connection. Needs root, `ip` and
// `iptables`. Owned by one test; main test thread only.
//
//   if (auto why = VirtualLan::unavailable_reason()) GTEST_SKIP() << *why;
//   std::string error;
//   auto lan = VirtualLan::create(5, &error);        // rk<pid>-sw, rk<pid>-h0 .. rk<pid>-h4
//   Ringd n(dir, {"--listen", lan->ip(0) + ":7000", ...}, lan->in_host(0));
//   ctl_json(lan->ip(0) + ":7180", {"status"}, nullptr, lan->in_switch());
//   lan->cut({0, 1, 2}, {3, 4});  ...  lan->heal();
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/cluster/harness.h"

namespace ringkeeper::testing {

// Runs argv (no shell), waiting for it; its exit code (-1 if it could not run). Stdout and
// stderr go to *output when given, else are discarded.
int run_command(const std::vector<std::string>& argv, std::string* output = nullptr);

class VirtualLan {
 public:
  // Why network-namespace tests cannot run here (not root, no `ip netns`, no iptables, or a
  // namespace cannot be made), or nullopt when they can. Probed once per process.
  static std::optional<std::string> unavailable_reason();

  // Builds the switch and `hosts` hosts, first removing namespaces left by a crashed earlier run
  // (same name prefix, or a prefix whose process is gone). nullptr and *error on failure, with
  // whatever was made already removed.
  static std::unique_ptr<VirtualLan> create(int hosts, std::string* error);
  ~VirtualLan();  // deletes every namespace it made (processes still inside lose their network)
  VirtualLan(const VirtualLan&) = delete;
  VirtualLan& operator=(const VirtualLan&) = delete;

  int hosts() const { return static_cast<int>(host_ns_.size()); }
  const std::string& host_namespace(int host) const { return host_ns_.at(host); }
  // The host's address, e.g. "10.213.57.3" (hosts are .1, .2, ...; the switch is .254).
  std::string ip(int host) const;
  // Runs a command inside the host's namespace.
  CommandPrefix in_host(int host) const;
  // Runs a command in the switch namespace: it reaches every host and is never cut, so an
  // observer there sees each side of a partition.
  CommandPrefix in_switch() const;

  // Packets from `from` to `to` vanish on arrival at `to`; the other direction still flows.
  [[nodiscard]] bool drop(int from, int to);
  // Packets between every host of `a` and every host of `b` vanish, both ways.
  [[nodiscard]] bool cut(const std::vector<int>& a, const std::vector<int>& b);
  // Removes every rule drop() and cut() added.
  [[nodiscard]] bool heal();
  // Packets the host's DROP rules have dropped so far (proof that a cut took effect).
  uint64_t dropped_packets(int host) const;
  // The iptables rules of a host, for failure messages.
  std::string rules(int host) const;

 private:
  VirtualLan() = default;
  // Runs argv in the host's namespace; false on a non-zero exit (reported on stderr).
  bool in_host_run(int host, std::vector<std::string> argv);
  static void remove_stale_namespaces(const std::string& own_prefix);

  std::string prefix_;   // "rk<pid>-"
  int subnet_ = 0;       // X in 10.213.X.0/24
  std::string switch_ns_;
  std::vector<std::string> host_ns_;
  std::vector<std::string> made_;  // namespaces to delete, in creation order
};

}  // namespace ringkeeper::testing
