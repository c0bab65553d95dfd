// SimNetwork: simulated time and an in-memory network for the runtime's own tests. Each Node
// gets an Env from make_env(); its timers, posted callbacks and frame deliveries become events on
// one manual clock, run in time order (ties in the order scheduled) by run_for / run_until on the
// caller's thread, which is then every node's "node thread". Frames are the codec's bytes, as on
// TCP; a frame sent to an address nobody listens on is refused (Transport::on_refused) one
// latency later, as a refused connect is. The admin API is reached by calling the handler a node
// registered for its admin address (admin()). Test support: not installed; one thread only.
//   SimNetwork net;
//   auto node = Node::open(config, std::make_unique<storage::MemoryStore>(), net.make_env());
//   ASSERT_TRUE(node.ok() && (*node)->start().ok());
//   ASSERT_TRUE(net.run_until([&] { return (*node)->ring()->current().size() == 16; }, 5'000));
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "node/env.h"

namespace ringkeeper {

class SimNetwork {
 public:
  struct LogLine {
    std::string node;  // the Env's name ("node-0", ...)
    LogLevel level;
    std::string text;
  };

  // `wall_start_ms`: the wall clock when simulated time is 0; `latency_ms`: every frame's delay.
  explicit SimNetwork(uint64_t seed = 1, EnvMillis wall_start_ms = 1'700'000'000'000, EnvMillis latency_ms = 1);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // A node's Env on this network (the network must outlive it). Transports bound to port 0 get
  // "10.0.0.K:7000", admin listeners "10.0.1.K:7180".
  std::unique_ptr<Env> make_env();

  EnvMillis now() const { return now_; }
  // Runs every event due within the next `ms` milliseconds; the clock ends `ms` later.
  void run_for(EnvMillis ms);
  // Runs events one at a time until `done` holds (checked before each); false if it still does
  // not hold after `max_ms` of simulated time.
  bool run_until(const std::function<bool()>& done, EnvMillis max_ms);

  // Calls the admin handler listening on `address` (a Node's admin_address()).
  AdminResponse admin(const std::string& address, AdminRequest request);
  AdminResponse admin_get(const std::string& address, const std::string& target);
  AdminResponse admin_post(const std::string& address, const std::string& target, const std::string& body);

  // Sees every frame a node sends, as it is sent (before it is delivered or refused).
  using SendTap = std::function<void(const std::string& from, const std::string& to, std::string_view frame)>;
  void on_send(SendTap tap) { tap_ = std::move(tap); }

  // Every line any Env logged, in order.
  const std::vector<LogLine>& logs() const { return logs_; }
  // True if a logged line contains `text`.
  bool logged(std::string_view text) const;

 private:
  class SimEnv;
  class SimTransport;
  class SimAdmin;
  struct Event {
    EnvMillis at;
    uint64_t seq;
    uint64_t env;  // whose callback: skipped once that Env stopped or is gone
    std::function<void()> run;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const { return a.at != b.at ? a.at > b.at : a.seq > b.seq; }
  };

  uint64_t schedule(uint64_t env, EnvMillis at, std::function<void()> run);
  // Runs the earliest event if one is due by `until`; false if none is.
  bool step(EnvMillis until);

  EnvMillis now_ = 0;
  const EnvMillis wall_start_ms_;
  const EnvMillis latency_ms_;
  uint64_t rng_state_;
  uint64_t next_seq_ = 1;
  uint64_t next_env_ = 1;
  std::priority_queue<Event, std::vector<Event>, Later> events_;
  std::unordered_set<uint64_t> cancelled_;         // timers cancelled before they ran, by seq
  std::unordered_map<uint64_t, SimEnv*> envs_;       // live Envs by id (running or not)
  std::map<std::string, SimTransport*> listeners_;   // bound transports by address
  std::map<std::string, SimAdmin*> admins_;          // bound admin listeners by address
  std::vector<LogLine> logs_;
  SendTap tap_;
};

}  // namespace ringkeeper
