#include "gossip/engine.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <optional>

#include "gossip/hash.h"
#include "ring/token_allocator.h"
#include "ringkeeper/ring/types.h"

namespace ringkeeper::gossip {

namespace {
// Keys of a node's entry kept free for the engine's own (status, tokens, change, seen, ...).
constexpr size_t kEngineKeys = 32;
// Liveness records sent at most in one catch-up message.
constexpr size_t kMaxLivenessSync = 256;
// left_seen_: an entry restored as LEFT, whose expiry clock starts at the next tick.
constexpr Millis kLeftSeenAtNextTick = -2;
constexpr std::string_view kRingKeys[] = {keys::kStatus, keys::kTokens, keys::kDc, keys::kRack,
                                          keys::kStamp, keys::kChange, keys::kMovingTo, keys::kEpoch};

// A malformed stamp loses every conflict (it cannot come from a well-behaved node).
HlcStamp parse_stamp(const VersionedValue* v) {
  return v ? decode_stamp(v->value).value_or(HlcStamp{UINT64_MAX}) : HlcStamp{};
}

// A malformed token list counts as no tokens (it cannot come from a well-behaved node).
std::vector<Token> parse_tokens(std::string_view text) { return parse_token_list(text).value_or(std::vector<Token>{}); }
}  // namespace

std::string token_count_refusal(size_t count) {
  if (count <= kMaxTokensPerNode) return "";
  return std::to_string(count) + " tokens given; a node holds at most " + std::to_string(kMaxTokensPerNode) +
         " (the --num-tokens cap: its token list must fit in one gossiped value)";
}

GossipEngine::GossipEngine(EngineConfig config, Rng& rng, RingCache& ring_cache)
    : config_(std::move(config)), replication_text_(config_.replication.canonical()), rng_(rng),
      ring_cache_(ring_cache), liveness_(config_.id, config_.liveness),
      join_(config_.id, config_.join,
            std::all_of(config_.seeds.begin(), config_.seeds.end(),
                        [&](const std::string& s) { return s == config_.address; })) {
  NodeState self;
  self.generation = config_.generation;
  change_entry(config_.id, [&] { return state_.merge(config_.id, self); });
  liveness_.set_self_generation(config_.generation);
  newest_own_copy_ = {config_.data_dir_generation, config_.data_dir_version};
  // Restarted in the generation its data dir last ran with: those versions are taken.
  if (config_.data_dir_generation == config_.generation) local_version_ = config_.data_dir_version;
  set_local(keys::kAddress, config_.address);
  set_local(keys::kWire, std::to_string(config_.wire_version));
}

uint64_t GossipEngine::ring_hash(const NodeId& id, const NodeState* st) {
  if (!st) return 0;
  uint64_t h = mix64(id.hi() ^ mix64(id.lo() ^ mix64(st->generation.value())));
  for (std::string_view key : kRingKeys) {
    const VersionedValue* v = st->get(key);
    h = mix64(h ^ (v ? v->version.value() + 1 : 0));
  }
  return h;
}

template <class Change>
bool GossipEngine::change_entry(const NodeId& id, Change&& change) {
  const NodeState* was = state_.find(id);
  const uint64_t before = ring_hash(id, was);
  const bool was_tombstone = was && was->is_tombstone();
  const bool changed = change();
  if (changed) {
    const NodeState* now = state_.find(id);
    ring_input_ ^= before ^ ring_hash(id, now);
    tombstones_ = tombstones_ - was_tombstone + (now && now->is_tombstone());
    const VersionedValue* change = now && !now->is_tombstone() ? now->get(keys::kChange) : nullptr;
    const auto record = change ? ChangeRecord::parse(change->value) : std::nullopt;
    const bool changing = record && in_flight(record->step);
    auto it = std::find(changing_.begin(), changing_.end(), id);
    if (changing && it == changing_.end()) changing_.push_back(id);
    if (!changing && it != changing_.end()) changing_.erase(it);
    const VersionedValue* address = now ? now->get(keys::kAddress) : nullptr;
    const VersionedValue* wire = now ? now->get(keys::kWire) : nullptr;
    uint32_t version = 0;
    if (address && wire && std::from_chars(wire->value.data(), wire->value.data() + wire->value.size(), version).ec == std::errc()) {
      if (wire_by_address_.size() >= 2 * config_.max_members) wire_by_address_.clear();  // rebuilt as entries change
      wire_by_address_[address->value] = version;
    } else if (address) {
      wire_by_address_.erase(address->value);  // an older build now listens there
    }
  }
  return changed;
}

bool GossipEngine::generation_too_far_ahead(Generation generation, Millis now) const {
  return config_.max_generation_ahead_s != 0 && generation != kTombstoneGeneration &&
         generation.value() > wall_ms(now) / 1000 + config_.max_generation_ahead_s;
}

bool GossipEngine::admissible(const NodeDelta& delta, Millis now) {
  const NodeState& st = delta.state;
  const NodeState* known = state_.find(delta.id);
  if (st.generation == kTombstoneGeneration) {
    // A tombstone is a few bytes; one for an id this node does not hold counts against their own
    // bound (a joining node learns the cluster's tombstones with its first exchange), so removed
    // ids, however many, never crowd out live members.
    if (!known && tombstones_ >= config_.max_tombstones) {
      ++stats_.rejected_bounds;
      return false;
    }
    return true;
  }
  if (st.max_version.value() >= (1ull << 62)) {  // no run writes that many values: forged or corrupt
    ++stats_.rejected_malformed;
    return false;
  }
  const uint64_t wall = wall_ms(now);
  if (generation_too_far_ahead(st.generation, now)) {
    ++stats_.rejected_generation;
    auto& noted = generation_ahead_noted_;
    if (std::find(noted.begin(), noted.end(), delta.id) == noted.end() && noted.size() < 64) {
      noted.push_back(delta.id);
      note("refused the entry of " + delta.id.to_string() + ": its generation " + st.generation.to_string() +
           " is more than " + std::to_string(config_.max_generation_ahead_s / 86400) +
           " days ahead of this node's clock (a clock that ran ahead: restart that node once with --reset-generation)");
    }
    return false;
  }
  if (const VersionedValue* stamp = st.get(keys::kStamp)) {
    const auto value = decode_stamp(stamp->value);
    if (!value) {
      ++stats_.rejected_malformed;
      return false;
    }
    if (config_.max_clock_ahead != 0 && value->millis() > wall + static_cast<uint64_t>(config_.max_clock_ahead)) {
      ++stats_.rejected_clock_ahead;
      return false;
    }
  }
  // A token list that does not parse would count as no tokens in every ring: refuse the entry
  // (its sender's previous one stays) rather than let one bad piece drop a whole claim.
  if (const VersionedValue* tokens = st.get(keys::kTokens); tokens && !parse_token_list(tokens->value)) {
    ++stats_.rejected_malformed;
    return false;
  }
  return within_bounds(delta, known);
}

bool GossipEngine::within_bounds(const NodeDelta& delta, const NodeState* known) {
  const NodeState& st = delta.state;
  if (!known && state_.size() - tombstones_ >= config_.max_members) {
    ++stats_.rejected_bounds;
    return false;
  }
  // A newer generation replaces the entry: only its own keys count.
  const NodeState* same_life = known && known->generation == st.generation ? known : nullptr;
  if (st.values.size() + (same_life ? same_life->values.size() : 0) > config_.max_keys_per_entry) {
    size_t keys = same_life ? same_life->values.size() : 0;
    for (const auto& [k, v] : st.values) keys += !(same_life && same_life->get(k));
    if (keys > config_.max_keys_per_entry) {
      ++stats_.rejected_bounds;
      return false;
    }
  }
  for (const auto& [k, v] : st.values) {
    if (v.value.size() > config_.max_value_bytes || k.size() > kMaxKeyBytes) {
      ++stats_.rejected_bounds;
      return false;
    }
  }
  return true;
}

void GossipEngine::merge(const NodeDelta& delta, Millis now) {
  const bool about_self = delta.id == config_.id;
  if (about_self && delta.state.generation != kTombstoneGeneration) {
    // We author ourselves; a copy of an earlier run newer than our data dir is adopted.
    if (delta.state.generation < config_.generation &&
        std::pair{delta.state.generation, delta.state.max_version} > newest_own_copy_) {
      adopt_own_copy(delta.state, now);
    }
    return;
  }
  if (!about_self && !admissible(delta, now)) return;
  const bool known = state_.find(delta.id) != nullptr;
  const uint64_t ring_before = ring_input_;
  if (!change_entry(delta.id, [&] { return state_.merge(delta.id, delta.state); })) return;
  ++stats_.deltas_applied;
  if (about_self) {
    // An operator removed this node (it was seen down somewhere): it stops claiming anything.
    if (!removed_) {
      removed_ = true;
      note("this node was removed from the cluster (removenode); it no longer owns anything and stops");
    }
    return;
  }
  const bool new_member = !known && delta.id != config_.id && !delta.state.is_tombstone();
  if (new_member) greet_.push_back(delta.id);
  if (new_member || ring_input_ != ring_before) hurry(now);
  const NodeState* after = state_.find(delta.id);
  liveness_.on_generation(delta.id, after->generation, now);
  if (const VersionedValue* stamp = after->get(keys::kStamp)) observe_hlc(decode_stamp(stamp->value).value_or(HlcStamp{}));
  if (const VersionedValue* status = after->get(keys::kStatus);
      status && !after->is_tombstone() && status->value == to_string(NodeStatus::kLeft)) {
    Millis& since = left_seen_[delta.id];
    if (since == 0) since = std::max<Millis>(now, 1);
  }
}

bool GossipEngine::peer_holds_own(Generation generation, Version version) {
  if (generation == kTombstoneGeneration) return false;  // a removal: merge handles it
  if (generation == config_.generation) {
    const NodeState* own = state_.find(config_.id);
    // A run writes far fewer than 2^32 values; a claim beyond that is forged or corrupt, and
    // re-authoring above it would run the version counter to its end.
    if (own && version > own->max_version && version.value() - own->max_version.value() < (1ull << 32)) {
      // Versions of this generation were issued before, by a run this node does not remember (a
      // data dir copied from an earlier moment, or a generation reused): re-author every value
      // above them, so no (generation, version) pair names two values.
      ++stats_.versions_reasserted;
      local_version_ = std::max(local_version_, version);
      const auto values = own->values;
      for (const auto& [key, v] : values) set_local(key, v.value);
      note("peers hold versions of this node's entry up to " + version.to_string() +
           " in its own generation " + generation.to_string() + " (its data dir is older than its last run); "
           "re-published its values above them");
    }
    return false;
  }
  if (generation > config_.generation) {
    ++stats_.newer_generation_seen;
    if (generation > newer_generation_noted_) {
      newer_generation_noted_ = generation;
      note("peers know this node at generation " + generation.to_string() + ", above this run's " +
           config_.generation.to_string() + ": they ignore this run (another process runs with this node's id, "
           "or --reset-generation went below a generation they accepted)");
    }
    return false;
  }
  return std::pair{generation, version} > newest_own_copy_;
}

void GossipEngine::fetch_own_copy(const std::string& address, const NodeId* peer, std::vector<Envelope>& out) {
  // A digest claiming we know nothing of ourselves: the peer answers with its whole copy.
  Digests d;
  d.buckets.push_back(ClusterState::bucket_of(config_.id));
  d.digests = state_.digests_in(d.buckets);
  for (Digest& g : d.digests) {
    if (g.id == config_.id) g = Digest{config_.id, {}, {}};
  }
  out.push_back({address, make(std::move(d), peer)});
}

void GossipEngine::adopt_own_copy(const NodeState& copy, Millis now) {
  // This node's data dir is older than its last run (restored from a backup, copied from an
  // earlier moment, or writes lost with the host): its restored claim may be one it gave up since,
  // and a change it coordinated may be at a step its peers have passed. The cluster's newest record
  // wins when it holds ring changes the data dir misses (a higher epoch): its ownership becomes
  // ours — never a step back from what peers saw. A copy no newer in ring changes is left alone
  // (this run may already have moved on); with no epochs at all (an older build's record) the
  // restored claim is re-stamped unless the copy is an established claim to adopt.
  const std::pair<Generation, Version> was = newest_own_copy_;
  newest_own_copy_ = {copy.generation, copy.max_version};
  ++stats_.data_dir_behind;
  const NodeState* own = state_.find(config_.id);
  const RingEpoch own_epoch = own ? epoch_of(*own) : RingEpoch{}, copy_epoch = epoch_of(copy);
  const VersionedValue* status = copy.get(keys::kStatus);
  const VersionedValue* tokens = copy.get(keys::kTokens);
  const VersionedValue* stamp = copy.get(keys::kStamp);
  const auto copy_status = status ? parse_node_status(status->value) : std::nullopt;
  const bool claim = copy_status && *copy_status != NodeStatus::kJoining && tokens && parse_token_list(tokens->value) &&
                     stamp && decode_stamp(stamp->value);
  std::string what;
  if (claim && (copy_epoch > own_epoch || (copy_epoch == RingEpoch{} && own_epoch == RingEpoch{}))) {
    for (std::string_view key : {keys::kTokens, keys::kStamp, keys::kMovingTo, keys::kChange, keys::kStatus}) {
      if (const VersionedValue* v = copy.get(key)) publish(key, v->value);
    }
    set_local(keys::kEpoch, std::max(copy_epoch, ring_version()).to_string());
    bump_epoch();
    join_.finish();
    ++ownership_writes_;
    what = "adopted that record's ownership (" + status->value + ")";
  } else if (copy_epoch < own_epoch) {
    what = "this run changed the ring since; kept";
  } else if (own_status() == NodeStatus::kNormal && copy_epoch == RingEpoch{}) {
    set_local(keys::kStamp, std::to_string(next_hlc(now).value));
    what = "that record is not an established claim (" + (status ? status->value : std::string("no status")) +
           "); re-stamped this node's claim so it loses to any made since";
  } else {
    what = own_status() == NodeStatus::kJoining ? "it is joining afresh" : "nothing to take from it";
  }
  note("this node's data dir is behind what peers know of it (generation " + was.first.to_string() +
       " version " + was.second.to_string() + " on disk, generation " + copy.generation.to_string() +
       " version " + copy.max_version.to_string() + " in the cluster): restored from a backup or copied; " + what);
}

void GossipEngine::hurry(Millis now) {
  // News (a new member, a changed token or status) travels faster than the steady cadence: the
  // next round comes a fifth of an interval after the last one. At most five rounds a second,
  // only while there is news; the regular cadence keeps its phase (see tick).
  if (started_ && last_round_ >= 0) {
    next_gossip_ = std::min(next_gossip_, std::max(now, last_round_ + config_.gossip_interval / 5));
  }
}

void GossipEngine::set_load(std::string value) { pending_load_ = std::move(value); }

std::string GossipEngine::set_application_value(std::string_view name, std::string value) {
  // The same bounds every receiver applies: an entry over them could not travel.
  if (name.empty() || name.size() + 2 > kMaxKeyBytes) return "application value names are 1 to 254 bytes";
  if (value.size() > config_.max_value_bytes) {
    return "application value over " + std::to_string(config_.max_value_bytes) + " bytes";
  }
  const std::string key = "x." + std::string(name);
  const NodeState* own = state_.find(config_.id);
  // The engine's own keys (status, tokens, change, seen, ...) need room whatever the embedder set:
  // an entry over the bound would be refused by every peer and freeze.
  const size_t bound = config_.max_keys_per_entry - std::min(kEngineKeys, config_.max_keys_per_entry / 4);
  if (own && !own->get(key) && own->values.size() + 1 > bound) {
    return "this node already gossips " + std::to_string(own->values.size()) + " values (the bound for " +
           "application values is " + std::to_string(bound) + ")";
  }
  set_local(key, std::move(value));
  return "";
}

std::optional<NodeStatus> GossipEngine::own_status() const {
  const NodeState* own = state_.find(config_.id);
  const VersionedValue* v = own ? own->get(keys::kStatus) : nullptr;
  return v ? parse_node_status(v->value) : std::nullopt;
}

void GossipEngine::start(Millis now) {
  started_ = true;
  const NodeState* own = state_.find(config_.id);
  const VersionedValue* tokens = own ? own->get(keys::kTokens) : nullptr;
  const auto change = own_change();
  const bool joining = own_status() == NodeStatus::kJoining;
  const bool resumable = change && (change->kind == ChangeKind::kJoin || change->kind == ChangeKind::kReplace);
  if (tokens && !tokens->value.empty() && own_status() && (!joining || resumable)) {
    join_.finish();  // persisted tokens win: a restart keeps what it owned, or resumes its join
    return;
  }
  // A joiner that stopped before its claim was agreed on claims again (a fresh claim).
  if (join_.founder() && config_.cluster_id.is_nil()) {
    config_.cluster_id = ClusterId(NodeId::from_random_bits(rng_.next(), rng_.next()));
  }
  set_local(keys::kDc, config_.join.dc);
  set_local(keys::kRack, config_.join.rack);
  set_local(keys::kStatus, std::string(to_string(NodeStatus::kJoining)));
  (void)now;
}

HlcStamp GossipEngine::next_hlc(Millis now) {
  hlc_ = std::max(HlcStamp{hlc_.value + 1}, HlcStamp::make(wall_ms(now), 0));
  return hlc_;
}

void GossipEngine::claim(const std::vector<Token>& tokens, Millis now) {
  set_local(keys::kStamp, std::to_string(next_hlc(now).value));
  set_local(keys::kTokens, format_token_list(tokens));
}

size_t GossipEngine::claimed_tokens() const {
  const NodeState* own = state_.find(config_.id);
  const VersionedValue* tokens = own ? own->get(keys::kTokens) : nullptr;
  if (!tokens) return 0;
  return parse_tokens(tokens->value).size();
}

void GossipEngine::repair_lost_claims() {
  if (own_status() != NodeStatus::kNormal) return;
  auto r = ring();
  const RingNode* me = r->find(config_.id);
  if (!me) return;
  const size_t claimed = claimed_tokens();
  if (me->tokens.size() >= claimed) return;
  // Another established owner's earlier claim won some of our tokens (two moves onto one token,
  // or claims made on both sides of a partition). Keep what we own and add as many fresh tokens
  // from the allocator. The claim keeps its stamp: a fresh one would make the kept tokens lose to
  // any other established claim on them with an older stamp (a down owner's, say) — the silent
  // flip this repair exists to end.
  const size_t lost = claimed - me->tokens.size();
  stats_.claims_lost += lost;
  std::vector<Token> next = me->tokens;
  for (Token t : pick_tokens(*r, config_.id, me->dc, me->rack, static_cast<uint32_t>(lost), me->tokens)) {
    next.push_back(t);
  }
  const std::string text = format_token_list(next);
  bump_epoch();
  note("lost " + std::to_string(lost) + " of " + std::to_string(claimed) +
       " claimed tokens to earlier claims of other owners; claimed " + std::to_string(next.size() - me->tokens.size()) +
       " new ones");
  set_local(keys::kTokens, text);
}

std::vector<NodeId> GossipEngine::not_agreeing(const RingSnapshot& ring, bool barrier, size_t limit) {
  // Joining compares placements (statuses aside, so joiners turning NORMAL one after another do
  // not invalidate each other's agreement); converged() compares the full ring digest.
  std::vector<NodeId> out;
  const std::string_view key = barrier ? keys::kPlacement : keys::kRingDigest;
  const std::string mine = barrier ? digest_to_hex(ring.placement_digest()) : ring.digest_hex();
  for (size_t i = 0; i < state_.size() && out.size() < limit; ++i) {
    const NodeId& id = state_.id_at(i);
    const NodeState& st = state_.state_at(i);
    if (st.is_tombstone()) continue;
    const VersionedValue* status = st.get(keys::kStatus);
    const std::string_view status_text = status ? std::string_view(status->value) : std::string_view();
    if (status_text == to_string(NodeStatus::kLeft) || status_text == to_string(NodeStatus::kRemoved)) continue;
    if (id != config_.id) {
      // The barrier waits for down members too: a member cut off on the other side of a
      // partition has not seen this change, and must not find it completed when it returns.
      const PeerLiveness view = liveness_.view(id);
      if (!barrier && (view == PeerLiveness::kSuspect || view == PeerLiveness::kDown)) continue;
      const VersionedValue* digest = st.get(key);
      if (!digest || digest->value != mine) {
        out.push_back(id);
        continue;
      }
    }
    if (barrier && status_text == to_string(NodeStatus::kJoining)) {
      const VersionedValue* tokens = st.get(keys::kTokens);
      if (!tokens || tokens->value.empty()) out.push_back(id);
    }
  }
  return out;
}

bool GossipEngine::converged() {
  auto r = ring();
  if (!ring_agreed(*r, false)) return false;
  for (const RingNode& n : r->nodes()) {
    if (n.status != NodeStatus::kJoining && n.status != NodeStatus::kLeaving &&
        n.status != NodeStatus::kMoving) {
      continue;
    }
    const PeerLiveness view = liveness_.view(n.id);
    if (view != PeerLiveness::kSuspect && view != PeerLiveness::kDown) return false;
  }
  return true;
}

void GossipEngine::update_membership(Millis now) {
  if (removed_ || !fatal_.empty()) return;
  if (!join_.done() && !config_.join.replace.is_nil()) {
    drive_replace(now);
  } else if (!join_.done()) {
    auto r = ring();
    std::vector<NodeId> waiting = join_.claimed() ? not_agreeing(*r, true, 64) : std::vector<NodeId>{};
    JoinProcess::Action a = join_.step(now, *r, state_.size(), waiting.empty());
    if (!a.notice.empty()) note(std::move(a.notice));
    if (a.claim) {
      if (join_.repicks() > stats_.token_repicks) stats_.token_repicks = join_.repicks();
      bump_epoch();
      claim(*a.claim, now);
    }
    if (a.become_normal) {
      if (join_.founding() || member_without_changes(nullptr)) {
        // Ranges nobody owned before need no data phases; and a member of an older build could
        // not follow a join change: then the join completes the way that build expects.
        bump_epoch();
        set_local(keys::kStatus, std::string(to_string(NodeStatus::kNormal)));
      } else {
        start_join_change(now);
      }
      waiting.clear();
    }
    if (waiting != join_waiting_) {
      if (!waiting.empty()) {
        std::string ids;
        for (size_t i = 0; i < waiting.size() && i < 8; ++i) ids += (i ? ", " : "") + waiting[i].to_string();
        if (waiting.size() > 8) ids += ", ... (" + std::to_string(waiting.size()) + " in all)";
        note("join waits for members that have not yet seen its claim: " + ids);
      }
      join_waiting_ = std::move(waiting);
    }
  } else {
    repair_lost_claims();
    drive_own_change(now);
  }
  // Joiners acknowledge too: they route by what they have merged, like everyone else.
  publish_seen();
  publish(keys::kChanges, std::to_string(keys::kChangesLevel));
  if (pending_load_ && (load_published_at_ < 0 || now - load_published_at_ >= config_.load_interval)) {
    publish(keys::kLoad, std::move(*pending_load_));
    pending_load_.reset();
    load_published_at_ = now;
  }
  // Gossip the digest of the ring we route with, whenever it changes.
  auto r = ring();
  if (published_digest_ != r->digest()) {
    publish(keys::kRingDigest, r->digest_hex());
    publish(keys::kPlacement, digest_to_hex(r->placement_digest()));
    published_digest_ = r->digest();
  }
}

void GossipEngine::publish(std::string_view key, std::string value) {
  const NodeState* own = state_.find(config_.id);
  const VersionedValue* current = own ? own->get(key) : nullptr;
  if (!current || current->value != value) set_local(key, std::move(value));
}

std::string GossipEngine::remove_node(const NodeId& id, Millis now, bool force) {
  if (removed_) return "this node was itself removed from the cluster";
  if (id == config_.id) return "a node cannot remove itself (use decommission)";
  const NodeState* st = state_.find(id);
  if (!st) return "unknown node " + id.to_string();
  if (st->is_tombstone()) return "";  // already removed: idempotent
  if (auto removal = removal_of(id); removal && !force) {
    // Being removed: that removal answers — unless its coordinator is dead and cannot drive it.
    const NodeId& coordinator = removal->first;
    if (coordinator == config_.id || liveness_.view(coordinator) != PeerLiveness::kDown) return "";
    return "the removal of " + id.to_string() + " is coordinated by " + coordinator.to_string() +
           ", which is down here: `removenode " + id.to_string() + " --force` completes it (its tombstone at " +
           "once, without the data phases it has not run), then `removenode " + coordinator.to_string() + "`";
  }
  if (removal_of(id)) {
    // Forced while a removal of it is in flight (its coordinator died, say): the tombstone now.
    if (liveness_.view(id) != PeerLiveness::kDown) {
      return "node " + id.to_string() + " is not down here; only a dead node can be removed";
    }
    note("removing " + id.to_string() + " at once (--force) while a removal of it is in flight");
    write_tombstone(id);
    return "";
  }
  if (liveness_.view(id) != PeerLiveness::kDown) {
    return "node " + id.to_string() + " is not down here; only a dead node can be removed";
  }
  const VersionedValue* status = st->get(keys::kStatus);
  const bool left = status && status->value == to_string(NodeStatus::kLeft);
  std::string why = left ? std::string() : change_refusal(&id);
  if (why.empty() && !left) {
    if (auto old = member_without_changes(&id)) {
      why = "node " + old->to_string() + " runs an older build that cannot follow a phased removenode";
    }
  }
  if (left || why.empty()) {
    if (left) {
      write_tombstone(id);  // it owns nothing: no data phases
    } else {
      start_change(ChangeKind::kRemoveNode, now, id);
    }
    return "";
  }
  if (!force) {
    return why + "; `removenode --force` writes its tombstone at once instead (its ranges then re-replicate "
                 "from the surviving replicas without data phases)";
  }
  note("removing " + id.to_string() + " at once (--force) while " + why);
  write_tombstone(id);
  return "";
}

void GossipEngine::write_tombstone(const NodeId& id) {
  bump_epoch();  // the removed node's own epoch leaves with its entry: the ring version still grows
  ++ownership_writes_;
  NodeState tomb;
  tomb.generation = kTombstoneGeneration;
  tomb.values.push_back({std::string(keys::kStatus), {std::string(to_string(NodeStatus::kRemoved)), Version{2}}});
  merge({id, std::move(tomb)}, last_tick_);
  ++stats_.tombstones_written;
}

bool GossipEngine::abandonable(const ChangeRecord& change) const {
  // Only once its subject's tombstone is written (removenode SUBJECT --force) does the record
  // shape no ring any more. Before that, the ring keeps reading the subject as LEAVING at the
  // record's step while the coordinator's own removal runs its phases: members at different
  // steps of that removal then disagree on the subject's pending owners (found by a review test
  // with every member at write_both), and past read_new dropping it would send reads back to
  // owners some members no longer write to (chaos seed 806).
  if (change.kind != ChangeKind::kRemoveNode) return false;
  const NodeState* subject = state_.find(change.subject);
  return !subject || subject->is_tombstone();
}

std::optional<std::pair<NodeId, ChangeRecord>> GossipEngine::removal_of(const NodeId& id) const {
  for (const NodeId& coordinator : changing_) {
    auto c = ChangeRecord::parse(state_.find(coordinator)->get(keys::kChange)->value);
    if (c && c->on_behalf() && c->subject == id) return std::make_pair(coordinator, *c);  // removenode, replace
  }
  return std::nullopt;
}

std::string GossipEngine::move_tokens(std::vector<Token> tokens, Millis now, ChangeKind kind) {
  if (removed_) return "this node was removed from the cluster";
  if (!join_.done()) return "this node is still joining; move its tokens once it is NORMAL";
  if (own_status() != NodeStatus::kNormal) return "this node is not NORMAL (a change of its own is in flight)";
  if (tokens.empty()) return "no tokens given";
  if (std::string why = token_count_refusal(tokens.size()); !why.empty()) return why;
  std::sort(tokens.begin(), tokens.end());
  if (std::adjacent_find(tokens.begin(), tokens.end()) != tokens.end()) return "a token is given twice";
  auto r = ring();
  for (const RingNode& n : r->nodes()) {
    if (n.id == config_.id) continue;
    for (const auto* list : {&n.tokens, &n.pending_tokens}) {
      for (Token t : *list) {
        if (std::binary_search(tokens.begin(), tokens.end(), t)) {
          return "token " + t.to_string() + " is owned by " + n.id.to_string();
        }
      }
    }
  }
  if (std::string why = change_refusal(); !why.empty()) return why;
  set_local(keys::kMovingTo, format_token_list(tokens));
  start_change(kind, now);
  return "";
}

std::vector<Token> GossipEngine::rebalance_tokens() {
  auto r = ring();
  const RingNode* me = r->find(config_.id);
  if (!me || me->tokens.empty()) return {};
  auto described = [&](const std::vector<Token>& mine) {
    std::vector<NodeDescription> nodes;
    for (const RingNode& n : r->nodes()) {
      nodes.push_back({n.id, n.status, n.id == config_.id ? mine : n.tokens, n.pending_tokens, n.dc, n.rack, n.stamp, n.phase});
    }
    return nodes;
  };
  auto balance_with = [&](const std::vector<Token>& mine) {
    auto after = RingSnapshot::build(described(mine), r->config()).snapshot;
    return after ? after->balance() : std::numeric_limits<double>::infinity();
  };
  // A whole new token set balances best; swapping a few of the current tokens moves far less.
  // Good enough is within 1 % of what the fresh set reaches (or max/mean 1.02): a node whose
  // tokens are already there is balanced (so a second rebalance is a no-op), and the swaps win
  // when they get there.
  std::vector<Token> fresh =
      pick_tokens(*r, config_.id, me->dc, me->rack, static_cast<uint32_t>(me->tokens.size()));
  const double fresh_balance = balance_with(fresh);
  const double good_enough = std::max(fresh_balance * 1.01, 1.02);
  if (r->balance() <= good_enough || fresh_balance > r->balance() * 0.99) return {};
  std::vector<Token> swapped = rebalance_by_swaps(described(me->tokens), config_.id, r->config());
  if (!swapped.empty() && balance_with(swapped) <= good_enough) return swapped;
  return fresh;
}

std::string GossipEngine::decommission(Millis now) {
  if (removed_) return "this node was removed from the cluster";
  if (!join_.done()) return "this node is still joining";
  if (own_status() != NodeStatus::kNormal) return "this node is not NORMAL (a change of its own is in flight, or it left)";
  if (std::string why = change_refusal(); !why.empty()) return why;
  if (std::string why = replication_refusal(); !why.empty()) return why;
  start_change(ChangeKind::kDecommission, now);
  return "";
}

std::string GossipEngine::replication_refusal() {
  // Cassandra's rule: refused when fewer owners than the replication factor would remain (in
  // this node's DC under the topology strategy). Down owners count: they still own their ranges
  // until an operator removes or replaces them.
  auto r = ring();
  const RingNode* me = r->find(config_.id);
  if (!me) return "";
  const bool per_dc = config_.replication.strategy == StrategyKind::kTopology;
  const uint32_t rf = per_dc ? config_.replication.rf_for_dc(me->dc) : config_.replication.rf;
  size_t remaining = 0, down = 0;
  for (const RingNode& n : r->nodes()) {
    if (n.id == config_.id || n.tokens.empty() || (per_dc && n.dc != me->dc)) continue;
    if (n.status != NodeStatus::kNormal && n.status != NodeStatus::kMoving) continue;
    ++remaining;
    down += liveness_.view(n.id) == PeerLiveness::kDown;
  }
  if (remaining >= rf) return "";
  const std::string where = per_dc ? " in datacenter " + me->dc : "";
  return "a decommission would leave " + std::to_string(remaining) + " node" + (remaining == 1 ? "" : "s") +
         " owning tokens" + where + (down ? " (" + std::to_string(down) + " of them down)" : std::string()) +
         ", fewer than " + (per_dc ? "its" : "the") + " replication factor " + std::to_string(rf) + "; add a node first";
}

std::string GossipEngine::change_refusal(const NodeId* subject) {
  // One change at a time: a change in flight anywhere in sight, or a join, goes first — but a
  // removal coordinated by the very node to be removed whose subject is already removed
  // (abandonable) shapes no ring, so it does not stand in the way.
  if (auto other = active_change(subject)) {
    const ChangeRecord& c = other->second;
    const std::string whose = c.on_behalf() ? c.subject.to_string() + " by " + other->first.to_string()
                                            : other->first.to_string();
    return "another change is in flight: " + c.id.to_string() + " (" + std::string(to_string(c.kind)) + " of " +
           whose + ", " + std::string(to_string(c.step)) + ")";
  }
  for (const RingNode& n : ring()->nodes()) {
    if (subject && n.id == *subject) continue;
    if (n.status == NodeStatus::kJoining || n.status == NodeStatus::kLeaving || n.status == NodeStatus::kMoving) {
      return "node " + n.id.to_string() + " is " + std::string(to_string(n.status)) + "; try again when it is done";
    }
  }
  // A member of an older build would never acknowledge a step: the change would wait forever.
  for (size_t i = 0; i < state_.size(); ++i) {
    const NodeState& st = state_.state_at(i);
    if (st.is_tombstone() || (subject && state_.id_at(i) == *subject)) continue;
    const VersionedValue* status = st.get(keys::kStatus);
    if (status && (status->value == to_string(NodeStatus::kLeft) || status->value == to_string(NodeStatus::kRemoved))) continue;
    const VersionedValue* wire = st.get(keys::kWire);
    uint32_t speaks = 0;
    if (wire) std::from_chars(wire->value.data(), wire->value.data() + wire->value.size(), speaks);
    if (speaks < 2) {
      return "node " + state_.id_at(i).to_string() + " runs an older build without phased changes; upgrade it first";
    }
  }
  return "";
}

std::optional<NodeId> GossipEngine::member_without_changes(const NodeId* except) const {
  for (size_t i = 0; i < state_.size(); ++i) {
    const NodeState& st = state_.state_at(i);
    const NodeId& id = state_.id_at(i);
    if (st.is_tombstone() || id == config_.id || (except && id == *except) || removal_of(id)) continue;
    const VersionedValue* status = st.get(keys::kStatus);
    if (status && (status->value == to_string(NodeStatus::kLeft) || status->value == to_string(NodeStatus::kRemoved))) continue;
    const VersionedValue* level = st.get(keys::kChanges);
    uint32_t n = 0;
    if (level) std::from_chars(level->value.data(), level->value.data() + level->value.size(), n);
    if (n < keys::kChangesLevel) return id;
  }
  return std::nullopt;
}

void GossipEngine::give_up(std::string why, Millis now) {
  // It will own nothing and stop: LEFT, so no barrier waits for it (a JOINING member, up or
  // down, would hold every change), and its data dir is not started again. Peers must hear of
  // it before the runtime stops (own_entry_shared): the next round comes at once.
  fatal_ = std::move(why);
  set_local(keys::kTokens, "");
  set_local(keys::kStatus, std::string(to_string(NodeStatus::kLeft)));
  note(fatal_);
  hurry(now);
}

bool GossipEngine::own_entry_shared() const {
  const NodeState* own = state_.find(config_.id);
  return own && own_shared_ >= own->max_version;
}

void GossipEngine::note_own_shared(const NodeId& id, Generation generation, Version version) {
  if (id == config_.id && generation == config_.generation) own_shared_ = std::max(own_shared_, version);
}

void GossipEngine::drive_replace(Millis now) {
  if (!fatal_.empty()) return;
  const NodeId& x = config_.join.replace;
  if (state_.size() <= 1) return;  // still learning the cluster from its seeds
  if (replace_learning_since_ < 0) replace_learning_since_ = now;
  const NodeState* st = state_.find(x);
  const VersionedValue* status = st && !st->is_tombstone() ? st->get(keys::kStatus) : nullptr;
  if (!st) {
    // Entries arrive within a few rounds of the first exchange; past that, it is not there.
    if (now - replace_learning_since_ > std::max<Millis>(config_.join.settle, 5 * config_.gossip_interval)) {
      give_up("cannot replace " + x.to_string() + ": the cluster has no such node", now);
    }
    return;
  }
  // A node that died in the middle of its own move or decommission can be replaced while that
  // change had not reached read_new (every member still reads its old ranges): the replacement
  // takes its current tokens and the dead node's change is abandoned — a rollback, as an abort.
  const VersionedValue* own_change = st && !st->is_tombstone() ? st->get(keys::kChange) : nullptr;
  const auto dead_change = own_change ? ChangeRecord::parse(own_change->value) : std::nullopt;
  const bool mid_change = status && (status->value == to_string(NodeStatus::kMoving) ||
                                     status->value == to_string(NodeStatus::kLeaving)) &&
                          dead_change && in_flight(dead_change->step) && dead_change->step < ChangeStep::kReadNew;
  if (st->is_tombstone() || (status && status->value != to_string(NodeStatus::kNormal) && !mid_change)) {
    give_up("cannot replace " + x.to_string() + ": it is " +
             (st->is_tombstone() ? std::string("REMOVED") : status->value) +
             " (only a NORMAL node that is down, or one that died before its change reached read_new, can be "
             "replaced; start a new node without --replace)",
             now);
    return;
  }
  // It announces even while another change is in flight: from then on that change's barrier no
  // longer waits for the dead node (it may be what holds it), and the replace waits in announce,
  // routing as before, until it comes first.
  std::string wait;
  if (liveness_.view(x) != PeerLiveness::kDown) {
    wait = "waits until " + x.to_string() + " is seen down before taking over its tokens";
  } else if (auto other = removal_of(x)) {
    wait = "waits: change " + other->second.id.to_string() + " already removes " + x.to_string();
  } else if (auto old = member_without_changes(&x)) {
    wait = "waits until " + old->to_string() + " runs a build that can follow a replace (upgrade it)";
  }
  if (!wait.empty()) {
    if (wait != replace_wait_) note("replace " + wait);
    replace_wait_ = std::move(wait);
    return;
  }
  const VersionedValue* tokens = st->get(keys::kTokens);
  ChangeRecord c;
  c.id = NodeId::from_random_bits(rng_.next(), rng_.next());
  c.kind = ChangeKind::kReplace;
  c.step = ChangeStep::kAnnounce;
  c.subject = x;
  bump_epoch();
  claim(parse_tokens(tokens ? tokens->value : ""), now);  // the dead node's tokens, a fresh stamp
  c.stamp = next_hlc(now);
  ++ownership_writes_;
  set_local(keys::kChange, c.format());
  join_.finish();
  note("replacing " + x.to_string() + ": took over its tokens; change " + c.id.to_string() + " announced");
  publish_seen();
  hurry(now);
}

void GossipEngine::start_join_change(Millis now) {
  // The claim stage was the join's announce (its claim agreed on by every live member, routed
  // as before it): the change starts at announce — where it waits while another change runs —
  // then write_both, where the joiner's embedder streams what it gains (the data barrier),
  // read_new, release, and NORMAL at done.
  const NodeState* own = state_.find(config_.id);
  const VersionedValue* stamp = own ? own->get(keys::kStamp) : nullptr;
  ChangeRecord c;
  c.id = join_change_id(config_.id, parse_stamp(stamp));
  c.kind = ChangeKind::kJoin;
  c.step = ChangeStep::kAnnounce;
  c.stamp = next_hlc(now);
  bump_epoch();
  ++ownership_writes_;
  set_local(keys::kChange, c.format());
  publish_seen();
  hurry(now);
}

void GossipEngine::start_change(ChangeKind kind, Millis now, const NodeId& subject) {
  ChangeRecord c;
  c.id = NodeId::from_random_bits(rng_.next(), rng_.next());
  c.kind = kind;
  c.step = ChangeStep::kAnnounce;
  c.stamp = next_hlc(now);
  c.subject = subject;
  bump_epoch();
  ++ownership_writes_;
  if (!c.on_behalf()) {  // the coordinator's own ownership changes: it is LEAVING or MOVING
    const NodeStatus status = kind == ChangeKind::kDecommission ? NodeStatus::kLeaving : NodeStatus::kMoving;
    set_local(keys::kStatus, std::string(to_string(status)));
  }
  set_local(keys::kChange, c.format());
  publish_seen();
  hurry(now);
}

std::optional<ChangeRecord> GossipEngine::own_change() const {
  const NodeState* own = state_.find(config_.id);
  const VersionedValue* v = own ? own->get(keys::kChange) : nullptr;
  return v ? ChangeRecord::parse(v->value) : std::nullopt;
}

std::optional<std::pair<NodeId, ChangeRecord>> GossipEngine::active_change(const NodeId* to_be_removed) const {
  std::optional<std::pair<NodeId, ChangeRecord>> best;
  for (const NodeId& id : changing_) {
    const VersionedValue* v = state_.find(id)->get(keys::kChange);
    auto c = ChangeRecord::parse(v->value);
    // A dead coordinator being removed or replaced will never drive its change again: that
    // change is left where it stood (the ring reads its node as the removal's LEAVING subject).
    if (removal_of(id)) continue;
    if (to_be_removed && id == *to_be_removed && abandonable(*c)) continue;
    // A change past announce goes on before any still in announce, whatever their stamps (a
    // later change stamped by a clock behind must not cut in); otherwise the earlier stamp.
    auto ahead = [](const ChangeRecord& a, const ChangeRecord& b) {
      const bool a_started = a.step != ChangeStep::kAnnounce, b_started = b.step != ChangeStep::kAnnounce;
      if (a_started != b_started) return a_started;
      return a.precedes(b);
    };
    if (!best || ahead(*c, best->second)) best = std::make_pair(id, *c);
  }
  return best;
}

void GossipEngine::publish_seen() {
  // Every member says which change it routes by, at which step: the coordinator's barrier.
  const auto active = active_change();
  const NodeState* own = state_.find(config_.id);
  const VersionedValue* seen = own ? own->get(keys::kSeen) : nullptr;
  const std::string value = active ? SeenRecord{active->second.id, active->second.step}.format() : std::string();
  if (seen ? seen->value != value : !value.empty()) set_local(keys::kSeen, value);
  if (active && config_.auto_ack_data && active->second.step >= ChangeStep::kWriteBoth) {
    publish(keys::kData, active->second.id.to_string());
  }
}

std::vector<NodeId> GossipEngine::not_acknowledging(const ChangeRecord& change, bool data, size_t limit) const {
  // Every member that is not LEFT or REMOVED, down ones included (no change completes on one
  // side of a partition), must show the change at this step or later — and, for the data
  // barrier, that its embedder holds what it gains.
  std::vector<NodeId> out;
  for (size_t i = 0; i < state_.size() && out.size() < limit; ++i) {
    const NodeState& st = state_.state_at(i);
    // The dead node a removal or replace is for, this change's or another's in flight.
    if (st.is_tombstone() || state_.id_at(i) == change.subject || removal_of(state_.id_at(i))) continue;
    const VersionedValue* status = st.get(keys::kStatus);
    if (status && (status->value == to_string(NodeStatus::kLeft) || status->value == to_string(NodeStatus::kRemoved))) {
      continue;
    }
    const VersionedValue* seen_value = st.get(keys::kSeen);
    const auto seen = seen_value ? SeenRecord::parse(seen_value->value) : std::nullopt;
    bool ok = seen && seen->id == change.id && seen->step >= change.step;
    if (ok && data) {
      const VersionedValue* d = st.get(keys::kData);
      ok = d && d->value == change.id.to_string();
    }
    if (!ok) out.push_back(state_.id_at(i));
  }
  return out;
}

RingEpoch GossipEngine::ring_version() const {
  RingEpoch v;
  state_.for_each([&](const NodeId&, const NodeState& st) { v = std::max(v, epoch_of(st)); });
  return v;
}

void GossipEngine::bump_epoch() { set_local(keys::kEpoch, ring_version().next().to_string()); }

void GossipEngine::set_step(ChangeRecord change, ChangeStep step) {
  bump_epoch();
  ++ownership_writes_;
  change.step = step;
  const bool leaves = change.kind == ChangeKind::kDecommission && step == ChangeStep::kDone;
  const bool moves = change.kind == ChangeKind::kMove || change.kind == ChangeKind::kRebalance;
  if (change.on_behalf()) {
    set_local(keys::kChange, change.format());
    if (step == ChangeStep::kDone) write_tombstone(change.subject);  // its ranges have their new owners
    if (step == ChangeStep::kDone && change.kind == ChangeKind::kReplace) {
      set_local(keys::kStatus, std::string(to_string(NodeStatus::kNormal)));  // it holds the tokens now
    }
    publish_seen();
    if (step == ChangeStep::kAborted) note("change " + change.id.to_string() + " (" + std::string(to_string(change.kind)) + ") aborted");
    return;
  }
  if (step == ChangeStep::kDone && moves) {
    const NodeState* own = state_.find(config_.id);
    const VersionedValue* to = own ? own->get(keys::kMovingTo) : nullptr;
    if (to) set_local(keys::kTokens, to->value);
    set_local(keys::kStamp, std::to_string(change.stamp.value));  // the claim of the tokens it now owns
  }
  if (step == ChangeStep::kDone || step == ChangeStep::kAborted) {
    if (moves) set_local(keys::kMovingTo, "");
    set_local(keys::kStatus, std::string(to_string(leaves ? NodeStatus::kLeft : NodeStatus::kNormal)));
  }
  if (leaves) note("decommissioned: this node left the cluster and owns nothing; stop it when convenient");
  set_local(keys::kChange, change.format());
  publish_seen();
  if (step == ChangeStep::kAborted) note("change " + change.id.to_string() + " (" + std::string(to_string(change.kind)) + ") aborted");
}

std::string GossipEngine::acknowledge_data(const NodeId& change) {
  const auto active = active_change();
  if (!active || active->second.id != change) return "change " + change.to_string() + " is not in flight here";
  if (active->second.step < ChangeStep::kWriteBoth) {
    return "change " + change.to_string() + " has not reached write_both here; nothing to acknowledge yet";
  }
  publish(keys::kData, change.to_string());
  return "";
}

std::string GossipEngine::abort_change(const NodeId& change) {
  auto c = own_change();
  if (!c || c->id != change) return "change " + change.to_string() + " is not this node's";
  if (!in_flight(c->step)) return "change " + change.to_string() + " already ended (" + std::string(to_string(c->step)) + ")";
  if (c->kind == ChangeKind::kJoin || c->kind == ChangeKind::kReplace) {
    return "a " + std::string(to_string(c->kind)) +
           " cannot be rolled back; stop the joining node, and removenode it once it is seen down";
  }
  if (c->step >= ChangeStep::kReadNew) {
    return "change " + change.to_string() + " reads from its new owners already (" + std::string(to_string(c->step)) +
           "); it can only complete";
  }
  set_step(*c, ChangeStep::kAborted);
  change_waiting_.clear();
  return "";
}

void GossipEngine::drive_own_change(Millis now) {
  auto c = own_change();
  if (!c || !in_flight(c->step)) {
    change_waiting_.clear();
    return;
  }
  if (c->step == ChangeStep::kAnnounce) {
    // Two changes announced at once (neither saw the other): the later one yields, before it
    // routed anything differently. A replace or a join waits instead (its node is there to stay).
    if (c->kind == ChangeKind::kReplace) {
      // Two replaces (or a removal and a replace) of one node, announced apart: the first goes
      // on; this node ends its own and stops — it has nothing to take over.
      for (const NodeId& k : changing_) {
        auto other = ChangeRecord::parse(state_.find(k)->get(keys::kChange)->value);
        if (k == config_.id || !other->on_behalf() || other->subject != c->subject || !other->precedes(*c)) continue;
        set_step(*c, ChangeStep::kAborted);
        give_up("cannot replace " + c->subject.to_string() + ": node " + k.to_string() + " already " +
                    (other->kind == ChangeKind::kReplace ? "replaces" : "removes") + " it",
                now);
        change_waiting_.clear();
        return;
      }
    }
    auto first = active_change();
    if (first && first->second.id != c->id && (c->kind == ChangeKind::kReplace || c->kind == ChangeKind::kJoin)) {
      change_waiting_.clear();
      return;
    }
    if (first && first->second.id != c->id) {
      note("change " + c->id.to_string() + " yields to change " + first->second.id.to_string() + " of " +
           first->first.to_string() + ", announced first");
      set_step(*c, ChangeStep::kAborted);
      change_waiting_.clear();
      return;
    }
  }
  std::vector<NodeId> waiting = not_acknowledging(*c, c->step == ChangeStep::kWriteBoth, 64);
  if (waiting.empty()) {
    const ChangeStep next = static_cast<ChangeStep>(static_cast<uint8_t>(c->step) + 1);
    set_step(*c, next);
    hurry(now);
    if (next != ChangeStep::kDone) waiting = not_acknowledging(*own_change(), next == ChangeStep::kWriteBoth, 64);
  }
  if (waiting != change_waiting_ && !waiting.empty() && waiting.size() != change_waiting_.size()) {
    std::string ids;
    for (size_t i = 0; i < waiting.size() && i < 8; ++i) ids += (i ? ", " : "") + waiting[i].to_string();
    if (waiting.size() > 8) ids += ", ... (" + std::to_string(waiting.size()) + " in all)";
    note("change " + c->id.to_string() + " waits for members that have not acknowledged it: " + ids);
  }
  change_waiting_ = std::move(waiting);
}

std::vector<Envelope> GossipEngine::peer_refused(Millis now, const NodeId& id) {
  std::vector<Envelope> out;
  if (probe_ && probe_->target == id) {
    ++stats_.probes_failed;
    const NodeState* st = state_.find(id);
    liveness_.suspect(id, st ? st->generation : Generation{}, now);
    probe_.reset();
    start_check(now, out);  // the suspicion is checked at once: a refused check settles it
  } else if (liveness_.view(id) == PeerLiveness::kSuspect) {
    // Suspected, and now nothing even listens at its address (connection refused, not a lost
    // packet): direct evidence that the process is gone. Down here at once; peers decide alike
    // from their own checks.
    liveness_.mark_down(id);
    if (check_ && check_->target == id) check_.reset();
    start_check(now, out);
  } else if (!probe_ && liveness_.view(id) != PeerLiveness::kDown) {
    // Something else (a gossip exchange, a greeting) found nothing listening: probe that peer now
    // rather than wait for the random probe order to reach it. Only a failed probe suspects.
    const std::string address = address_of(id);
    if (!address.empty()) {
      ++stats_.probes_sent;
      probe_ = Probe{id, address, next_seq_++, now, false};
      out.push_back({address, make(ping_for(probe_->seq, id), &id)});
    }
  }
  return out;
}

std::vector<Envelope> GossipEngine::announce_shutdown(Millis now) {
  std::vector<Envelope> out;
  LivenessRecord bye = liveness_.self_record();
  bye.incarnation = bye.incarnation.next();
  bye.state = Liveness::kDown;
  for (size_t i = 0; i < state_.size(); ++i) {
    const NodeId& id = state_.id_at(i);
    if (id == config_.id || state_.state_at(i).is_tombstone()) continue;
    if (liveness_.view(id) == PeerLiveness::kDown) continue;
    const VersionedValue* addr = state_.state_at(i).get(keys::kAddress);
    if (!addr || addr->value.empty()) continue;
    Message m = make(Rumor{}, &id);
    m.liveness.push_back(bye);
    out.push_back({addr->value, std::move(m)});
  }
  (void)now;
  return out;
}

void GossipEngine::collect_left(Millis now) {
  // A LEFT node's payload (tokens, address, ...) is dropped once it has been LEFT for
  // left_expiry; what stays is a tombstone that no older life of that id can override. Every node
  // writes the same tombstone, so it does not matter who does it first. merge() records when an
  // entry is first seen LEFT, so this looks only at those.
  if (left_seen_.size() == 0) return;
  std::vector<NodeId> expired;
  std::vector<NodeId> restored;
  left_seen_.for_each([&](const NodeId& id, const Millis& since) {
    if (since == kLeftSeenAtNextTick) restored.push_back(id);
    if (since >= 0 && now - since >= config_.left_expiry) expired.push_back(id);
  });
  for (const NodeId& id : restored) left_seen_[id] = std::max<Millis>(now, 1);
  for (const NodeId& id : expired) {
    left_seen_[id] = -1;  // handled
    const NodeState* st = state_.find(id);
    const VersionedValue* status = st ? st->get(keys::kStatus) : nullptr;
    if (!st || st->is_tombstone() || !status || status->value != to_string(NodeStatus::kLeft)) continue;
    bump_epoch();  // its epoch leaves with its payload
    NodeState tomb;
    tomb.generation = kTombstoneGeneration;
    tomb.values.push_back({std::string(keys::kStatus), {std::string(to_string(NodeStatus::kLeft)), Version{1}}});
    merge({id, std::move(tomb)}, now);
    ++stats_.tombstones_written;
  }
}

void GossipEngine::set_local(std::string_view key, std::string value) {
  if (value.size() > config_.max_value_bytes || key.size() > kMaxKeyBytes) {
    note("refused to gossip " + std::string(key.substr(0, 64)) + ": " + std::to_string(value.size()) +
         " bytes, over the bound of " + std::to_string(config_.max_value_bytes) + " a value every peer applies");
    return;
  }
  // Versions only grow within a generation, even over an entry installed from elsewhere.
  if (const NodeState* own = state_.find(config_.id); own && own->generation == config_.generation) {
    local_version_ = std::max(local_version_, own->max_version);
  }
  if (key == keys::kStamp) observe_hlc(decode_stamp(value).value_or(HlcStamp{}));
  NodeState delta;
  delta.generation = config_.generation;
  local_version_ = local_version_.next();
  delta.values.push_back({std::string(key), {std::move(value), local_version_}});
  change_entry(config_.id, [&] { return state_.merge(config_.id, delta); });
}

void GossipEngine::install(const NodeId& id, NodeStatePtr st) {
  if (const VersionedValue* stamp = st->get(keys::kStamp)) observe_hlc(decode_stamp(stamp->value).value_or(HlcStamp{}));
  if (id == config_.id && st->is_tombstone()) removed_ = true;
  if (const VersionedValue* status = st->get(keys::kStatus);
      id != config_.id && !st->is_tombstone() && status && status->value == to_string(NodeStatus::kLeft)) {
    // Restored from disk (or installed whole): when it was first seen LEFT is not known here, so
    // its expiry starts at this node's next tick rather than never.
    left_seen_[id] = kLeftSeenAtNextTick;
  }
  change_entry(id, [&] {
    state_.put_shared(id, std::move(st));
    return true;
  });
}

Ping GossipEngine::ping_for(uint64_t seq, const NodeId& target) const {
  const NodeState* st = state_.find(target);
  return Ping{seq, target, st ? st->generation : Generation{}};
}

Message GossipEngine::make(Body body, const NodeId* to) {
  Message m;
  m.from = config_.id;
  m.cluster_id = config_.cluster_id;
  m.replication = replication_text_;
  m.from_address = config_.address;
  m.body = std::move(body);
  m.liveness = liveness_.take_rumors(state_.size());
  // Tell a peer we think is suspect or down, so that it can refute.
  if (to && liveness_.non_up_count() > 0) {
    if (const LivenessRecord* r = liveness_.record(*to); r && r->state != Liveness::kUp) {
      if (std::find(m.liveness.begin(), m.liveness.end(), *r) == m.liveness.end()) m.liveness.push_back(*r);
    }
  }
  return m;
}

std::string GossipEngine::address_of(const NodeId& id) const {
  const NodeState* st = state_.find(id);
  const VersionedValue* v = st ? st->get(keys::kAddress) : nullptr;
  return v ? v->value : std::string();
}

std::vector<std::pair<NodeId, std::string>> GossipEngine::random_live_peers(size_t want,
                                                                            const NodeId* except) {
  std::vector<std::pair<NodeId, std::string>> out;
  const size_t n = state_.size();
  if (n <= 1) return out;
  // Sample without replacement by rejection: cheap when want << n.
  std::vector<size_t> chosen;
  want = std::min(want, n - 1);
  for (size_t attempts = 0; out.size() < want && attempts < want * 8 + 8; ++attempts) {
    const size_t idx = rng_.below(n);
    if (std::find(chosen.begin(), chosen.end(), idx) != chosen.end()) continue;
    chosen.push_back(idx);
    const NodeId& pick = state_.id_at(idx);
    if (pick == config_.id || (except && pick == *except) || state_.state_at(idx).is_tombstone()) continue;
    if (liveness_.down_count() > 0 && liveness_.view(pick) == PeerLiveness::kDown) continue;
    const VersionedValue* addr = state_.state_at(idx).get(keys::kAddress);
    if (addr && !addr->value.empty()) out.push_back({pick, addr->value});
  }
  return out;
}

std::vector<std::pair<NodeId, std::string>> GossipEngine::pick_peers() {
  auto out = random_live_peers(config_.fanout, nullptr);
  // Now and then one node we believe down, so partitions heal without operator help.
  if (rng_.below(4) == 0 && liveness_.down_count() > 0) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      const size_t idx = rng_.below(state_.size());
      const NodeId& pick = state_.id_at(idx);
      if (liveness_.view(pick) != PeerLiveness::kDown || state_.state_at(idx).is_tombstone()) continue;
      const VersionedValue* addr = state_.state_at(idx).get(keys::kAddress);
      if (addr) out.push_back({pick, addr->value});
      break;
    }
  }
  // Seeds: always while we know nobody; otherwise now and then.
  if (!config_.seeds.empty() && (out.empty() || rng_.below(10) == 0)) {
    const std::string& seed = config_.seeds[rng_.below(config_.seeds.size())];
    const bool known = std::any_of(out.begin(), out.end(), [&](const auto& p) { return p.second == seed; });
    if (seed != config_.address && !known) out.push_back({NodeId(), seed});
  }
  return out;
}

