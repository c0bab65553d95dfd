// member_poller: polls every member of a Serf cluster (its msgpack RPC, `members`) and of a
// ringkeeper cluster (admin HTTP, /v1/status) the same way — one thread per member, one query
// every --poll-ms — and reports when each side reached a condition on every member. Used by
// tools/bench_vs_serf.sh, so neither side pays for spawning a CLI process per poll.
//   member_poller join   --since NS --n N --serf A,B,.. --ringd A,B,..
//       time until every member lists all N members up (Serf "alive", ringkeeper liveness "up")
//   member_poller detect --since NS --serf A,.. --ringd A,.. --serf-victim NAME --ringd-victim ADDR
//       time until every member lists the victim failed/down; false downs: any other member so
// Prints one JSON object; times in seconds since NS (CLOCK_REALTIME nanoseconds).
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <msgpack.hpp>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <nlohmann/json.hpp>

#include "node/address.h"
#include "tools/http_client.h"

namespace {

using json = nlohmann::json;

double seconds_since(int64_t since_ns) {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  return static_cast<double>(now - since_ns) / 1e9;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t c = s.find(',', pos);
    if (c == std::string::npos) c = s.size();
    if (c > pos) out.push_back(s.substr(pos, c - pos));
    pos = c + 1;
  }
  return out;
}

// Serf's RPC: msgpack maps on a TCP stream; a handshake, then `members` requests.
class SerfRpc {
 public:
  explicit SerfRpc(std::string addr) : addr_(std::move(addr)) {}
  ~SerfRpc() { if (fd_ >= 0) close(fd_); }
  // name → status, or empty on failure.
  std::map<std::string, std::string> members() {
    if (fd_ < 0 && !connect_and_handshake()) return {};
    std::map<std::string, std::string> out;
    if (!send_header("members")) return reset();
    msgpack::object_handle header, body;
    if (!next(header) || !next(body)) return reset();
    const msgpack::object& b = body.get();
    if (b.type != msgpack::type::MAP) return reset();
    for (uint32_t i = 0; i < b.via.map.size; ++i) {
      const auto& kv = b.via.map.ptr[i];
      if (kv.key.as<std::string>() != "Members" || kv.val.type != msgpack::type::ARRAY) continue;
      for (uint32_t m = 0; m < kv.val.via.array.size; ++m) {
        const auto& mem = kv.val.via.array.ptr[m];
        std::string name, status;
        for (uint32_t f = 0; f < mem.via.map.size; ++f) {
          const auto& fkv = mem.via.map.ptr[f];
          const std::string k = fkv.key.as<std::string>();
          if (k == "Name") name = fkv.val.as<std::string>();
          if (k == "Status") status = fkv.val.as<std::string>();
        }
        out[name] = status;
      }
    }
    return out;
  }

 private:
  std::map<std::string, std::string> reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    unpacker_ = msgpack::unpacker();
    return {};
  }
  bool connect_and_handshake() {
    auto hp = ringkeeper::parse_host_port(addr_);
    if (!hp) return false;
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(hp->port);
    inet_pton(AF_INET, hp->host.c_str(), &a.sin_addr);
    timeval tv{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      reset();
      return false;
    }
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(&buf);
    pk.pack_map(2);
    pk.pack(std::string("Command"));
    pk.pack(std::string("handshake"));
    pk.pack(std::string("Seq"));
    pk.pack(seq_++);
    pk.pack_map(1);
    pk.pack(std::string("Version"));
    pk.pack(1);
    if (write(fd_, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) return !reset().empty();
    msgpack::object_handle header;
    if (!next(header)) return !reset().empty();
    return true;
  }
  bool send_header(const char* command) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(&buf);
    pk.pack_map(2);
    pk.pack(std::string("Command"));
    pk.pack(std::string(command));
    pk.pack(std::string("Seq"));
    pk.pack(seq_++);
    return write(fd_, buf.data(), buf.size()) == static_cast<ssize_t>(buf.size());
  }
  bool next(msgpack::object_handle& oh) {
    while (!unpacker_.next(oh)) {
      unpacker_.reserve_buffer(65536);
      const ssize_t n = read(fd_, unpacker_.buffer(), unpacker_.buffer_capacity());
      if (n <= 0) return false;
      unpacker_.buffer_consumed(static_cast<size_t>(n));
    }
    return true;
  }

  std::string addr_;
  int fd_ = -1;
  uint64_t seq_ = 0;
  msgpack::unpacker unpacker_;
};

