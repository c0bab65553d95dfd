#include "tests/netns/virtual_lan.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <regex>
#include <sstream>

namespace ringkeeper::testing {

int run_command(const std::vector<std::string>& argv, std::string* output) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0 && output) output->append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Runs argv; on failure appends the command and its output to *error.
bool run_or_report(const std::vector<std::string>& argv, std::string* error) {
  std::string out;
  const int rc = run_command(argv, &out);
  if (rc == 0) return true;
  if (error) *error += "`" + joined(argv) + "` exited " + std::to_string(rc) + ": " + out;
  return false;
}

std::vector<std::string> namespace_names() {
  std::string out;
  if (run_command({"ip", "netns", "list"}, &out) != 0) return {};
  std::vector<std::string> names;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    const std::string name = line.substr(0, line.find(' '));  // "NAME (id: 3)"
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

}  // namespace

std::optional<std::string> VirtualLan::unavailable_reason() {
  static const std::optional<std::string> reason = []() -> std::optional<std::string> {
    if (geteuid() != 0) return "not running as root (network namespaces and iptables need root)";
    if (run_command({"ip", "netns", "list"}) != 0) return "`ip netns` is not available (apt-get install -y iproute2)";
    if (run_command({"iptables", "--version"}) != 0) return "iptables is not installed (apt-get install -y iptables)";
    // Prove it works here: a namespace can be made and iptables runs inside it.
    const std::string probe = "rk" + std::to_string(getpid()) + "-probe";
    std::string error;
    run_command({"ip", "netns", "del", probe});
    const bool ok = run_or_report({"ip", "netns", "add", probe}, &error) &&
                    run_or_report({"ip", "netns", "exec", probe, "iptables", "-w", "5", "-S"}, &error);
    run_command({"ip", "netns", "del", probe});
    if (!ok) return "cannot use a network namespace with iptables here: " + error;
    return std::nullopt;
  }();
  return reason;
}

void VirtualLan::remove_stale_namespaces(const std::string& own_prefix) {
  static const std::regex ours("rk([0-9]+)-(sw|probe|h[0-9]+)");
  for (const std::string& name : namespace_names()) {
    std::smatch m;
    if (!std::regex_match(name, m, ours)) continue;
    const pid_t owner = static_cast<pid_t>(std::stol(m[1].str()));
    const bool owner_gone = kill(owner, 0) != 0 && errno == ESRCH;
    if (!name.starts_with(own_prefix) && !owner_gone) continue;  // another live test's
    // Left by a run that crashed: what still runs inside was started by that run.
    std::string pids;
    run_command({"ip", "netns", "pids", name}, &pids);
    std::istringstream in(pids);
    for (pid_t pid; in >> pid;) kill(pid, SIGKILL);
    std::fprintf(stderr, "netns: removing namespace %s left by an earlier run\n", name.c_str());
    run_command({"ip", "netns", "del", name});
  }
}

std::unique_ptr<VirtualLan> VirtualLan::create(int hosts, std::string* error) {
  std::unique_ptr<VirtualLan> lan(new VirtualLan());
  lan->prefix_ = "rk" + std::to_string(getpid()) + "-";
  lan->subnet_ = static_cast<int>(getpid() % 250) + 1;
  remove_stale_namespaces(lan->prefix_);
  const std::string net = "10.213." + std::to_string(lan->subnet_) + ".";
  const std::string sw = lan->prefix_ + "sw";
  auto add_namespace = [&](const std::string& name) {
    if (!run_or_report({"ip", "netns", "add", name}, error)) return false;
    lan->made_.push_back(name);
    return run_or_report({"ip", "-n", name, "link", "set", "lo", "up"}, error);
  };
  if (!add_namespace(sw) ||
      !run_or_report({"ip", "-n", sw, "link", "add", "br0", "type", "bridge"}, error) ||
      !run_or_report({"ip", "-n", sw, "addr", "add", net + "254/24", "dev", "br0"}, error) ||
      !run_or_report({"ip", "-n", sw, "link", "set", "br0", "up"}, error)) {
    return nullptr;  // the destructor removes what was made
  }
  lan->switch_ns_ = sw;
  for (int k = 0; k < hosts; ++k) {
    const std::string host = lan->prefix_ + "h" + std::to_string(k);
    const std::string port = "h" + std::to_string(k);  // the veth end in the switch
    // Both veth ends are born inside their namespaces: the caller's namespace never sees them.
    if (!add_namespace(host) ||
        !run_or_report({"ip", "-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", host}, error) ||
        !run_or_report({"ip", "-n", sw, "link", "set", port, "master", "br0"}, error) ||
        !run_or_report({"ip", "-n", sw, "link", "set", port, "up"}, error) ||
        !run_or_report({"ip", "-n", host, "addr", "add", net + std::to_string(k + 1) + "/24", "dev", "eth0"}, error) ||
        !run_or_report({"ip", "-n", host, "link", "set", "eth0", "up"}, error)) {
      return nullptr;
    }
    lan->host_ns_.push_back(host);
  }
  return lan;
}