void GossipEngine::gossip_round(Millis now, std::vector<Envelope>& out) {
  ++stats_.rounds;
  last_round_ = now;
  const uint64_t summary = state_.summary();
  const uint64_t down = liveness_.down_digest();
  for (auto& [id, address] : pick_peers()) {
    ++stats_.exchanges_started;
    out.push_back({std::move(address), make(Syn{summary, down}, id.is_nil() ? nullptr : &id)});
  }
}

void GossipEngine::probe_step(Millis now, std::vector<Envelope>& out) {
  const LivenessTimings& t = config_.liveness;
  if (probe_) {
    if (!probe_->indirect_sent && now >= probe_->sent_at + t.probe_timeout) {
      // No answer yet: ask a few others to try (a lossy link or a slow path is not a failure).
      probe_->indirect_sent = true;
      for (auto& [id, address] : random_live_peers(t.indirect_probes, &probe_->target)) {
        out.push_back({address, make(PingReq{probe_->seq, probe_->target, probe_->address}, &id)});
      }
    }
    if (now >= probe_->sent_at + t.probe_interval) {
      ++stats_.probes_failed;
      const NodeState* st = state_.find(probe_->target);
      liveness_.suspect(probe_->target, st ? st->generation : Generation{}, now);
      probe_.reset();
    }
  }
  // Suspects are checked directly every probe_timeout until the suspicion ends: the Ping carries
  // the suspicion, so a live suspect answers with its refutation straight to us.
  if (check_ && now >= check_->sent_at + t.probe_timeout) {
    liveness_.confirm(check_->target);
    check_.reset();
  }
  start_check(now, out);
  if (now >= next_probe_) {
    next_probe_ = now + t.probe_interval;
    if (!probe_) {
      auto target = random_live_peers(1, nullptr);
      if (!target.empty()) {
        ++stats_.probes_sent;
        probe_ = Probe{target[0].first, target[0].second, next_seq_++, now, false};
        out.push_back({probe_->address, make(ping_for(probe_->seq, probe_->target), &probe_->target)});
      }
    }
  }
}

