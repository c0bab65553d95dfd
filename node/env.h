// Env: everything the node runtime takes from the outside world — the node thread and its timers,
// the clocks, an RNG seed, the logger, the gossip transport and the admin listener — in the
// manner of LevelDB's Env. The runtime reads no clock, seeds no RNG, opens no socket and logs to
// no global except through its Env, so the same runtime runs on real sockets and threads
// (make_real_env: Asio, TcpTransport, the system clocks, spdlog) and on simulated time in one
// process (SimNetwork::make_env in node/sim_env.h, for tests).
//
// One Env per Node, owned by it. Thread: each method says; "node thread" is the thread the Env
// runs the node's callbacks on (the real Env's own thread; a SimNetwork's caller).
//   auto env = ringkeeper::make_real_env(config.log_sink);
//   env->post([] { /* runs on the node thread */ });
//   auto t = env->schedule_at(env->steady_ms() + 100, [] { /* 100 ms later, node thread */ });
//   env->cancel(t);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "node/admin_http.h"
#include "node/transport.h"
#include "ringkeeper/node.h"

namespace ringkeeper {

// Milliseconds, as the protocol engine counts them (gossip::Millis).
using EnvMillis = int64_t;

class Env {
 public:
  using TimerId = uint64_t;
  virtual ~Env() = default;

  // ---- any thread ----
  // A monotonic clock (its zero is arbitrary) and the wall clock (since the Unix epoch).
  virtual EnvMillis steady_ms() const = 0;
  virtual EnvMillis wall_ms() const = 0;
  // 64 fresh random bits to seed the node's RNG or draw its id from.
  virtual uint64_t random_seed() = 0;
  // One runtime log line.
  virtual void log(LogLevel level, std::string_view line) = 0;
  // Runs `f` on the node thread, after what was posted before it.
  virtual void post(std::function<void()> f) = 0;
  // True on the node thread (or where the Env runs callbacks inline, as a SimNetwork does).
  virtual bool on_node_thread() const = 0;

  // ---- the node thread's life (the Node's owner thread) ----
  // Starts running posted callbacks and timers; `on_crash` gets the reason if a callback throws
  // (the loop then ends).
  virtual void start(std::function<void(std::string_view what)> on_crash) = 0;
  // Returns once the loop has ended (see stop); the Env may then be destroyed.
  virtual void join() = 0;

  // ---- node thread only ----
  // Calls `f` on the node thread once steady_ms() reaches `at_ms`, unless cancelled first.
  virtual TimerId schedule_at(EnvMillis at_ms, std::function<void()> f) = 0;
  // A timer that already ran, or an unknown id, is ignored.
  virtual void cancel(TimerId timer) = 0;
  // Ends the loop: no posted callback or timer runs after the current one.
  virtual void stop() = 0;
  // The node's gossip transport.
  virtual std::unique_ptr<Transport> make_transport(TransportConfig config,
                                                            Transport::FrameHandler on_frame) = 0;
  // The admin API's listener on `listen` ("host:port"), HTTPS when `tls` is enabled.
  virtual std::unique_ptr<AdminListener> make_admin_listener(std::string listen, AdminListener::Handler handler,
                                                             AdminTls tls) = 0;
};

// The production Env: a Boost.Asio io_context run by one thread of its own, TcpTransport and the
// Beast admin server on it, std::chrono's steady and system clocks, std::random_device, and log
// lines to `sink` (empty: spdlog's default logger).
std::unique_ptr<Env> make_real_env(LogSink sink = {});

}  // namespace ringkeeper
