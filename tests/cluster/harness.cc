#include "tests/cluster/harness.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace ringkeeper::testing {

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("ringkeeper-cluster-" + std::to_string(rd()) + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info && info->result() && info->result()->Failed()) {
    std::fprintf(stderr, "keeping %s for inspection (node logs are *.log)\n", path_.c_str());
    return;
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
}

uint16_t free_port() {
  // Below the kernel's ephemeral range, so no outgoing connection takes the port between this
  // pick and the node's bind; never the same port twice in one process (a port handed out and
  // released would otherwise come back from the next pick while its node still holds it).
  static std::set<uint16_t> handed_out;
  static std::mt19937 rng(static_cast<uint32_t>(::getpid()) * 2654435761u ^ static_cast<uint32_t>(time(nullptr)));
  int low = 32768;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    if (std::fscanf(f, "%d", &low) != 1) low = 32768;
    std::fclose(f);
  }
  low = std::max(low, 11000);
  for (;;) {
    const auto port = static_cast<uint16_t>(10000 + rng() % static_cast<uint32_t>(low - 10000));
    if (handed_out.count(port)) continue;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (!ok) continue;
    handed_out.insert(port);
    return port;
  }
}

RunResult ringctl(const std::vector<std::string>& args, const CommandPrefix& prefix) {
  std::string cmd;
  for (const std::string& p : prefix) cmd += "'" + p + "' ";
  cmd += RINGCTL_PATH;
  for (const std::string& a : args) cmd += " '" + a + "'";
  return run_shell(cmd + " 2>/dev/null");
}

RunResult run_shell(const std::string& cmd) {
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::optional<json> ctl_json(const std::string& admin, const std::vector<std::string>& args, int* rc,
                             const CommandPrefix& prefix) {
  std::vector<std::string> full = {"--json", "--host", admin};
  full.insert(full.end(), args.begin(), args.end());
  RunResult r = ringctl(full, prefix);
  if (rc) *rc = r.exit_code;
  if (r.exit_code != 0 && r.exit_code != 1) return std::nullopt;
  json j = json::parse(r.out, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

Ringd::Ringd(fs::path dir, std::vector<std::string> args, CommandPrefix prefix, std::string executable)
    : dir_(std::move(dir)), prefix_(std::move(prefix)) {
  std::vector<std::string> words = prefix_;
  words.push_back(executable.empty() ? std::string(RINGD_PATH) : executable);
  words.push_back("--data-dir");
  words.push_back(dir_.string());
  words.insert(words.end(), args.begin(), args.end());
  const std::string log = dir_.string() + ".log";
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // A test that dies (a crash, a ctest timeout) takes its nodes with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 2);
    const int devnull = ::open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
}

Ringd::~Ringd() {
  if (running()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
}

bool Ringd::running() {
  if (pid_ <= 0 || status_ != -1) return false;
  int st = 0;
  if (waitpid(pid_, &st, WNOHANG) == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

bool Ringd::wait_serving(std::chrono::milliseconds deadline) {
  const fs::path file = dir_ / "addresses.json";
  // A restart finds the previous run's file: wait for one written after this process started.
  bool ok = wait_until(
      [&] {
        if (!running()) return true;
        std::ifstream f(file);
        if (!f) return false;
        json j = json::parse(f, nullptr, false);
        if (j.is_discarded()) return false;
        std::string admin = j.value("admin", "");
        int rc = -1;
        if (admin.empty() || !ctl_json(admin, {"info"}, &rc, prefix_)) return false;
        auto info = ctl_json(admin, {"info"}, nullptr, prefix_);
        if (!info || info->value("data_dir", "") != dir_.string()) return false;
        admin_ = admin;
        listen_ = j.value("listen", "");
        return true;
      },
      deadline);
  return ok && running();
}

void Ringd::kill9() {
  kill(pid_, SIGKILL);
  wait_exit(std::chrono::seconds(10));
}

int Ringd::wait_exit(std::chrono::milliseconds deadline) {
  wait_until([&] { return !running(); }, deadline);
  if (status_ == -1) return -1;
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

int Ringd::terminate(std::chrono::milliseconds deadline) {
  kill(pid_, SIGTERM);
  return wait_exit(deadline);
}

std::string Ringd::log() const {
  std::ifstream f(dir_.string() + ".log");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace ringkeeper::testing