void GossipEngine::start_check(Millis now, std::vector<Envelope>& out) {
  if (check_) return;
  if (auto suspect = liveness_.suspect_to_check()) {
    const std::string address = address_of(*suspect);
    if (!address.empty()) {
      check_ = Probe{*suspect, address, next_seq_++, now, true};
      out.push_back({address, make(ping_for(check_->seq, check_->target), &check_->target)});
    }
  }
}

void GossipEngine::send_greetings(std::vector<Envelope>& out) {
  // A node learned through gossip is pinged once at once: its answer makes it "up" here (heard
  // from directly) instead of "unknown" until a probe or an exchange happens to reach it. The
  // greeting's seq 0 matches no probe, so silence means nothing.
  for (const NodeId& id : greet_) {
    if (liveness_.view(id) != PeerLiveness::kUnknown) continue;
    const std::string address = address_of(id);
    if (!address.empty() && address != config_.address) out.push_back({address, make(ping_for(0, id), &id)});
  }
  greet_.clear();
}

void GossipEngine::push_fresh_rumors(std::vector<Envelope>& out) {
  if (!liveness_.has_fresh()) return;
  const auto fresh = liveness_.take_fresh();
  // A liveness change spreads at once (each node that learns it pushes it on), not only
  // piggybacked on the next probes: detection time is what users wait for. Our own refutation and
  // a suspicion go twice as wide: a node that misses a refutation may mark us down, and one that
  // misses a suspicion starts its own only when the "down" reaches it — a whole suspicion later
  // than everyone else (pushed to `fanout` peers by each learner, a node misses an epidemic with
  // probability ~e^-fanout; twice as wide, ~e^-2·fanout).
  // A refutation relayed by others goes as wide as the suspicion it answers: a member that got
  // the suspicion but misses the refutation marks a live node down.
  const bool wide = std::any_of(fresh.begin(), fresh.end(), [&](const LivenessRecord& r) {
    return r.node == config_.id || r.state == Liveness::kSuspect || (r.state == Liveness::kUp && r.incarnation > Incarnation{});
  });
  for (auto& [id, address] : random_live_peers(config_.fanout * (wide ? 2 : 1), nullptr)) {
    out.push_back({address, make(Rumor{}, &id)});
  }
}

