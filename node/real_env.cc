// The production Env (node/env.h): one io_context run by one thread, Asio timers, TCP, Beast,
// the system clocks, std::random_device and spdlog. Behaves as the runtime did before it had an
// Env.
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "node/env.h"
#include "node/tcp_transport.h"

namespace ringkeeper {

namespace {

using SteadyClock = std::chrono::steady_clock;

spdlog::level::level_enum spdlog_level(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kCritical: return spdlog::level::critical;
  }
  return spdlog::level::info;
}

class RealEnv final : public Env {
 public:
  explicit RealEnv(LogSink sink) : sink_(std::move(sink)) {}
  ~RealEnv() override {
    if (thread_.joinable()) {
      io_.stop();
      thread_.join();
    }
  }

  EnvMillis steady_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - epoch_).count();
  }
  EnvMillis wall_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  uint64_t random_seed() override {
    std::lock_guard lock(random_mu_);
    return (uint64_t{random_()} << 32) ^ random_();
  }
  void log(LogLevel level, std::string_view line) override {
    if (sink_) {
      sink_(level, line);
    } else {
      spdlog::log(spdlog_level(level), "{}", line);
    }
  }
  void post(std::function<void()> f) override { boost::asio::post(io_, std::move(f)); }
  bool on_node_thread() const override { return std::this_thread::get_id() == thread_.get_id(); }

  void start(std::function<void(std::string_view)> on_crash) override {
    thread_ = std::thread([this, on_crash = std::move(on_crash)] {
      try {
        io_.run();
      } catch (const std::exception& e) {
        on_crash(e.what());
      }
    });
  }
  void join() override {
    if (thread_.joinable()) thread_.join();
  }

  TimerId schedule_at(EnvMillis at_ms, std::function<void()> f) override {
    const TimerId id = next_timer_++;
    auto timer = std::make_unique<boost::asio::steady_timer>(io_, epoch_ + std::chrono::milliseconds(at_ms));
    timer->async_wait([this, id, f = std::move(f)](const boost::system::error_code& ec) {
      timers_.erase(id);
      if (!ec) f();
    });
    timers_.emplace(id, std::move(timer));
    return id;
  }
  void cancel(TimerId timer) override {
    if (auto it = timers_.find(timer); it != timers_.end()) it->second->cancel();
  }
  void stop() override {
    for (auto& [_, t] : timers_) t->cancel();
    io_.stop();
  }

  std::unique_ptr<Transport> make_transport(TransportConfig config,
                                                    Transport::FrameHandler on_frame) override {
    return std::make_unique<TcpTransport>(io_, std::move(config), std::move(on_frame));
  }
  std::unique_ptr<AdminListener> make_admin_listener(std::string listen, AdminListener::Handler handler,
                                                     AdminTls tls) override {
    return std::make_unique<AdminServer>(io_, std::move(listen), std::move(handler), std::move(tls));
  }

 private:
  LogSink sink_;
  const SteadyClock::time_point epoch_ = SteadyClock::now();
  std::mutex random_mu_;
  std::random_device random_;
  boost::asio::io_context io_;
  std::thread thread_;
  // Node thread: the armed timers, by id (a cancelled one stays until its handler runs).
  std::map<TimerId, std::unique_ptr<boost::asio::steady_timer>> timers_;
  TimerId next_timer_ = 1;
};

}  // namespace

std::unique_ptr<Env> make_real_env(LogSink sink) { return std::make_unique<RealEnv>(std::move(sink)); }

}  // namespace ringkeeper
