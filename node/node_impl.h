// Node::Impl: the parts of one Node and its lifecycle (open, start, stop, fail). Not a public
// header. Each part has its own header and contract:
//   Env            (env.h)            the node thread, timers, clocks, RNG seed, logger, transport
//   Persister      (persister.h)      the data dir at open; each change before it is sent
//   ViewPublisher  (view_publisher.h) the immutable view readers copy; subscriptions
//   OwnershipTracker (ownership.h)    the embedder's ownership events of phased changes
//   Driver         (driver.h)         the engine on the node thread: tick, frames, persist → publish → send
//   AdminRoutes    (admin_routes.h)   the admin API over a typed cluster view
//   RuntimeStats   (metrics.h)        counters; the /metrics text
// Threads: open() and start() run on the opener's thread before the node thread exists; from
// start() on, everything but the ViewPublisher's readers, the stats and the failure belongs to
// the node thread. Public Node methods called elsewhere post to it (run_on_node).
#pragma once

#include <atomic>
#include <future>
#include <memory>

#include "node/admin_routes.h"
#include "node/cluster_mac.h"
#include "node/driver.h"
#include "node/env.h"
#include "node/metrics.h"
#include "node/persister.h"
#include "node/runtime_log.h"
#include "node/view_publisher.h"
#include "ringkeeper/node.h"

namespace ringkeeper {

struct Node::Impl {
  Impl(NodeConfig c, std::unique_ptr<Env> e, std::unique_ptr<storage::StateStore> store)
      : config(std::move(c)), env(std::move(e)), log(*env), persister(std::move(store), log) {}

  // Constant after open.
  const NodeConfig config;
  const std::unique_ptr<Env> env;
  RuntimeLog log;
  NodeIdentity identity;  // addresses set by start(), before the node thread runs
  uint64_t rng_seed = 0;
  std::vector<std::pair<NodeId, gossip::NodeState>> persisted_entries;  // read at open, installed at start
  gossip::Keyring keyring;  // read (and started by --gossip-key-file) at open; the driver's from start
  // What the embedder signs with (Node::cluster_mac): from the keyring at open, then replaced by
  // the driver on every keyring change. Any thread.
  std::unique_ptr<ClusterMac> cluster_mac;

  // The parts (see above). The driver and the routes exist from start() on.
  Persister persister;
  std::unique_ptr<ViewPublisher> publisher;
  std::unique_ptr<OwnershipTracker> ownership;  // from open() on, so embedders subscribe before start()
  RuntimeStats stats;
  NodeFailure failure;
  std::unique_ptr<Driver> driver;
  std::unique_ptr<AdminRoutes> routes;
  std::unique_ptr<AdminListener> admin;

  std::atomic<bool> running{false};

  // Opener's thread.
  Status start();
  // The owner's thread; joins the node thread.
  void stop();
  // Node thread: the shutdown after the driver flushed.
  void finish_stop();
  void write_addresses_file();

  // Runs `f` on the node thread and waits for its answer (callers on other threads); gives
  // `if_stopping` when the node does not run it within 5 s (it is stopping).
  template <class F>
  auto run_on_node(F&& f, decltype(f()) if_stopping) -> decltype(f()) {
    if (env->on_node_thread()) return f();
    // The task owns what it uses (captured by value): if the node stops before running it, the
    // caller gives up after a while and the task is dropped with the Env.
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::forward<F>(f));
    auto fut = task->get_future();
    env->post([task] { (*task)(); });
    if (fut.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return if_stopping;
    return fut.get();
  }
};

}  // namespace ringkeeper