std::vector<Envelope> GossipEngine::tick(Millis now) {
  std::vector<Envelope> out;
  if (removed_) return out;
  const LivenessTimings& t = config_.liveness;
  if (last_tick_ >= 0 && now - last_tick_ > 2 * std::max(t.probe_interval, config_.gossip_interval)) {
    // Our own timers fired late: this process was paused. Whatever went unanswered meanwhile
    // says nothing about the peers.
    ++stats_.stalls_detected;
    probe_.reset();
    check_.reset();
    liveness_.restart_suspicions(now);
    next_probe_ = now;
    next_gossip_ = now;
    regular_gossip_ = now;
  }
  last_tick_ = now;
  if (!started_) start(now);
  for (auto it = relays_.begin(); it != relays_.end();) {
    it = it->second.expires <= now ? relays_.erase(it) : std::next(it);
  }
  liveness_.expire(now, state_.size());
  probe_step(now, out);
  if (now >= next_gossip_) {
    // An extra round brought forward by news keeps the regular cadence's phase: nodes that
    // learn the same news together must not end up gossiping in lockstep.
    if (now >= regular_gossip_) regular_gossip_ = now + config_.gossip_interval;
    next_gossip_ = regular_gossip_;
    update_membership(now);
    collect_left(now);
    gossip_round(now, out);
  }
  send_greetings(out);
  push_fresh_rumors(out);
  if (removed_) out.clear();
  return out;
}

