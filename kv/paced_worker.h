// PacedWorker: the thread under kvd's background jobs (anti-entropy, the outside collector). It
// runs a pass every `interval` (start to start), and a pass paces its traffic to
// `bytes_per_second` by calling pace(), which sleeps off what was moved and wakes at once when
// the worker stops.
//
// Thread rules: start() and stop() on the owner's thread; pace() and stopping() on the worker's
// (stopping() on any). stop() joins the worker; the destructor stops it.
//   PacedWorker worker(std::chrono::minutes(10), 8 << 20);
//   worker.start([&] { for (auto& r : records) if (!send(r) || !worker.pace(r.size())) return; });
//   worker.stop();
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace ringkeeper::kv {

class PacedWorker {
 public:
  PacedWorker(std::chrono::milliseconds interval, uint64_t bytes_per_second)
      : interval_(interval), bytes_per_second_(bytes_per_second) {}
  ~PacedWorker() { stop(); }
  PacedWorker(const PacedWorker&) = delete;
  PacedWorker& operator=(const PacedWorker&) = delete;

  void start(std::function<void()> pass) {
    worker_ = std::thread([this, pass = std::move(pass)] {
      for (;;) {
        const auto started = std::chrono::steady_clock::now();
        pass();
        std::unique_lock lock(mu_);
        if (wake_.wait_until(lock, started + interval_, [&] { return stopping_; })) return;
      }
    });
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (worker_.joinable()) worker_.join();
  }
  // Sleeps off `bytes` at the configured rate; false when stopping.
  bool pace(uint64_t bytes) {
    const auto pause = std::chrono::microseconds(bytes * 1'000'000 / std::max<uint64_t>(bytes_per_second_, 1));
    std::unique_lock lock(mu_);
    return !wake_.wait_for(lock, pause, [&] { return stopping_; });
  }
  bool stopping() const {
    std::lock_guard lock(mu_);
    return stopping_;
  }

 private:
  const std::chrono::milliseconds interval_;
  const uint64_t bytes_per_second_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread worker_;
};

}  // namespace ringkeeper::kv
