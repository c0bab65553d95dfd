#include "kv/streamer.h"

#include "kv/http_util.h"
#include "kv/service.h"

namespace ringkeeper::kv {

Streamer::Streamer(Node& node, KvStore& store, PeerClient& peers, KvService& service, KvMetrics& metrics,
                   RangeSet& streaming, LogSink log, std::chrono::milliseconds ack_delay)
    : node_(node), store_(store), peers_(peers), service_(service), metrics_(metrics), streaming_(streaming),
      log_(std::move(log)), ack_delay_(ack_delay) {}

Streamer::~Streamer() { stop(); }

void Streamer::subscribe() {
  ownership_sub_ = node_.on_ownership([this](const OwnershipEvent& e) { on_ownership(e); });
}

void Streamer::start() { worker_ = std::thread([this] { run(); }); }

void Streamer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  ownership_sub_.reset();
}

size_t Streamer::pending_drops() const {
  std::lock_guard lock(mu_);
  return release_later_.size();
}

void Streamer::enqueue(Task t) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(t));
  }
  wake_.notify_all();
}

// Node thread: only records what to do.
void Streamer::on_ownership(const OwnershipEvent& e) {
  switch (e.kind) {
    case OwnershipEvent::Kind::kPending:
      log(LogLevel::kInfo, e.change_kind + " " + e.change.to_string() + ": streaming " +
                               std::to_string(e.gained.size()) + " gained ranges");
      for (const RangeTransfer& t : e.gained) streaming_.add(t.range);
      enqueue(Task{Task::Kind::kStream, e.change, e.gained, {}});
      break;
    case OwnershipEvent::Kind::kOwned:
      break;
    case OwnershipEvent::Kind::kReleased: {
      std::lock_guard lock(mu_);
      release_later_.insert(release_later_.end(), e.released.begin(), e.released.end());
      break;
    }
    case OwnershipEvent::Kind::kCancelled: {
      {
        std::lock_guard lock(mu_);
        cancelled_.push_back(e.change);  // a stream of it still retrying gives up
      }
      log(LogLevel::kInfo, e.change_kind + " " + e.change.to_string() + " cancelled: dropping " +
                               std::to_string(e.gained.size()) + " ranges streamed for it");
      std::vector<TokenRange> ranges;
      for (const RangeTransfer& t : e.gained) ranges.push_back(t.range);
      enqueue(Task{Task::Kind::kDrop, std::nullopt, {}, std::move(ranges)});
      break;
    }
  }
  wake_.notify_all();
}

void Streamer::run() {
  for (;;) {
    std::optional<Task> task;
    {
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      if (!queue_.empty()) {
        task = std::move(queue_.front());
        queue_.pop_front();
      }
    }
    if (task && task->kind == Task::Kind::kDrop) {
      for (const TokenRange& r : task->ranges) {
        streaming_.remove(r);
        if (store_.drop_range(r).ok()) metrics_.ranges_dropped++;
      }
    } else if (task) {
      const uint64_t keys_before = metrics_.streamed_keys;
      if (!stream_all(task->gained, task->change)) continue;
      log(LogLevel::kInfo, "streamed " + std::to_string(task->gained.size()) + " ranges, " +
                               std::to_string(metrics_.streamed_keys - keys_before) + " records");
      if (task->change && ack_delay_.count() > 0) {
        log(LogLevel::kInfo, "holding the acknowledgement of " + task->change->to_string() + " for " +
                                 std::to_string(ack_delay_.count()) + " ms (--kv-ack-delay-ms, tests only)");
        std::unique_lock lock(mu_);
        wake_.wait_for(lock, ack_delay_, [&] {
          return stopping_ || std::find(cancelled_.begin(), cancelled_.end(), *task->change) != cancelled_.end();
        });
      }
      if (given_up(task->change)) continue;  // the cancel's own task drops the ranges
      if (task->change) {
        // Refused when the change moved on (aborted, or done while this node was away).
        Status s = node_.acknowledge_ranges(*task->change);
        log(s.ok() ? LogLevel::kInfo : LogLevel::kWarn,
            "acknowledged change " + task->change->to_string() + (s.ok() ? "" : ": " + s.to_string()));
      }
    }
    drop_released_if_done();
  }
}

bool Streamer::given_up(const std::optional<NodeId>& change) const {
  std::lock_guard lock(mu_);
  return stopping_ || (change && std::find(cancelled_.begin(), cancelled_.end(), *change) != cancelled_.end());
}

bool Streamer::stream_all(const std::vector<RangeTransfer>& gained, const std::optional<NodeId>& change) {
  for (const RangeTransfer& t : gained) {
    while (!stream_range(t)) {
      metrics_.stream_failures++;
      {
        std::unique_lock lock(mu_);
        wake_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping_; });
      }
      if (given_up(change)) return false;  // the cancel's own task drops the ranges and their marks
    }
    streaming_.remove(t.range);
    metrics_.streamed_ranges++;
  }
  return true;
}

bool Streamer::stream_range(const RangeTransfer& t) {
  const uint32_t n = replication_factor(*node_.ring());
  size_t candidates = 0, done = 0;
  for (const NodeId& source : t.sources) {
    if (source == node_.id()) continue;
    ++candidates;
    if (stream_from(source, t.range)) ++done;
  }
  // A write acknowledged by a majority is on at least one of any majority of its replicas.
  const size_t needed = std::min<size_t>(candidates, n / 2 + 1);
  return done >= std::max<size_t>(needed, candidates > 0 ? 1 : 0);
}

bool Streamer::stream_from(const NodeId& source, TokenRange range) {
  auto address = service_.kv_address(source);
  if (!address) return false;
  std::string after;
  for (;;) {
    HttpRequest req{http::verb::get,
                    "/internal/range?start=" + range.start.to_string() + "&end=" + range.end.to_string() +
                        "&after=" + to_hex(after),
                    11};
    req.set(kRingVersionHeader, std::to_string(node_.ring()->version()));
    auto res = peers_.send_blocking(*address, std::move(req), std::chrono::seconds(10));
    if (!res.ok() || res->result() != http::status::ok) return false;
    const bool parsed = for_each_range_frame(res->body(), [&](std::string_view key, Record&& rec) {
      if (!range.contains(store_.token_of(key)) || !store_.merge(key, rec).ok()) return false;
      metrics_.streamed_keys++;
      metrics_.streamed_bytes += 8 + key.size() + encode_record(rec).size();
      return true;
    });
    if (!parsed) return false;
    const auto next = (*res)[kNextHeader];
    if (next.empty()) return true;
    auto pos = from_hex(std::string_view(next.data(), next.size()));
    if (!pos) return false;
    after = std::move(*pos);
  }
}

bool Streamer::replicates_any_of(TokenRange r) const {
  auto ring = node_.ring();
  const NodeId self = node_.id();
  for (Token t : {r.end, Token{r.start.value() + 1}}) {
    for (const NodeId& id : ring->write_targets(t)) {
      if (id == self) return true;
    }
  }
  return false;
}

void Streamer::drop_released_if_done() {
  if (node_.ring()->has_pending_changes()) return;
  std::vector<TokenRange> ranges;
  {
    std::lock_guard lock(mu_);
    ranges.swap(release_later_);
  }
  for (const TokenRange& r : ranges) {
    if (replicates_any_of(r)) continue;  // ours again since: keep it
    if (store_.drop_range(r).ok()) metrics_.ranges_dropped++;
    log(LogLevel::kInfo, "dropped released range (" + r.start.to_string() + ", " + r.end.to_string() + "]");
  }
}

}  // namespace ringkeeper::kv