Millis GossipEngine::next_deadline() const {
  if (removed_) return std::numeric_limits<Millis>::max() / 2;  // silent for good
  Millis next = std::min(next_gossip_, next_probe_);
  if (probe_) {
    const LivenessTimings& t = config_.liveness;
    if (!probe_->indirect_sent) next = std::min(next, probe_->sent_at + t.probe_timeout);
    next = std::min(next, probe_->sent_at + t.probe_interval);
  }
  if (check_) next = std::min(next, check_->sent_at + config_.liveness.probe_timeout);
  if (auto e = liveness_.next_expiry(state_.size())) next = std::min(next, *e);
  return next;
}

void GossipEngine::apply_rumors(const Message& msg, Millis now, std::vector<Envelope>& out) {
  bool answer = false;
  std::vector<LivenessRecord> newer;  // ours, newer than what the sender told us
  for (const LivenessRecord& r : msg.liveness) {
    // The sender thinks we are suspect or down: whatever we do about it, tell it directly.
    if (r.node == config_.id && r.state != Liveness::kUp) answer = true;
    if (const LivenessRecord* mine = liveness_.record(r.node); mine && mine->supersedes(r)) {
      newer.push_back(*mine);
    }
    if (r.node != config_.id) {
      // Records about ids this node does not hold would grow its table without bound; a record
      // about an older life of a node than the one in our state is stale.
      const NodeState* st = state_.find(r.node);
      if (!st || st->is_tombstone()) {
        ++stats_.rejected_unknown;
        continue;
      }
      if (st->generation > r.generation) continue;
      // Nor is one about a run whose entry admissible() refuses (a clock far ahead): it would
      // shadow the node's later, honest runs (--reset-generation) for as long as we live.
      if (generation_too_far_ahead(r.generation, now)) {
        ++stats_.rejected_generation;
        continue;
      }
    }
    const Incarnation before = liveness_.self_record().incarnation;
    liveness_.apply(r, msg.from, now);
    if (liveness_.self_record().incarnation != before) ++stats_.refutations;
  }
  // A suspicion learned from a peer is checked directly now, not at the next probe step: a live
  // suspect refutes at once, a gone one is settled by a refused connect.
  if (liveness_.non_up_count() > 0) start_check(now, out);
  if (answer || !newer.empty()) {
    Message m = make(Rumor{}, &msg.from);
    if (answer) m.liveness.push_back(liveness_.self_record());
    for (const LivenessRecord& r : newer) {
      if (m.liveness.size() >= kMaxLivenessSync) break;
      if (std::find(m.liveness.begin(), m.liveness.end(), r) == m.liveness.end()) m.liveness.push_back(r);
    }
    out.push_back({msg.from_address, std::move(m)});
  }
}

