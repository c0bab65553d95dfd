// startup_bench: process start to the first correct `owners` answer, polled over the admin HTTP
// directly, for a data dir holding a persisted N-node ring — against the same for an empty data
// dir in the same run (the baseline: a process that has nothing to load).
//   startup_bench [--nodes 1000] [--runs 10]      → one JSON line
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/persisted_ring.h"
#include "tools/http_client.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

uint16_t free_port();

struct Sample {
  double ms = -1;
};

// Starts ringd on `dir`, polls owners?key=KEY until `ok(body)`, returns the time since fork.
double time_to_answer(const fs::path& dir, const std::string& key, const std::function<bool(const nlohmann::json&)>& ok) {
  const std::string admin = "127.0.0.1:" + std::to_string(free_port());
  const auto t0 = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stderr);
    std::string bin = RINGD_PATH, d = dir.string();
    execl(bin.c_str(), bin.c_str(), "--data-dir", d.c_str(), "--listen", "127.0.0.1:0", "--admin", admin.c_str(),
          "--log-level", "warn", nullptr);
    _exit(127);
  }
  double ms = -1;
  const std::string target = "/v1/owners?key=" + ringkeeper::tools::url_encode(key);
  while (Clock::now() - t0 < std::chrono::seconds(30)) {
    std::string err;
    auto r = ringkeeper::tools::http_request(admin, "GET", target, "", &err, 2000);
    if (r && r->status == 200) {
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      if (!j.is_discarded() && ok(j)) {
        ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        break;
      }
    }
    usleep(200);
  }
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  return ms;
}

uint16_t free_port() {
  std::random_device rd;
  for (;;) {
    const uint16_t p = static_cast<uint16_t>(20000 + rd() % 30000);
    std::string err;
    if (!ringkeeper::tools::http_request("127.0.0.1:" + std::to_string(p), "GET", "/", "", &err, 200)) {
      if (err.find("refused") != std::string::npos) return p;
    }
  }
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  size_t nodes = 1000;
  int runs = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--nodes")) nodes = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::stoi(argv[i + 1]);
  }
  std::random_device rd;
  const fs::path tmp = fs::temp_directory_path() / ("ringkeeper-startup-" + std::to_string(rd()));
  fs::create_directories(tmp);
  auto ring = ringkeeper::sim::write_persisted_ring((tmp / "persisted").string(), nodes, 16, 7);
  if (!ring.error.empty()) {
    std::fprintf(stderr, "startup_bench: %s\n", ring.error.c_str());
    return 1;
  }
  const auto& expect = ring.keys[0];
  std::vector<std::string> want;
  for (const auto& id : expect.replicas) want.push_back(id.to_string());
  std::vector<double> persisted, empty;
  for (int r = 0; r < runs; ++r) {
    persisted.push_back(time_to_answer(tmp / "persisted", expect.key, [&](const nlohmann::json& j) {
      return j["replicas"].get<std::vector<std::string>>() == want;
    }));
    empty.push_back(time_to_answer(tmp / ("empty" + std::to_string(r)), expect.key,
                                   [](const nlohmann::json& j) { return j.contains("replicas"); }));
    std::fprintf(stderr, "run %d/%d: persisted %.1f ms, empty %.1f ms\n", r + 1, runs, persisted.back(), empty.back());
  }
  fs::remove_all(tmp);
  const bool failed = std::any_of(persisted.begin(), persisted.end(), [](double v) { return v < 0; });
  std::printf("{\"nodes\": %zu, \"runs\": %d, \"persisted_ms_p50\": %.1f, \"persisted_ms_max\": %.1f, "
              "\"empty_ms_p50\": %.1f, \"ratio_p50\": %.2f, \"all_correct\": %s}\n",
              nodes, runs, percentile(persisted, 0.5), *std::max_element(persisted.begin(), persisted.end()),
              percentile(empty, 0.5), percentile(persisted, 0.5) / percentile(empty, 0.5), failed ? "false" : "true");
  return failed ? 1 : 0;
}
