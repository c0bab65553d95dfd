// KvService: kvd's routes — the client data API (PUT/GET/DELETE /kv/KEY, coordinated over the
// key's replicas with quorums), the replica routes under /internal/ (member callers only —
// and, with a gossip keyring, signed ones (internal_auth.h) — fenced by ring version), and
// GET /metrics. docs/kvd.md is the contract; this is the handler
// that HttpServer calls for every request.
//
// Thread rules: handle() runs on the server's io threads, many at once, each call on its
// connection's strand; everything it touches is thread-safe (the Node's readers, KvStore,
// HybridClock, PeerClient, the metrics' atomics). The service must outlive the io threads.
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include <utility>  // before Asio: its awaitable.hpp uses std::exchange without including it
#include <boost/asio/awaitable.hpp>

#include "kv/hints.h"
#include "kv/hlc.h"
#include "kv/http_server.h"
#include "kv/internal_auth.h"
#include "kv/metrics.h"
#include "kv/peer_client.h"
#include "kv/range_set.h"
#include "kv/store.h"
#include "ringkeeper/node.h"

namespace ringkeeper::kv {

// Header names of the data API and the replica protocol.
inline constexpr const char* kTimestampHeader = "X-Ringkeeper-Timestamp";
inline constexpr const char* kTombstoneHeader = "X-Ringkeeper-Tombstone";
inline constexpr const char* kRingVersionHeader = "X-Ringkeeper-Ring-Version";
inline constexpr const char* kNotReadyHeader = "X-Ringkeeper-Not-Ready";
inline constexpr const char* kHintForHeader = "X-Ringkeeper-Hint-For";
inline constexpr const char* kNextHeader = "X-Ringkeeper-Next";
// The application value under which every kvd publishes its kv address ("x.kv" in gossip).
inline constexpr const char* kKvAddressValue = "kv";

inline constexpr size_t kMaxKeyBytes = 1024;
inline constexpr size_t kMaxValueBytes = 1 << 20;

// Calls `f` for each (key, record) frame of an /internal/range page body; false on a malformed
// page or when `f` returns false.
bool for_each_range_frame(std::string_view body, const std::function<bool(std::string_view key, Record&& rec)>& f);

// The replication factor quorums are taken of: RF (simple), or the sum over DCs (topology).
uint32_t replication_factor(const RingSnapshot& ring);

class KvService {
 public:
  struct Options {
    std::chrono::milliseconds replica_timeout{2000};  // one replica request
    std::chrono::milliseconds fence_wait{2000};       // catching up with a replica's newer ring
  };
  KvService(Node& node, KvStore& store, HybridClock& clock, PeerClient& peers, KvMetrics& metrics,
            RangeSet& streaming, HintStore& hints, const InternalAuth& auth, Options options);

  boost::asio::awaitable<HttpResponse> handle(HttpCall& call);

  // The kv address a member publishes; nullopt when it publishes none (not a kvd, or not yet).
  std::optional<std::string> kv_address(const NodeId& id) const;
  // Copies `rec` for `key` to the replica `to` (hint replay, read repair); true once it acknowledged.
  boost::asio::awaitable<bool> push_record(NodeId to, std::string key, Record rec);
  // The same from a thread outside the io pool (anti-entropy, the outside collector), to a kv
  // address, fenced at `ring_version`: blocks until it acknowledged (true) or failed.
  bool push_record_blocking(const std::string& address, const std::string& key, const Record& rec,
                            uint64_t ring_version);
  // The replica write (PUT /internal/kv/KEY) of `rec`, fenced at `ring_version`.
  HttpRequest write_request(const std::string& key, const Record& rec, uint64_t ring_version) const;

 private:
  struct Reply;
  struct FanOut;
  boost::asio::awaitable<HttpResponse> client(HttpCall& call, std::string_view path, std::string_view query);
  boost::asio::awaitable<HttpResponse> coordinate_write(const HttpRequest& req, const std::string& key, Record rec,
                                                        uint32_t w);
  boost::asio::awaitable<HttpResponse> coordinate_read(const HttpRequest& req, const std::string& key, uint32_t r);
  boost::asio::awaitable<bool> wait_for_ring_version(uint64_t version);
  HttpRequest replica_request(http::verb verb, const std::string& target, uint64_t ring_version) const;
  boost::asio::awaitable<void> await_replies(const std::shared_ptr<FanOut>& f);
  std::shared_ptr<FanOut> start_fan_out(std::vector<NodeId> targets, const HttpRequest& proto,
                                        const boost::asio::any_io_executor& ex);
  void read_repair(const std::shared_ptr<FanOut>& f, const std::string& key, const Record& winner);
  boost::asio::awaitable<void> store_hints(std::vector<NodeId> replicas, std::string key, Record rec);
  static std::optional<Record> record_of(const Reply& x);
  HttpResponse unavailable(const HttpRequest& req, KvMetrics::Op op, const std::string& why,
                           const std::vector<NodeId>& missing);
  // The 503 for a quorum above the key's replica count (fewer nodes own tokens than the
  // replication factor): no replica is asked, and the body says how many there are.
  HttpResponse quorum_out_of_reach(const HttpRequest& req, KvMetrics::Op op, size_t replicas, uint32_t quorum,
                                   uint32_t rf);

  HttpResponse internal(HttpCall& call, std::string_view path, std::string_view query);
  HttpResponse replica_put(const HttpRequest& req, const std::string& key);
  HttpResponse replica_get(const HttpRequest& req, const std::string& key);
  HttpResponse replica_range(const HttpRequest& req, std::string_view query);
  HttpResponse replica_tree(const HttpRequest& req, std::string_view query);
  HttpResponse placement(const HttpRequest& req);
  bool is_member_address(const boost::asio::ip::address& ip);
  // Nullopt when the caller may use /internal/ (a member's address, signed when required).
  std::optional<HttpResponse> refuse_caller(const HttpCall& call);
  HttpResponse reject(const HttpRequest& req, http::status status, Rejection why, const std::string& message);

  Node& node_;
  KvStore& store_;
  HybridClock& clock_;
  PeerClient& peers_;
  KvMetrics& metrics_;
  RangeSet& streaming_;
  HintStore& hints_;
  const InternalAuth& auth_;
  const Options options_;
  // Writes from coordinators hold it shared from their fencing check until they are stored; a
  // range read takes it exclusively once, so its scan sees every write that passed the check
  // at an older ring version (docs/kvd.md, "Streaming").
  std::shared_mutex fence_mu_;
  // Members' kv IPs as last read from gossip, refreshed when a caller is not among them.
  std::mutex members_mu_;
  std::vector<std::string> member_ips_;                   // guarded by members_mu_
  std::chrono::steady_clock::time_point members_read_{};  // guarded by members_mu_
};

}  // namespace ringkeeper::kv
