// KvService's routing, input checks, and the replica side (/internal/). The coordinator's side
// (quorum reads and writes) is in coordinator.cc.
#include "kv/service.h"

#include <set>

#include <nlohmann/json.hpp>

#include "kv/http_util.h"
#include "kv/range_hash.h"

namespace ringkeeper::kv {

namespace asio = boost::asio;

bool for_each_range_frame(std::string_view body, const std::function<bool(std::string_view key, Record&& rec)>& f) {
  while (!body.empty()) {
    if (body.size() < 8) return false;
    const uint32_t klen = get_u32_be(body);
    if (body.size() < 8ull + klen) return false;
    const uint32_t rlen = get_u32_be(body.substr(4 + klen));
    if (body.size() < 8ull + klen + rlen) return false;
    auto rec = decode_record(body.substr(8 + klen, rlen));
    if (!rec || !f(body.substr(4, klen), std::move(*rec))) return false;
    body.remove_prefix(8 + klen + rlen);
  }
  return true;
}

uint32_t replication_factor(const RingSnapshot& ring) {
  const ReplicationConfig& c = ring.config();
  if (c.strategy == StrategyKind::kSimple) return c.rf;
  if (!c.dc_rf.empty()) {
    uint32_t n = 0;
    for (const auto& [dc, rf] : c.dc_rf) n += rf;
    return n;
  }
  std::set<std::string> dcs;
  for (const RingNode& n : ring.nodes()) dcs.insert(n.dc);
  return c.rf * static_cast<uint32_t>(std::max<size_t>(dcs.size(), 1));
}

KvService::KvService(Node& node, KvStore& store, HybridClock& clock, PeerClient& peers, KvMetrics& metrics,
                     RangeSet& streaming, HintStore& hints, const InternalAuth& auth, Options options)
    : node_(node), store_(store), clock_(clock), peers_(peers), metrics_(metrics), streaming_(streaming),
      hints_(hints), auth_(auth), options_(options) {}

std::optional<std::string> KvService::kv_address(const NodeId& id) const {
  return node_.application_value(id, kKvAddressValue);
}

HttpResponse KvService::reject(const HttpRequest& req, http::status status, Rejection why, const std::string& message) {
  metrics_.reject(why);
  return json_error(req, status, message);
}

asio::awaitable<HttpResponse> KvService::handle(HttpCall& call) {
  const std::string_view target(call.request.target().data(), call.request.target().size());
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (path.starts_with("/kv/")) co_return co_await client(call, path.substr(4), query);
  if (path.starts_with("/internal/")) co_return internal(call, path.substr(10), query);
  if (path == "/metrics") {
    if (call.request.method() != http::verb::get) {
      co_return reject(call.request, http::status::method_not_allowed, Rejection::kBadMethod, "/metrics takes GET");
    }
    HttpResponse res{http::status::ok, call.request.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = metrics_.text();
    co_return res;
  }
  co_return reject(call.request, http::status::not_found, Rejection::kUnknownRoute,
                   "no route " + std::string(path) + " (see docs/kvd.md)");
}

asio::awaitable<HttpResponse> KvService::client(HttpCall& call, std::string_view segment, std::string_view query) {
  const HttpRequest& req = call.request;
  const http::verb verb = req.method();
  if (verb != http::verb::put && verb != http::verb::get && verb != http::verb::delete_) {
    co_return reject(req, http::status::method_not_allowed, Rejection::kBadMethod, "/kv/KEY takes PUT, GET and DELETE");
  }
  // A node that left owns nothing and no barrier waits for it any more: its view of a later
  // change may lag behind the members', so it coordinates nothing (clients go to a member).
  if (const RingNode* self = node_.ring()->find(node_.id()); self && self->status == NodeStatus::kLeft) {
    co_return reject(req, http::status::service_unavailable, Rejection::kNodeLeft,
                     "this node left the cluster (decommission): send requests to a member");
  }
  if (segment.find('/') != std::string_view::npos) {
    co_return reject(req, http::status::bad_request, Rejection::kBadKey,
                     "a key is one path segment: percent-encode '/' as %2F");
  }
  auto key = percent_decode(segment);
  if (!key || key->empty()) {
    co_return reject(req, http::status::bad_request, Rejection::kBadKey, "an empty key or a malformed %-escape");
  }
  if (key->size() > kMaxKeyBytes) {
    co_return reject(req, http::status::payload_too_large, Rejection::kKeyTooLong,
                     "key of " + std::to_string(key->size()) + " bytes; at most 1024");
  }
  if (req.body().size() > kMaxValueBytes) {
    co_return reject(req, http::status::payload_too_large, Rejection::kValueTooLarge, "value over 1 MiB");
  }
  auto params = parse_query(query);
  if (!params) co_return reject(req, http::status::bad_request, Rejection::kBadQuery, "a malformed query string");
  const uint32_t n = replication_factor(*node_.ring());
  const char* quorum_name = verb == http::verb::get ? "r" : "w";
  uint32_t quorum = n / 2 + 1;
  for (const auto& [name, value] : *params) {
    if (name != "w" && name != "r") {
      co_return reject(req, http::status::bad_request, Rejection::kBadQuery, "unknown parameter '" + name + "'");
    }
    auto v = parse_u64(value);
    if (name != quorum_name || !v || *v < 1 || *v > n) {
      co_return reject(req, http::status::bad_request, Rejection::kBadQuorum,
                       std::string("'") + quorum_name + "' is the only quorum parameter of " +
                           std::string(req.method_string()) + ", an integer in 1.." + std::to_string(n));
    }
    quorum = static_cast<uint32_t>(*v);
  }
  const auto started = std::chrono::steady_clock::now();
  HttpResponse res;
  if (verb == http::verb::get) {
    metrics_.requests[KvMetrics::kGet]++;
    res = co_await coordinate_read(req, *key, quorum);
  } else {
    const bool del = verb == http::verb::delete_;
    metrics_.requests[del ? KvMetrics::kDelete : KvMetrics::kPut]++;
    Record rec{clock_.now(), del, del ? std::string() : req.body()};
    res = co_await coordinate_write(req, *key, std::move(rec), quorum);
  }
  metrics_.add_request_time(std::chrono::steady_clock::now() - started);
  co_return res;
}

bool KvService::is_member_address(const asio::ip::address& ip) {
  const std::string caller = ip.is_v6() && ip.to_v6().is_v4_mapped()
                                 ? asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6()).to_string()
                                 : ip.to_string();
  std::lock_guard lock(members_mu_);
  auto known = [&] { return std::find(member_ips_.begin(), member_ips_.end(), caller) != member_ips_.end(); };
  if (known()) return true;
  // A new member (or one that moved): read gossip again, at most every 200 ms.
  const auto now = std::chrono::steady_clock::now();
  if (now - members_read_ < std::chrono::milliseconds(200)) return false;
  members_read_ = now;
  member_ips_.clear();
  for (const Member& m : node_.members()) {
    if (m.status == NodeStatus::kLeft) continue;
    auto addr = kv_address(m.id);
    auto hp = addr ? split_host_port(*addr) : std::nullopt;
    if (hp) member_ips_.push_back(hp->first);
  }
  return known();
}

std::optional<HttpResponse> KvService::refuse_caller(const HttpCall& call) {
  const HttpRequest& req = call.request;
  if (!is_member_address(call.remote)) {
    return reject(req, http::status::forbidden, Rejection::kNotMember,
                  "/internal/ is for cluster members; " + call.remote.to_string() + " is not a member's kv address");
  }
  const AuthVerdict auth = auth_.check(req);
  if (auth == AuthVerdict::kUnsignedAccepted) metrics_.auth_unsigned_accepted++;
  if (auth != AuthVerdict::kAccepted && auth != AuthVerdict::kUnsignedAccepted) {
    return reject(req, http::status::forbidden, Rejection::kBadAuth, describe(auth));
  }
  return std::nullopt;
}

HttpResponse KvService::internal(HttpCall& call, std::string_view path, std::string_view query) {
  const HttpRequest& req = call.request;
  if (auto refused = refuse_caller(call)) return std::move(*refused);
  metrics_.internal_requests++;
  if (path == "range" || path == "tree") {
    if (req.method() != http::verb::get) {
      return reject(req, http::status::method_not_allowed, Rejection::kBadMethod, "/internal/range and tree take GET");
    }
    // A range read for a change at ring version V must not start before this replica routes by
    // V: until then it may still take writes from coordinators that do not write to the new
    // owner. The streamer retries.
    auto version = parse_u64(std::string_view(req[kRingVersionHeader].data(), req[kRingVersionHeader].size()));
    if (!version) return reject(req, http::status::bad_request, Rejection::kBadInternal, "no ring version header");
    const uint64_t mine = node_.ring()->version();
    if (mine < *version) {
      HttpResponse res = json_error(req, http::status::service_unavailable,
                                    "this replica's ring version " + std::to_string(mine) + " is behind " +
                                        std::to_string(*version) + "; retry");
      res.set(kRingVersionHeader, std::to_string(mine));
      return res;
    }
    { std::unique_lock barrier(fence_mu_); }  // writes that passed an older check are stored
    return path == "range" ? replica_range(req, query) : replica_tree(req, query);
  }
  if (path == "placement" && req.method() == http::verb::get) return placement(req);
  if (!path.starts_with("kv/")) return reject(req, http::status::not_found, Rejection::kUnknownRoute, "no such route");
  auto key = percent_decode(path.substr(3));
  if (!key || key->empty() || key->size() > kMaxKeyBytes || req.body().size() > kMaxValueBytes) {
    return reject(req, http::status::bad_request, Rejection::kBadInternal, "a bad key or value");
  }
  // Fencing: a coordinator behind a ring step this replica passed routes by an older phase.
  auto version = parse_u64(std::string_view(req[kRingVersionHeader].data(), req[kRingVersionHeader].size()));
  if (!version) return reject(req, http::status::bad_request, Rejection::kBadInternal, "no ring version header");
  std::shared_lock fenced(fence_mu_);
  const uint64_t mine = node_.ring()->version();
  if (*version < mine) {
    HttpResponse res = reject(req, http::status::conflict, Rejection::kStaleRingVersion,
                              "coordinator ring version " + std::to_string(*version) + " is behind " + std::to_string(mine));
    res.set(kRingVersionHeader, std::to_string(mine));
    return res;
  }
  if (req.method() == http::verb::put) return replica_put(req, *key);
  if (req.method() == http::verb::get) return replica_get(req, *key);
  return reject(req, http::status::method_not_allowed, Rejection::kBadMethod, "/internal/kv/KEY takes PUT and GET");
}

HttpResponse KvService::replica_put(const HttpRequest& req, const std::string& key) {
  auto stamp = parse_u64(std::string_view(req[kTimestampHeader].data(), req[kTimestampHeader].size()));
  const auto tomb = req[kTombstoneHeader];
  if (!stamp || *stamp == 0 || (tomb != "" && tomb != "0" && tomb != "1") || (tomb == "1" && !req.body().empty())) {
    return reject(req, http::status::bad_request, Rejection::kBadInternal, "a bad timestamp or tombstone header");
  }
  if (!clock_.observe(*stamp)) {
    return reject(req, http::status::bad_request, Rejection::kFutureTimestamp,
                  "timestamp more than " + std::to_string(clock_.max_ahead_ms()) + " ms ahead of this node's clock");
  }
  const Record rec{*stamp, tomb == "1", req.body()};
  const auto hint_for = req[kHintForHeader];
  if (!hint_for.empty()) {
    auto target = NodeId::parse(std::string_view(hint_for.data(), hint_for.size()));
    if (!target) return reject(req, http::status::bad_request, Rejection::kBadInternal, "a bad hint target");
    auto kept = hints_.add(*target, key, rec);
    if (!kept.ok()) return json_error(req, http::status::service_unavailable, kept.status().message());
    if (!*kept) {
      metrics_.hints_refused++;
      return json_error(req, http::status::insufficient_storage, "hint store full");
    }
    metrics_.hints_stored++;
    metrics_.hints_pending = static_cast<int64_t>(hints_.count());
  } else if (auto stored = store_.merge(key, rec); !stored.ok()) {
    return json_error(req, http::status::service_unavailable, stored.status().message());
  }
  HttpResponse res{http::status::no_content, req.version()};
  return res;
}

HttpResponse KvService::replica_get(const HttpRequest& req, const std::string& key) {
  if (streaming_.contains(store_.token_of(key))) {
    HttpResponse res = json_error(req, http::status::service_unavailable, "this replica is still streaming the range");
    res.set(kNotReadyHeader, "1");
    return res;
  }
  auto held = store_.get(key);
  if (!held.ok()) return json_error(req, http::status::service_unavailable, held.status().message());
  if (!*held) return HttpResponse{http::status::not_found, req.version()};
  HttpResponse res{http::status::ok, req.version()};
  res.set(kTimestampHeader, std::to_string((*held)->stamp));
  if ((*held)->tombstone) res.set(kTombstoneHeader, "1");
  res.body() = std::move((*held)->value);
  return res;
}

// GET /internal/range?start=S&end=E[&after=HEX]: the records of (S, E] in storage order, as
// frames (key length, key, record length, encode_record()), up to ~4 MiB a page; a page that
// stops early names where the next starts in X-Ringkeeper-Next.
HttpResponse KvService::replica_range(const HttpRequest& req, std::string_view query) {
  auto params = parse_query(query);
  std::optional<Token> start, end;
  std::optional<std::string> after = std::string();
  if (params) {
    if (params->count("start")) start = Token::parse((*params)["start"]);
    if (params->count("end")) end = Token::parse((*params)["end"]);
    if (params->count("after")) after = from_hex((*params)["after"]);
  }
  if (!params || !start || !end || !after) {
    return reject(req, http::status::bad_request, Rejection::kBadInternal, "range needs start, end (tokens) and a hex after");
  }
  constexpr size_t kPageBytes = 4 << 20;
  std::string body, next;
  Status s = store_.scan(TokenRange{*start, *end}, *after, [&](KvStore::Entry&& e) {
    if (body.size() >= kPageBytes) {
      return false;
    }
    const std::string rec = encode_record(e.record);
    put_u32_be(body, static_cast<uint32_t>(e.key.size()));
    body += e.key;
    put_u32_be(body, static_cast<uint32_t>(rec.size()));
    body += rec;
    next = e.position;
    return true;
  });
  if (!s.ok()) return json_error(req, http::status::service_unavailable, s.message());
  HttpResponse res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/octet-stream");
  if (body.size() >= kPageBytes) res.set(kNextHeader, to_hex(next));
  res.body() = std::move(body);
  return res;
}

// GET /internal/tree?start=S&end=E&root=R: anti-entropy's comparison of (S, E]. 204 when this
// replica's root equals R (decimal); else 200 with the leaves (range_hash.h, 8 bytes each), or
// 503 + X-Ringkeeper-Not-Ready while this replica streams any range.
HttpResponse KvService::replica_tree(const HttpRequest& req, std::string_view query) {
  auto params = parse_query(query);
  std::optional<Token> start, end;
  std::optional<uint64_t> root;
  if (params && params->count("start") && params->count("end") && params->count("root")) {
    start = Token::parse((*params)["start"]);
    end = Token::parse((*params)["end"]);
    root = parse_u64((*params)["root"]);
  }
  if (!start || !end || !root) {
    return reject(req, http::status::bad_request, Rejection::kBadInternal, "tree needs start, end (tokens) and root");
  }
  if (streaming_.size() > 0) {
    HttpResponse res = json_error(req, http::status::service_unavailable, "this replica is streaming ranges");
    res.set(kNotReadyHeader, "1");
    return res;
  }
  auto mine = hash_range(store_, TokenRange{*start, *end});
  if (!mine.ok()) return json_error(req, http::status::service_unavailable, mine.status().message());
  if (mine->root() == *root) return HttpResponse{http::status::no_content, req.version()};
  HttpResponse res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/octet-stream");
  res.body() = mine->encode_leaves();
  return res;
}

// GET /internal/placement (a debug route for tests and operators): for each range of the read
// ring this node replicates, its record count and hash-tree root, and how many records it holds
// outside them. Once a cluster converged, the replicas of a range report equal counts and roots
// and every "outside" is 0: every key is on exactly its natural replicas.
HttpResponse KvService::placement(const HttpRequest& req) {
  auto ring = node_.ring();
  const NodeId self = node_.id();
  nlohmann::json ranges = nlohmann::json::array();
  uint64_t inside = 0;
  for (uint32_t i = 0; i < ring->current().size(); ++i) {
    const TokenRange r = ring->current().range_at(i);
    if (!ring->natural_replicas(r.end).contains(self)) continue;
    RangeHashes tree(r);
    uint64_t keys = 0;
    Status s = store_.scan(r, "", [&](KvStore::Entry&& e) {
      tree.add(e.key, e.token, e.record);
      ++keys;
      return true;
    });
    if (!s.ok()) return json_error(req, http::status::service_unavailable, s.message());
    inside += keys;
    ranges.push_back({{"start", r.start.to_string()}, {"end", r.end.to_string()}, {"keys", keys},
                      {"root", std::to_string(tree.root())}});
  }
  uint64_t total = 0;
  Status s = store_.scan(TokenRange{Token{0}, Token{0}}, "", [&](KvStore::Entry&&) {
    ++total;
    return true;
  });
  if (!s.ok()) return json_error(req, http::status::service_unavailable, s.message());
  const nlohmann::json body = {{"node", self.to_string()}, {"ring_version", ring->version()},
                               {"pending", ring->has_pending_changes()}, {"ranges", ranges},
                               {"keys", total}, {"outside", total - inside}};
  HttpResponse res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = body.dump();
  return res;
}

}  // namespace ringkeeper::kv
