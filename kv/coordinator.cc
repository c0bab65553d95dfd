// KvService's coordinator: quorum writes and reads over a key's replicas (docs/kvd.md,
// "Quorums"), with fencing retries and read repair. Each request's fan-out runs on the strand of
// the connection that asked, so its state needs no lock.
#include <algorithm>
#include <utility>  // before Asio (see http_server.h)
#include <limits>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "kv/http_util.h"
#include "kv/service.h"

namespace ringkeeper::kv {

namespace asio = boost::asio;

// One replica's answer: nullopt while outstanding; an error Status when it did not answer.
struct KvService::Reply {
  NodeId node;
  std::optional<Result<HttpResponse>> answer;
  bool ok_status(http::status s) const { return answer && answer->ok() && (*answer)->result() == s; }
  int code() const { return answer && answer->ok() ? (*answer)->result_int() : 0; }
};

// The replies of one fan-out. `enough` decides when the coordinator may answer; the timer wakes
// it (its expiry moved to the past) when enough replies or all of them are in.
struct KvService::FanOut {
  FanOut(const asio::any_io_executor& ex, std::vector<NodeId> nodes, std::chrono::milliseconds deadline) : timer(ex) {
    timer.expires_after(deadline);
    for (NodeId& n : nodes) replies.push_back(Reply{n, std::nullopt});
  }
  size_t count(const std::function<bool(const Reply&)>& pred) const {
    return static_cast<size_t>(std::count_if(replies.begin(), replies.end(), pred));
  }
  // The replicas for which `ok` does not hold, and the newest ring version a fencing one (409)
  // answered with (0: none).
  std::vector<NodeId> missing(const std::function<bool(const Reply&)>& ok, uint64_t* newer_ring) const {
    std::vector<NodeId> out;
    *newer_ring = 0;
    for (const Reply& r : replies) {
      if (ok(r)) continue;
      out.push_back(r.node);
      if (r.code() == 409) {
        *newer_ring = std::max(*newer_ring, parse_u64(std::string((**r.answer)[kRingVersionHeader])).value_or(0));
      }
    }
    return out;
  }
  void record(size_t i, Result<HttpResponse> r) {
    replies[i].answer = std::move(r);
    ++answered;
    if (answered == replies.size() && on_all) on_all();
    if (!woken && (answered == replies.size() || (enough && enough()))) {
      woken = true;
      timer.expires_at(asio::steady_timer::time_point::min());
    }
  }
  asio::steady_timer timer;
  std::vector<Reply> replies;
  size_t answered = 0;
  bool woken = false;
  std::function<bool()> enough;
  std::function<void()> on_all;  // after every reply is in (read repair)
};

HttpRequest KvService::replica_request(http::verb verb, const std::string& target, uint64_t ring_version) const {
  HttpRequest req{verb, target, 11};
  req.set(kRingVersionHeader, std::to_string(ring_version));
  return req;
}

HttpRequest KvService::write_request(const std::string& key, const Record& rec, uint64_t ring_version) const {
  HttpRequest req = replica_request(http::verb::put, "/internal/kv/" + percent_encode(key), ring_version);
  req.set(kTimestampHeader, std::to_string(rec.stamp));
  if (rec.tombstone) req.set(kTombstoneHeader, "1");
  req.body() = rec.value;
  req.prepare_payload();
  return req;
}

// Returns once `f` has enough replies, all of them, or its deadline passed.
asio::awaitable<void> KvService::await_replies(const std::shared_ptr<FanOut>& f) {
  if (f->woken || (f->enough && f->enough())) co_return;
  boost::system::error_code ec;
  co_await f->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

std::shared_ptr<KvService::FanOut> KvService::start_fan_out(std::vector<NodeId> targets, const HttpRequest& proto,
                                                            const asio::any_io_executor& ex) {
  auto f = std::make_shared<FanOut>(ex, std::move(targets), options_.replica_timeout + std::chrono::milliseconds(200));
  for (size_t i = 0; i < f->replies.size(); ++i) {
    const NodeId node = f->replies[i].node;
    const PeerLiveness l = node_.liveness(node);
    auto address = kv_address(node);
    if (!address || l == PeerLiveness::kDown || l == PeerLiveness::kSuspect) {
      f->record(i, Status::not_running(address ? "down" : "publishes no kv address"));
      continue;
    }
    asio::co_spawn(
        ex,
        [this, f, i, address = *address, req = proto]() mutable -> asio::awaitable<void> {
          Result<HttpResponse> r = co_await peers_.send(address, std::move(req), options_.replica_timeout);
          f->record(i, std::move(r));
        },
        asio::detached);
  }
  return f;
}

asio::awaitable<bool> KvService::wait_for_ring_version(uint64_t version) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  const auto end = std::chrono::steady_clock::now() + options_.fence_wait;
  while (node_.ring()->version() < version) {
    if (std::chrono::steady_clock::now() >= end) co_return false;
    t.expires_after(std::chrono::milliseconds(20));
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return true;
}

HttpResponse KvService::unavailable(const HttpRequest& req, KvMetrics::Op op, const std::string& why,
                                    const std::vector<NodeId>& missing) {
  metrics_.unavailable[op]++;
  nlohmann::json ids = nlohmann::json::array();
  for (const NodeId& id : missing) ids.push_back(id.to_string());
  HttpResponse res{http::status::service_unavailable, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = nlohmann::json{{"error", why}, {"replicas", ids}}.dump();
  return res;
}

HttpResponse KvService::quorum_out_of_reach(const HttpRequest& req, KvMetrics::Op op, size_t replicas,
                                            uint32_t quorum, uint32_t rf) {
  metrics_.unavailable[op]++;
  const bool read = op == KvMetrics::kGet;
  const std::string n = std::to_string(replicas);
  HttpResponse res{http::status::service_unavailable, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = nlohmann::json{
      {"error", "only " + n + (replicas == 1 ? " replica" : " replicas") + " of this key for a " +
                    (read ? "read" : "write") + " quorum of " + std::to_string(quorum) + " (fewer nodes own tokens " +
                    "than the replication factor " + std::to_string(rf) + "): " + (read ? "nothing was read" :
                    "nothing was written") + "; add nodes, or ask for ?" + (read ? "r=" : "w=") + n + " or less"},
      {"replicas", nlohmann::json::array()},
      {"replica_count", replicas},
      {"quorum", quorum}}.dump();
  return res;
}

asio::awaitable<HttpResponse> KvService::coordinate_write(const HttpRequest& req, const std::string& key, Record rec,
                                                          uint32_t w) {
  const auto ex = co_await asio::this_coro::executor;
  const KvMetrics::Op op = rec.tombstone ? KvMetrics::kDelete : KvMetrics::kPut;
  auto acked = [](const Reply& r) { return r.ok_status(http::status::no_content); };
  for (int attempt = 0;; ++attempt) {
    const auto routing_started = std::chrono::steady_clock::now();
    auto ring = node_.ring();
    const Token token = ring->token_of(key);
    std::vector<NodeId> targets = ring->natural_replicas(token).to_vector();
    const size_t natural = targets.size();
    for (const NodeId& p : ring->pending_replicas(token)) targets.push_back(p);
    metrics_.add_routing_time(std::chrono::steady_clock::now() - routing_started);
    if (natural < w) co_return quorum_out_of_reach(req, op, natural, w, replication_factor(*ring));
    // Pending owners must acknowledge too (Cassandra's rule: W plus one per pending target), so
    // that whichever owners read after the change, W of them hold the write.
    const size_t needed = w + (targets.size() - natural);
    auto f = start_fan_out(targets, write_request(key, rec, ring->version()), ex);
    f->enough = [fp = f.get(), acked, needed] { return fp->count(acked) >= needed; };
    // Once every reply is in (each request has a deadline): natural replicas that did not take
    // the write get it later from a hint.
    f->on_all = [this, fp = f.get(), natural, key, rec, ex, acked] {
      std::vector<NodeId> hinted;
      for (size_t i = 0; i < natural; ++i) {
        if (!acked(fp->replies[i])) hinted.push_back(fp->replies[i].node);
      }
      if (!hinted.empty()) asio::co_spawn(ex, store_hints(std::move(hinted), key, rec), asio::detached);
      fp->on_all = nullptr;
    };
    if (f->answered == f->replies.size()) f->on_all();
    co_await await_replies(f);
    if (f->count(acked) >= needed) {
      HttpResponse res{http::status::no_content, req.version()};
      res.set(kTimestampHeader, std::to_string(rec.stamp));
      co_return res;
    }
    uint64_t newer = 0;
    std::vector<NodeId> missing = f->missing(acked, &newer);
    if (newer > 0 && attempt == 0) {
      metrics_.fenced_retries++;
      if (co_await wait_for_ring_version(newer)) continue;
    }
    co_return unavailable(req, op,
                          "the write reached " + std::to_string(f->count(acked)) + " of the " + std::to_string(needed) +
                              " replicas it needs (not rolled back where it landed)",
                          missing);
  }
}

// Hands each hint to the first reachable fallback of the key's preference list (Dynamo's
// sloppy quorum), or keeps it here when there is none.
asio::awaitable<void> KvService::store_hints(std::vector<NodeId> replicas, std::string key, Record rec) {
  std::optional<NodeId> fallback;
  for (const PreferenceEntry& e : node_.preference_list(key)) {
    if (!e.natural) {
      fallback = e.node;
      break;
    }
  }
  for (const NodeId& replica : replicas) {
    bool held = false;
    if (fallback && *fallback != node_.id()) {
      if (auto address = kv_address(*fallback)) {
        HttpRequest req = write_request(key, rec, node_.ring()->version());
        req.set(kHintForHeader, replica.to_string());
        auto r = co_await peers_.send(*address, std::move(req), options_.replica_timeout);
        held = r.ok() && r->result() == http::status::no_content;
      }
    }
    if (held) continue;
    auto kept = hints_.add(replica, key, rec);
    if (kept.ok() && *kept) {
      metrics_.hints_stored++;
    } else {
      metrics_.hints_refused++;
    }
    metrics_.hints_pending = static_cast<int64_t>(hints_.count());
  }
}

asio::awaitable<HttpResponse> KvService::coordinate_read(const HttpRequest& req, const std::string& key, uint32_t r) {
  const auto ex = co_await asio::this_coro::executor;
  auto answered = [](const Reply& x) {
    return x.ok_status(http::status::ok) || x.ok_status(http::status::not_found);
  };
  for (int attempt = 0;; ++attempt) {
    const auto routing_started = std::chrono::steady_clock::now();
    auto ring = node_.ring();
    std::vector<NodeId> targets = ring->natural_replicas(ring->token_of(key)).to_vector();
    metrics_.add_routing_time(std::chrono::steady_clock::now() - routing_started);
    if (targets.size() < r) {
      co_return quorum_out_of_reach(req, KvMetrics::kGet, targets.size(), r, replication_factor(*ring));
    }
    auto f = start_fan_out(targets, replica_request(http::verb::get, "/internal/kv/" + percent_encode(key), ring->version()), ex);
    // A replica answers: 200 with a record, or 404 with none; "not ready" and errors do not count.
    f->enough = [fp = f.get(), answered, r] { return fp->count(answered) >= r; };
    co_await await_replies(f);
    if (f->count(answered) >= r) {
      std::optional<Record> winner;
      for (const Reply& x : f->replies) {
        auto rec = record_of(x);
        if (rec && (!winner || supersedes(*rec, *winner))) winner = std::move(rec);
      }
      if (winner) {
        (void)clock_.observe(winner->stamp);
        read_repair(f, key, *winner);
      }
      if (!winner || winner->tombstone) {
        HttpResponse res = json_error(req, http::status::not_found, "no such key");
        if (winner) res.set(kTimestampHeader, std::to_string(winner->stamp));
        co_return res;
      }
      HttpResponse res{http::status::ok, req.version()};
      res.set(http::field::content_type, "application/octet-stream");
      res.set(kTimestampHeader, std::to_string(winner->stamp));
      res.body() = winner->value;
      co_return res;
    }
    uint64_t newer = 0;
    std::vector<NodeId> missing = f->missing(answered, &newer);
    if (newer > 0 && attempt == 0) {
      metrics_.fenced_retries++;
      if (co_await wait_for_ring_version(newer)) continue;
    }
    co_return unavailable(req, KvMetrics::kGet,
                          std::to_string(f->count(answered)) + " of the " + std::to_string(r) +
                              " replicas a read needs answered",
                          missing);
  }
}

std::optional<Record> KvService::record_of(const Reply& x) {
  if (!x.ok_status(http::status::ok)) return std::nullopt;
  const HttpResponse& res = **x.answer;
  auto stamp = parse_u64(std::string(res[kTimestampHeader]));
  if (!stamp) return std::nullopt;
  return Record{*stamp, res[kTombstoneHeader] == "1", res.body()};
}

// Once every replica answered (or timed out), sends the winner to those that answered with an
// older record or none. Replicas that did not answer are left to hints and later reads.
void KvService::read_repair(const std::shared_ptr<FanOut>& f, const std::string& key, const Record& winner) {
  f->on_all = [this, f = f.get(), key, winner] {
    for (const Reply& x : f->replies) {
      const bool stale = x.ok_status(http::status::not_found) || (x.ok_status(http::status::ok) && [&] {
                           auto rec = record_of(x);
                           return rec && supersedes(winner, *rec);
                         }());
      if (!stale) continue;
      metrics_.read_repairs++;
      asio::co_spawn(f->timer.get_executor(), push_record(x.node, key, winner), asio::detached);
    }
    f->on_all = nullptr;
  };
  if (f->answered == f->replies.size()) f->on_all();
}

bool KvService::push_record_blocking(const std::string& address, const std::string& key, const Record& rec,
                                     uint64_t ring_version) {
  auto res = peers_.send_blocking(address, write_request(key, rec, ring_version), std::chrono::seconds(10));
  return res.ok() && res->result() == http::status::no_content;
}

asio::awaitable<bool> KvService::push_record(NodeId to, std::string key, Record rec) {
  auto address = kv_address(to);
  if (!address) co_return false;
  auto r = co_await peers_.send(*address, write_request(key, rec, node_.ring()->version()), options_.replica_timeout);
  co_return r.ok() && r->result() == http::status::no_content;
}

}  // namespace ringkeeper::kv