bool GossipEngine::accept(const Message& msg) {
  if (msg.replication != replication_text_) {
    ++stats_.rejected_replication;
    return false;
  }
  if (!msg.cluster_id.is_nil()) {
    if (config_.cluster_id.is_nil()) {
      config_.cluster_id = msg.cluster_id;
    } else if (config_.cluster_id != msg.cluster_id) {
      ++stats_.rejected_cluster;
      return false;
    }
  }
  return true;
}

std::vector<NodeDelta> GossipEngine::deltas_for(const std::vector<Digest>& wanted) {
  std::vector<NodeDelta> out;
  size_t bytes = 0;
  for (const Digest& w : wanted) {
    auto d = state_.delta_since(w.id, w.generation, w.max_version);
    if (!d || d->values.empty()) continue;
    for (const auto& [k, v] : d->values) bytes += k.size() + v.value.size() + 16;
    out.push_back({w.id, std::move(*d)});
    if (bytes > config_.max_delta_bytes) break;  // the rest in a later round
  }
  return out;
}

std::vector<Envelope> GossipEngine::on_message(Millis now, const Message& msg) {
  std::vector<Envelope> out;
  if (removed_) return out;
  if (!accept(msg)) {
    // Answer an opening message (never an answer: two refusing nodes must not ping-pong), so the
    // sender sees our cluster id and replication settings, refuses them in turn and says why.
    if (std::holds_alternative<Syn>(msg.body) || std::holds_alternative<Ping>(msg.body)) {
      ++stats_.refusals_sent;
      Message m = make(Rumor{}, nullptr);
      m.liveness.clear();
      out.push_back({msg.from_address, std::move(m)});
    }
    return out;
  }
  if (state_.find(msg.from)) liveness_.heard(msg.from);  // unknown ids create no record
  apply_rumors(msg, now, out);
  if (auto* ping = std::get_if<Ping>(&msg.body)) {
    on_ping(now, msg, *ping, out);
  } else if (auto* pack = std::get_if<PingAck>(&msg.body)) {
    on_ping_ack(now, msg, *pack, out);
  } else if (auto* req = std::get_if<PingReq>(&msg.body)) {
    on_ping_req(now, msg, *req, out);
  } else if (std::holds_alternative<Rumor>(msg.body)) {
    // Its rumors were applied above; fresh ones are pushed on below.
  } else if (auto* syn = std::get_if<Syn>(&msg.body)) {
    on_syn(msg, *syn, out);
  } else if (auto* rep = std::get_if<SynReply>(&msg.body)) {
    on_syn_reply(msg, *rep, out);
  } else if (auto* dg = std::get_if<Digests>(&msg.body)) {
    on_digests(msg, *dg, out);
  } else if (auto* ack = std::get_if<Ack>(&msg.body)) {
    on_ack(now, msg, *ack, out);
  } else if (auto* a2 = std::get_if<Ack2>(&msg.body)) {
    for (const NodeDelta& d : a2->deltas) merge(d, now);
  }
  send_greetings(out);
  push_fresh_rumors(out);
  if (removed_) out.clear();  // learned just now: not another word
  return out;
}

