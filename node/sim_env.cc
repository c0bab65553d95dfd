// SimNetwork (node/sim_env.h): one manual clock, one event queue, in-memory frames.
#include "node/sim_env.h"

#include <algorithm>

#include "node/address.h"

namespace ringkeeper {

namespace {

// The address a listener asked for, with port 0 replaced by a per-Env one; kIoError, as a real
// bind's, when it is not host:port or another listener holds it.
Result<std::string> sim_address(const std::string& listen, const std::string& subnet, uint64_t index, uint16_t port,
                                const std::string& what, const auto& taken) {
  auto hp = parse_host_port(listen);
  if (!hp) return Status::io_error(what + ": not a host:port address: " + listen);
  std::string address = hp->port != 0 ? listen : HostPort{subnet + std::to_string(index), port}.to_string();
  if (taken.count(address)) return Status::io_error(what + ": cannot listen on " + address + ": in use");
  return address;
}

}  // namespace

class SimNetwork::SimEnv final : public Env {
 public:
  SimEnv(SimNetwork& net, uint64_t id) : net_(net), id_(id) { net_.envs_[id_] = this; }
  ~SimEnv() override { net_.envs_.erase(id_); }

  EnvMillis steady_ms() const override { return net_.now_; }
  EnvMillis wall_ms() const override { return net_.wall_start_ms_ + net_.now_; }
  uint64_t random_seed() override {
    // SplitMix64 over the network's seed: every run of a test draws the same ids and seeds.
    uint64_t z = (net_.rng_state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  void log(LogLevel level, std::string_view line) override {
    net_.logs_.push_back({"node-" + std::to_string(id_), level, std::string(line)});
  }
  void post(std::function<void()> f) override { net_.schedule(id_, net_.now_, std::move(f)); }
  bool on_node_thread() const override { return true; }

  void start(std::function<void(std::string_view)> on_crash) override { on_crash_ = std::move(on_crash); }
  void join() override {
    net_.run_until([this] { return stopped_; }, 60'000);
    stopped_ = true;
  }

  TimerId schedule_at(EnvMillis at_ms, std::function<void()> f) override {
    return net_.schedule(id_, std::max(at_ms, net_.now_), std::move(f));
  }
  void cancel(TimerId timer) override {
    if (timer != 0) net_.cancelled_.insert(timer);
  }
  void stop() override { stopped_ = true; }

  std::unique_ptr<Transport> make_transport(TransportConfig config,
                                                    Transport::FrameHandler on_frame) override;
  // TLS is the real listener's business: requests reach the handler as values here.
  std::unique_ptr<AdminListener> make_admin_listener(std::string listen, AdminListener::Handler handler,
                                                     AdminTls tls) override;

  bool stopped() const { return stopped_; }
  // A callback of this Env threw: the loop ends, as the real node thread's would.
  void crash(std::string_view what) {
    stopped_ = true;
    if (on_crash_) on_crash_(what);
  }
  uint64_t id() const { return id_; }

 private:
  SimNetwork& net_;
  const uint64_t id_;
  bool stopped_ = false;
  std::function<void(std::string_view)> on_crash_;
};

class SimNetwork::SimTransport final : public Transport {
 public:
  SimTransport(SimNetwork& net, SimEnv& env, TransportConfig config, FrameHandler on_frame)
      : net_(net), env_(env), config_(std::move(config)), on_frame_(std::move(on_frame)) {}
  ~SimTransport() override { close(); }

  Result<std::string> listen() override {
    Result<std::string> address = sim_address(config_.listen, "10.0.0.", env_.id(), 7000, "gossip", net_.listeners_);
    if (!address.ok()) return address;
    address_ = *address;
    net_.listeners_[address_] = this;
    return address_;
  }
  void send(const std::string& address, std::string frame) override {
    if (closed_) return;
    stats_.bytes_out += frame.size();
    ++stats_.frames_out;
    if (net_.tap_) net_.tap_(address_, address, frame);
    auto it = net_.listeners_.find(address);
    std::weak_ptr<int> alive = alive_;
    if (it == net_.listeners_.end()) {
      // Nothing listens there: the connect is refused, one latency later.
      ++stats_.connect_failures;
      net_.schedule(env_.id(), net_.now_ + net_.latency_ms_, [this, alive, address] {
        if (!alive.expired() && refused_) refused_(address);
      });
      return;
    }
    net_.schedule(it->second->env_.id(), net_.now_ + net_.latency_ms_,
                  [&net = net_, from = address_, address, frame = std::move(frame)] {
                    if (auto to = net.listeners_.find(address); to != net.listeners_.end()) to->second->receive(frame, from);
                  });
  }
  size_t pending() const override { return 0; }  // sent frames are already in the network
  void on_refused(std::function<void(const std::string&)> f) override { refused_ = std::move(f); }
  void close() override {
    if (closed_) return;
    closed_ = true;
    if (auto it = net_.listeners_.find(address_); it != net_.listeners_.end() && it->second == this) {
      net_.listeners_.erase(it);
    }
  }
  const TransportStats& stats() const override { return stats_; }

 private:
  void receive(std::string_view frame, const std::string& from) {
    uint32_t len = 0;
    for (size_t i = 0; i < 4 && i < frame.size(); ++i) len = (len << 8) | static_cast<uint8_t>(frame[i]);
    if (len > config_.max_frame) frame = frame.substr(0, 4);  // as TCP: the oversized body is never read
    stats_.bytes_in += frame.size();
    ++stats_.frames_in;
    if (!on_frame_(frame, from)) ++stats_.closed_bad_frame;
  }

  SimNetwork& net_;
  SimEnv& env_;
  TransportConfig config_;
  FrameHandler on_frame_;
  std::function<void(const std::string&)> refused_;
  TransportStats stats_;
  std::string address_;
  bool closed_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // events hold a weak_ptr
};

class SimNetwork::SimAdmin final : public AdminListener {
 public:
  SimAdmin(SimNetwork& net, SimEnv& env, std::string listen, Handler handler)
      : net_(net), env_(env), listen_(std::move(listen)), handler_(std::move(handler)) {}
  ~SimAdmin() override { close(); }
  Result<std::string> start() override {
    Result<std::string> address = sim_address(listen_, "10.0.1.", env_.id(), 7180, "admin", net_.admins_);
    if (!address.ok()) return address;
    address_ = *address;
    net_.admins_[address_] = this;
    return address_;
  }
  void close() override {
    if (auto it = net_.admins_.find(address_); it != net_.admins_.end() && it->second == this) net_.admins_.erase(it);
  }
  AdminResponse call(const AdminRequest& request) { return handler_(request); }

 private:
  SimNetwork& net_;
  SimEnv& env_;
  std::string listen_;
  Handler handler_;
  std::string address_;
};

std::unique_ptr<Transport> SimNetwork::SimEnv::make_transport(TransportConfig config,
                                                                      Transport::FrameHandler on_frame) {
  return std::make_unique<SimTransport>(net_, *this, std::move(config), std::move(on_frame));
}

std::unique_ptr<AdminListener> SimNetwork::SimEnv::make_admin_listener(std::string listen,
                                                                      AdminListener::Handler handler, AdminTls) {
  return std::make_unique<SimAdmin>(net_, *this, std::move(listen), std::move(handler));
}

SimNetwork::SimNetwork(uint64_t seed, EnvMillis wall_start_ms, EnvMillis latency_ms)
    : wall_start_ms_(wall_start_ms), latency_ms_(latency_ms), rng_state_(seed) {}

SimNetwork::~SimNetwork() = default;

std::unique_ptr<Env> SimNetwork::make_env() { return std::make_unique<SimEnv>(*this, next_env_++); }

uint64_t SimNetwork::schedule(uint64_t env, EnvMillis at, std::function<void()> run) {
  const uint64_t seq = next_seq_++;
  events_.push(Event{at, seq, env, std::move(run)});
  return seq;
}

bool SimNetwork::step(EnvMillis until) {
  while (!events_.empty()) {
    if (events_.top().at > until) return false;
    Event e = events_.top();
    events_.pop();
    if (cancelled_.erase(e.seq)) continue;
    auto env = envs_.find(e.env);
    if (env == envs_.end() || env->second->stopped()) continue;
    now_ = std::max(now_, e.at);
    try {
      e.run();
    } catch (const std::exception& ex) {
      if (auto again = envs_.find(e.env); again != envs_.end()) again->second->crash(ex.what());
    }
    return true;
  }
  return false;
}

void SimNetwork::run_for(EnvMillis ms) {
  const EnvMillis end = now_ + ms;
  while (step(end)) {
  }
  now_ = end;
}

bool SimNetwork::run_until(const std::function<bool()>& done, EnvMillis max_ms) {
  const EnvMillis end = now_ + max_ms;
  while (!done()) {
    if (!step(end)) {
      now_ = end;
      return done();
    }
  }
  return true;
}

AdminResponse SimNetwork::admin(const std::string& address, AdminRequest request) {
  auto it = admins_.find(address);
  if (it == admins_.end()) return {503, "text/plain", "nothing listens on " + address};
  return it->second->call(request);
}

AdminResponse SimNetwork::admin_get(const std::string& address, const std::string& target) {
  return admin(address, AdminRequest{"GET", target, "", "", true});
}

AdminResponse SimNetwork::admin_post(const std::string& address, const std::string& target, const std::string& body) {
  return admin(address, AdminRequest{"POST", target, body, "", true, "application/json", address});
}

bool SimNetwork::logged(std::string_view text) const {
  return std::any_of(logs_.begin(), logs_.end(), [&](const LogLine& l) { return l.text.find(text) != std::string::npos; });
}

}  // namespace ringkeeper
