#include "kv/kv_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "kv/anti_entropy.h"
#include "kv/hints.h"
#include "kv/hlc.h"
#include "kv/http_server.h"
#include "kv/http_util.h"
#include "kv/internal_auth.h"
#include "kv/metrics.h"
#include "kv/outside_collector.h"
#include "kv/peer_client.h"
#include "kv/range_set.h"
#include "kv/service.h"
#include "kv/store.h"
#include "kv/streamer.h"

namespace ringkeeper::kv {

namespace asio = boost::asio;

struct KvServer::Impl {
  KvConfig config;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  KvMetrics metrics;
  RangeSet streaming;
  std::unique_ptr<HybridClock> clock;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<PeerClient> peers;
  std::unique_ptr<Node> node;
  std::unique_ptr<KvStore> store;
  std::unique_ptr<HintStore> hints;
  std::unique_ptr<KvService> service;
  std::unique_ptr<Streamer> streamer;
  std::unique_ptr<AntiEntropy> anti_entropy;  // null when turned off
  std::unique_ptr<OutsideCollector> outside;   // null when turned off
  std::unique_ptr<InternalAuth> auth;          // signs what peers_ sends; checks /internal/ callers
  std::string bound;
  std::atomic<bool> stopping{false};

  asio::awaitable<void> replay_hints();
};

KvServer::KvServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KvServer::~KvServer() { stop(); }
Node& KvServer::node() { return *impl_->node; }
const std::string& KvServer::kv_address() const { return impl_->bound; }
const KvMetrics& KvServer::metrics() const { return impl_->metrics; }

Result<std::unique_ptr<KvServer>> KvServer::open(KvConfig config) {
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  m.config = std::move(config);
  m.config.node.streams_data = true;
  m.clock = std::make_unique<HybridClock>(
      [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
      },
      m.config.max_clock_ahead_ms);
  m.peers = std::make_unique<PeerClient>(m.io, [&m](HttpRequest& req) { m.auth->sign(req); });
  m.server = std::make_unique<HttpServer>(
      m.io, m.config.kv_listen, [&m](HttpCall& call) { return m.service->handle(call); }, HttpServer::Limits{},
      [&m](Rejection r) { m.metrics.reject(r); });
  auto bound = m.server->start();
  if (!bound.ok()) return bound.status();
  m.bound = *bound;
  m.config.node.extra_addresses["kv"] = m.bound;
  // kvd's counters ride on the admin port's /metrics too (one scrape per process).
  m.config.node.extra_metrics = [mp = &m] { return mp->metrics.text(); };
  auto node = Node::open(m.config.node);
  if (!node.ok()) return node.status();
  m.node = std::move(node).value();
  const std::filesystem::path dir = std::filesystem::path(m.config.node.data_dir) / "kv";
  auto store = KvStore::open({.path = (dir / "data").string(),
                              .partitioner = &m.node->ring()->partitioner(),
                              .tombstone_grace_ms = m.config.tombstone_grace_ms,
                              .tombstones_wait_for_repair = m.config.anti_entropy_interval_ms > 0});
  if (!store.ok()) return store.status();
  m.store = std::move(store).value();
  auto hints = HintStore::open({.path = (dir / "hints").string(), .max_hints = m.config.max_hints});
  if (!hints.ok()) return hints.status();
  m.hints = std::move(hints).value();
  m.metrics.hints_pending = static_cast<int64_t>(m.hints->count());
  // Unsigned replica requests are taken only in the gossip migration mode (docs/security.md).
  m.auth = std::make_unique<InternalAuth>(*m.node,
                                          InternalAuth::Options{.accept_unsigned = m.config.node.gossip_accept_plaintext});
  m.service = std::make_unique<KvService>(*m.node, *m.store, *m.clock, *m.peers, m.metrics, m.streaming, *m.hints,
                                          *m.auth, KvService::Options{});
  m.streamer = std::make_unique<Streamer>(*m.node, *m.store, *m.peers, *m.service, m.metrics, m.streaming,
                                          m.config.log, std::chrono::milliseconds(m.config.ack_delay_ms));
  m.streamer->subscribe();
  if (m.config.anti_entropy_interval_ms > 0) {
    m.anti_entropy = std::make_unique<AntiEntropy>(
        *m.node, *m.store, *m.peers, *m.service, m.metrics, m.streaming,
        AntiEntropy::Options{std::chrono::milliseconds(m.config.anti_entropy_interval_ms),
                             m.config.anti_entropy_bytes_per_s},
        m.config.log);
  }
  if (m.config.outside_collect_interval_ms > 0) {
    m.outside = std::make_unique<OutsideCollector>(
        *m.node, *m.store, *m.service, m.metrics, m.streaming, *m.streamer,
        OutsideCollector::Options{std::chrono::milliseconds(m.config.outside_collect_interval_ms),
                                  m.config.anti_entropy_bytes_per_s},
        m.config.log);
  }
  return std::unique_ptr<KvServer>(new KvServer(std::move(impl)));
}

// The address peers reach this kvd at: the bound one, or with a wildcard host, the host the
// node advertises for gossip.
static std::string published_address(const std::string& bound, const std::string& gossip) {
  auto b = split_host_port(bound);
  auto g = split_host_port(gossip);
  if (!b || !g || (b->first != "0.0.0.0" && b->first != "::")) return bound;
  const std::string host = g->first.find(':') != std::string::npos ? "[" + g->first + "]" : g->first;
  return host + ":" + std::to_string(b->second);
}

Status KvServer::start() {
  Impl& m = *impl_;
  if (Status s = m.node->start(); !s.ok()) return s;
  m.work.emplace(m.io.get_executor());
  for (int i = 0; i < std::max(1, m.config.io_threads); ++i) m.threads.emplace_back([&m] { m.io.run(); });
  m.streamer->start();
  if (m.anti_entropy) m.anti_entropy->start();
  if (m.outside) m.outside->start();
  asio::co_spawn(m.io, m.replay_hints(), asio::detached);
  return m.node->set_application_value(kKvAddressValue, published_address(m.bound, m.node->listen_address()));
}

void KvServer::stop() {
  Impl& m = *impl_;
  if (m.stopping.exchange(true)) return;
  if (m.anti_entropy) m.anti_entropy->stop();
  if (m.outside) m.outside->stop();
  if (m.streamer) m.streamer->stop();
  if (m.server) m.server->close();
  m.work.reset();
  m.io.stop();
  for (std::thread& t : m.threads) t.join();
  m.threads.clear();
  if (m.node) m.node->stop();
}

// Every second: hands each up replica the hints kept for it, oldest first, until none are left
// or one is not taken; drops the hints of nodes that left or were removed (they will never take
// them, and their ranges were streamed to new owners).
asio::awaitable<void> KvServer::Impl::replay_hints() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!stopping) {
    timer.expires_after(std::chrono::seconds(1));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    const std::vector<Member> members = node->members();
    for (const NodeId& target : hints->targets()) {
      auto m = std::find_if(members.begin(), members.end(), [&](const Member& x) { return x.id == target; });
      const bool gone = m == members.end() || m->status == NodeStatus::kLeft;
      if (!gone && node->liveness(target) != PeerLiveness::kUp) continue;
      for (bool more = true; more && !stopping;) {
        auto batch = hints->peek(target, 100);
        if (!batch.ok() || batch->empty()) break;
        for (HintStore::Hint& h : *batch) {
          if (!gone && !co_await service->push_record(target, h.key, h.record)) {
            more = false;
            break;
          }
          if (!hints->remove(h.id).ok()) {
            more = false;
            break;
          }
          (gone ? metrics.hints_dropped : metrics.hints_replayed)++;
        }
      }
      metrics.hints_pending = static_cast<int64_t>(hints->count());
    }
  }
}

}  // namespace ringkeeper::kv