void GossipEngine::on_ping(Millis now, const Message& msg, const Ping& ping, std::vector<Envelope>& out) {
  const std::string& reply_to = msg.from_address;
  const NodeId* peer = &msg.from;
  if (!ping.target.is_nil() && ping.target != config_.id) {
    // Meant for another node that used to listen here: silence, so the prober's probe of that
    // node fails as it should.
    ++stats_.misdirected_probes;
  } else {
    out.push_back({reply_to, make(PingAck{ping.seq, config_.id, config_.generation}, peer)});
    // A prober that still knows an earlier run of ours newer than our data dir holds its copy.
    // At most once a second, and only to the address the prober gossips (no amplification
    // toward an address a frame merely claims).
    if (!ping.target.is_nil() && (last_fetch_ < 0 || now - last_fetch_ >= 1000) && address_of(msg.from) == reply_to &&
        peer_holds_own(ping.target_generation, Version{})) {
      last_fetch_ = now;
      fetch_own_copy(reply_to, peer, out);
    }
  }
}

void GossipEngine::on_ping_ack(Millis now, const Message& msg, const PingAck& pack, std::vector<Envelope>& out) {
  // An answer about another node than the one probed (nil: a version-1 peer) proves nothing.
  auto answers = [&](const NodeId& target) { return pack.about.is_nil() || pack.about == target; };
  if (probe_ && probe_->seq == pack.seq) {
    if (!answers(probe_->target)) {
      ++stats_.misdirected_probes;
    } else {
      if (msg.from == probe_->target) stats_.probe_rtt.add(now - probe_->sent_at);  // direct answers only
      probe_.reset();  // answered, directly or through a helper
    }
  } else if (check_ && check_->seq == pack.seq) {
    if (answers(check_->target)) {
      check_.reset();
    } else {
      ++stats_.misdirected_probes;
    }
  } else if (auto it = relays_.find(pack.seq); it != relays_.end()) {
    if (answers(it->second.target)) {
      out.push_back({it->second.requester, make(PingAck{it->second.requester_seq, pack.about, pack.about_generation})});
      relays_.erase(it);
    } else {
      ++stats_.misdirected_probes;
    }
  }
}

