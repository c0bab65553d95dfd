// Multi-process test harness: real ringd processes on loopback with real data dirs, driven
// through ringctl --json. Ports are picked at run time; waits are conditions with deadlines.
// A command prefix runs ringd or ringctl elsewhere (the network-namespace tests use
// {"ip", "netns", "exec", NS}). Main test thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/wait_until.h"

namespace ringkeeper::testing {

using json = nlohmann::json;
namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed at the end unless the test failed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A free loopback port below the ephemeral range, never the same one twice in a process (for
// nodes whose address must survive a restart).
uint16_t free_port();

struct RunResult {
  int exit_code = -1;
  std::string out;
};

// Words put before a command line, e.g. {"ip", "netns", "exec", "rk12-h0"}; empty: run it here.
using CommandPrefix = std::vector<std::string>;

// Runs `command_line` through the shell (its own redirections apply), capturing its stdout.
RunResult run_shell(const std::string& command_line);
// Runs ringctl with `args` (the binary path is compiled in), capturing stdout.
RunResult ringctl(const std::vector<std::string>& args, const CommandPrefix& prefix = {});
// ringctl --json --host ADMIN ARGS..., parsed; nullopt if it did not exit 0 or 1 with JSON.
std::optional<json> ctl_json(const std::string& admin, const std::vector<std::string>& args, int* rc = nullptr,
                             const CommandPrefix& prefix = {});

class Ringd {
 public:
  // Starts ringd with `args` (--data-dir DIR added), its stderr in DIR.log. With a prefix, the
  // command line is PREFIX... RINGD ARGS... and the prefix must exec ringd in place (as
  // `ip netns exec` does) so that pid() is ringd's; wait_serving() runs ringctl with it too.
  // The process is killed if the test process dies (PR_SET_PDEATHSIG).
  // `executable`: another daemon taking ringd's flags (kvd); empty: ringd.
  Ringd(fs::path dir, std::vector<std::string> args, CommandPrefix prefix = {}, std::string executable = "");
  ~Ringd();
  Ringd(const Ringd&) = delete;
  Ringd& operator=(const Ringd&) = delete;

  // Waits for DIR/addresses.json; false if the process exited or the deadline passed.
  bool wait_serving(std::chrono::milliseconds deadline = std::chrono::seconds(20));
  const std::string& admin() const { return admin_; }
  const std::string& listen() const { return listen_; }
  const fs::path& dir() const { return dir_; }
  pid_t pid() const { return pid_; }
  void kill9();
  // SIGTERM, then waits; returns the exit code (or -1 if it did not exit in time).
  int terminate(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  // Waits for the process to exit on its own; its exit code or -1.
  int wait_exit(std::chrono::milliseconds deadline);
  bool running();
  std::string log() const;

 private:
  fs::path dir_;
  CommandPrefix prefix_;
  pid_t pid_ = -1;
  int status_ = -1;
  std::string admin_, listen_;
};


}  // namespace ringkeeper::testing