// ringkeeper: address → liveness, from /v1/status.
std::map<std::string, std::string> ringd_members(const std::string& admin) {
  std::map<std::string, std::string> out;
  std::string err;
  auto r = ringkeeper::tools::http_request(admin, "GET", "/v1/status", "", &err, 2000);
  if (!r || r->status != 200) return out;
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return out;
  for (const json& n : j["nodes"]) out[n.value("address", "")] = n.value("liveness", "");
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: member_poller join|detect --since NS ...\n");
    return 2;
  }
  const std::string mode = argv[1];
  std::map<std::string, std::string> opt;
  for (int i = 2; i + 1 < argc; i += 2) opt[argv[i]] = argv[i + 1];
  const int64_t since = std::stoll(opt["--since"]);
  const size_t n = opt.count("--n") ? std::stoul(opt["--n"]) : 0;
  const int poll_ms = opt.count("--poll-ms") ? std::stoi(opt["--poll-ms"]) : 100;
  const double timeout_s = opt.count("--timeout") ? std::stod(opt["--timeout"]) : 120;
  const auto serf = split(opt["--serf"]);
  const auto ringd = split(opt["--ringd"]);
  const std::string serf_victim = opt["--serf-victim"], ringd_victim = opt["--ringd-victim"];

  std::mutex mu;
  std::vector<double> serf_done(serf.size(), -1), ringd_done(ringd.size(), -1);
  std::set<std::string> serf_false, ringd_false;
  std::vector<std::thread> threads;
  auto poll = [&](bool is_serf, size_t i) {
    SerfRpc rpc(is_serf ? serf[i] : "");
    const auto start = std::chrono::steady_clock::now();
    double done = -1;
    // After the condition holds, keep watching for false downs until every member is done.
    for (;;) {
      auto members = is_serf ? rpc.members() : ringd_members(ringd[i]);
      const double t = seconds_since(since);
      bool cond = false;
      if (mode == "join") {
        size_t up = 0;
        for (auto& [name, st] : members) up += st == (is_serf ? "alive" : "up");
        cond = up == n;
      } else {
        const std::string& victim = is_serf ? serf_victim : ringd_victim;
        auto it = members.find(victim);
        cond = it != members.end() && it->second == (is_serf ? "failed" : "down");
        std::lock_guard lock(mu);
        for (auto& [name, st] : members) {
          if (name == victim) continue;
          if (is_serf ? (st == "failed" || st == "left") : st == "down") (is_serf ? serf_false : ringd_false).insert(name);
        }
      }
      if (cond && done < 0) {
        done = t;
        std::lock_guard lock(mu);
        (is_serf ? serf_done : ringd_done)[i] = t;
      }
      bool all = true;
      {
        std::lock_guard lock(mu);
        for (double d : serf_done) all &= d >= 0;
        for (double d : ringd_done) all &= d >= 0;
      }
      if (all || std::chrono::steady_clock::now() - start > std::chrono::duration<double>(timeout_s)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
    }
  };
  for (size_t i = 0; i < serf.size(); ++i) threads.emplace_back(poll, true, i);
  for (size_t i = 0; i < ringd.size(); ++i) threads.emplace_back(poll, false, i);
  for (auto& t : threads) t.join();
  auto worst = [](const std::vector<double>& v) {
    double w = 0;
    for (double d : v) {
      if (d < 0) return -1.0;
      w = std::max(w, d);
    }
    return w;
  };
  json out{{"mode", mode}, {"serf_s", worst(serf_done)}, {"ringkeeper_s", worst(ringd_done)}};
  if (mode == "detect") {
    out["false_downs_serf"] = serf_false.size();
    out["false_downs_ringkeeper"] = ringd_false.size();
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