void GossipEngine::on_ping_req(Millis now, const Message& msg, const PingReq& req, std::vector<Envelope>& out) {
  const std::string& reply_to = msg.from_address;
  // Probes on someone's behalf go only to members this node knows, at the address it knows:
  // a PingReq cannot aim this node at an arbitrary address.
  const NodeState* target = state_.find(req.target);
  const std::string address = address_of(req.target);
  if (!target || target->is_tombstone() || address.empty() || req.target == config_.id) {
    ++stats_.rejected_unknown;
  } else {
    const uint64_t seq = next_seq_++;
    relays_[seq] = Relay{reply_to, req.seq, now + config_.liveness.probe_interval, req.target};
    out.push_back({address, make(ping_for(seq, req.target), &req.target)});
  }
}

void GossipEngine::on_syn(const Message& msg, const Syn& syn, std::vector<Envelope>& out) {
  const std::string& reply_to = msg.from_address;
  const NodeId* peer = &msg.from;
  if (syn.down_digest != liveness_.down_digest()) {
    // We disagree on who is down: send ours; whichever side holds older records gets newer
    // ones back (see apply_rumors).
    Message m = make(Rumor{}, peer);
    // Successive exchanges cover every down record, kMaxLivenessSync at a time.
    for (const LivenessRecord& r : liveness_.down_records(kMaxLivenessSync, catchup_offset_)) m.liveness.push_back(r);
    catchup_offset_ += kMaxLivenessSync;
    out.push_back({reply_to, std::move(m)});
  }
  if (syn.summary == state_.summary()) {
    ++stats_.summaries_equal;
  } else {
    SynReply r;
    r.buckets.assign(state_.buckets().begin(), state_.buckets().end());
    out.push_back({reply_to, make(std::move(r), peer)});
  }
}

void GossipEngine::on_syn_reply(const Message& msg, const SynReply& rep, std::vector<Envelope>& out) {
  const std::string& reply_to = msg.from_address;
  const NodeId* peer = &msg.from;
  Digests d;
  for (uint32_t b = 0; b < ClusterState::kBuckets; ++b) {
    if (b >= rep.buckets.size() || rep.buckets[b] != state_.buckets()[b]) d.buckets.push_back(b);
  }
  if (!d.buckets.empty()) {
    d.digests = state_.digests_in(d.buckets);
    out.push_back({reply_to, make(std::move(d), peer)});
  }
}

void GossipEngine::on_digests(const Message& msg, const Digests& dg, std::vector<Envelope>& out) {
  const std::string& reply_to = msg.from_address;
  const NodeId* peer = &msg.from;
  Ack ack;
  std::vector<Digest> send;
  // Theirs vs mine, both sorted by id.
  std::vector<Digest> mine = state_.digests_in(dg.buckets);
  size_t i = 0, j = 0;
  while (i < dg.digests.size() || j < mine.size()) {
    if (j == mine.size() || (i < dg.digests.size() && dg.digests[i].id < mine[j].id)) {
      const Digest& t = dg.digests[i++];
      ack.requests.push_back({t.id, {}, {}});  // unknown to me: ask for everything
    } else if (i == dg.digests.size() || mine[j].id < dg.digests[i].id) {
      send.push_back({mine[j++].id, {}, {}});  // unknown to them
    } else {
      const Digest& t = dg.digests[i++];
      const Digest& m = mine[j++];
      if (t.id == config_.id) {
        note_own_shared(t.id, t.generation, t.max_version);  // what the peer holds of us
        if (peer_holds_own(t.generation, t.max_version)) {
          ack.requests.push_back({t.id, {}, {}});  // their whole copy; ours waits until we took it
          continue;
        }
        const NodeState* own = state_.find(config_.id);  // re-authored above theirs, maybe
        if (own && std::pair{own->generation, own->max_version} > std::pair{t.generation, t.max_version}) {
          send.push_back(t);
        }
        continue;
      }
      if (t.generation > m.generation || (t.generation == m.generation && t.max_version > m.max_version)) {
        ack.requests.push_back(m);
      } else if (m.generation > t.generation || m.max_version > t.max_version) {
        send.push_back(t);
      }
    }
  }
  ack.deltas = deltas_for(send);
  for (const NodeDelta& d : ack.deltas) note_own_shared(d.id, d.state.generation, d.state.max_version);
  if (!ack.deltas.empty() || !ack.requests.empty()) out.push_back({reply_to, make(std::move(ack), peer)});
}

void GossipEngine::on_ack(Millis now, const Message& msg, const Ack& ack, std::vector<Envelope>& out) {
  const std::string& reply_to = msg.from_address;
  const NodeId* peer = &msg.from;
  for (const NodeDelta& d : ack.deltas) merge(d, now);
  if (!ack.requests.empty()) {
    std::vector<Digest> wanted;
    bool fetch = false;
    for (const Digest& r : ack.requests) {
      if (r.id == config_.id && peer_holds_own(r.generation, r.max_version)) {
        fetch = true;  // their copy of us first; ours goes out once we took it
      } else {
        wanted.push_back(r);
      }
    }
    Ack2 a2{deltas_for(wanted)};
    for (const NodeDelta& d : a2.deltas) note_own_shared(d.id, d.state.generation, d.state.max_version);
    if (!a2.deltas.empty()) out.push_back({reply_to, make(std::move(a2), peer)});
    if (fetch) fetch_own_copy(reply_to, peer, out);
  }
}

std::shared_ptr<const RingSnapshot> GossipEngine::ring() {
  if (ring_ && ring_built_for_ == ring_input_) return ring_;
  ring_built_for_ = ring_input_;
  ring_ = ring_cache_.get(ring_input_ ^ mix64(std::hash<std::string>{}(replication_text_)), [&] {
    std::vector<NodeDescription> nodes = describe_entries([&](auto&& f) { state_.for_each(f); });
    return RingSnapshot::build(std::move(nodes), config_.replication, ring_version().value()).snapshot;
  });
  return ring_;
}

}  // namespace ringkeeper::gossip