VirtualLan::~VirtualLan() {
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
    std::string out;
    if (run_command({"ip", "netns", "del", *it}, &out) != 0) {
      std::fprintf(stderr, "netns: could not delete namespace %s: %s\n", it->c_str(), out.c_str());
    }
  }
}

std::string VirtualLan::ip(int host) const {
  return "10.213." + std::to_string(subnet_) + "." + std::to_string(host + 1);
}

CommandPrefix VirtualLan::in_host(int host) const { return {"ip", "netns", "exec", host_ns_.at(host)}; }

CommandPrefix VirtualLan::in_switch() const { return {"ip", "netns", "exec", switch_ns_}; }

bool VirtualLan::in_host_run(int host, std::vector<std::string> argv) {
  std::vector<std::string> full = in_host(host);
  full.insert(full.end(), argv.begin(), argv.end());
  std::string error;
  if (run_or_report(full, &error)) return true;
  std::fprintf(stderr, "netns: %s\n", error.c_str());
  return false;
}

bool VirtualLan::drop(int from, int to) {
  return in_host_run(to, {"iptables", "-w", "5", "-A", "INPUT", "-s", ip(from), "-j", "DROP"});
}

bool VirtualLan::cut(const std::vector<int>& a, const std::vector<int>& b) {
  bool ok = true;
  for (int x : a) {
    for (int y : b) {
      // Each side drops what it would send to, and what arrives from, the other.
      for (auto [here, there] : {std::pair{x, y}, std::pair{y, x}}) {
        ok = in_host_run(here, {"iptables", "-w", "5", "-A", "INPUT", "-s", ip(there), "-j", "DROP"}) && ok;
        ok = in_host_run(here, {"iptables", "-w", "5", "-A", "OUTPUT", "-d", ip(there), "-j", "DROP"}) && ok;
      }
    }
  }
  return ok;
}

bool VirtualLan::heal() {
  bool ok = true;
  for (int k = 0; k < hosts(); ++k) ok = in_host_run(k, {"iptables", "-w", "5", "-F"}) && ok;
  return ok;
}

uint64_t VirtualLan::dropped_packets(int host) const {
  std::vector<std::string> full = in_host(host);
  full.insert(full.end(), {"iptables", "-w", "5", "-L", "-v", "-n", "-x"});
  std::string out;
  if (run_command(full, &out) != 0) return 0;
  // Rule lines: pkts bytes target prot opt in out source destination.
  uint64_t dropped = 0;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string pkts, bytes, target;
    if (words >> pkts >> bytes >> target && target == "DROP" && pkts.find_first_not_of("0123456789") == std::string::npos) {
      dropped += std::stoull(pkts);
    }
  }
  return dropped;
}

std::string VirtualLan::rules(int host) const {
  std::vector<std::string> full = in_host(host);
  full.insert(full.end(), {"iptables", "-w", "5", "-S"});
  std::string out;
  run_command(full, &out);
  return out;
}

}  // namespace ringkeeper::testing
