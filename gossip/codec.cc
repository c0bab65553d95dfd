#include "gossip/codec.h"

#include <algorithm>

#include <msgpack.hpp>

namespace ringkeeper::gossip {

std::string_view to_string(DecodeError e) {
  switch (e) {
    case DecodeError::kNone: return "none";
    case DecodeError::kTruncated: return "truncated";
    case DecodeError::kOversized: return "oversized";
    case DecodeError::kBadMac: return "bad_mac";
    case DecodeError::kWrongVersion: return "wrong_version";
    case DecodeError::kWrongCluster: return "wrong_cluster";
    case DecodeError::kMalformed: return "malformed";
    case DecodeError::kPlaintext: return "plaintext";
    case DecodeError::kReplayed: return "replayed";
    case DecodeError::kStale: return "stale";
  }
  return "unknown";
}

bool LivenessRecord::supersedes(const LivenessRecord& o) const {
  if (generation != o.generation) return generation > o.generation;
  if (incarnation != o.incarnation) return incarnation > o.incarnation;
  return static_cast<uint8_t>(state) > static_cast<uint8_t>(o.state);
}

namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

void pack_str(Packer& pk, std::string_view s) {
  pk.pack_str(static_cast<uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}
void pack_id(Packer& pk, const NodeId& id) {
  pk.pack_uint64(id.hi());
  pk.pack_uint64(id.lo());
}
void pack_digest(Packer& pk, const Digest& d) {
  pk.pack_array(4);
  pack_id(pk, d.id);
  pk.pack_uint64(d.generation.value());
  pk.pack_uint64(d.max_version.value());
}
void pack_delta(Packer& pk, const NodeDelta& d) {
  pk.pack_array(4);
  pack_id(pk, d.id);
  pk.pack_uint64(d.state.generation.value());
  pk.pack_array(static_cast<uint32_t>(d.state.values.size()));
  for (const auto& [k, v] : d.state.values) {
    pk.pack_array(3);
    pack_str(pk, k);
    pack_str(pk, v.value);
    pk.pack_uint64(v.version.value());
  }
}
template <class T, class F>
void pack_list(Packer& pk, const std::vector<T>& xs, F&& f) {
  pk.pack_array(static_cast<uint32_t>(xs.size()));
  for (const T& x : xs) f(pk, x);
}

struct BodyPacker {
  Packer& pk;
  uint32_t version;
  void operator()(const Syn& m) {
    pk.pack_array(2);
    pk.pack_uint64(m.summary);
    pk.pack_uint64(m.down_digest);
  }
  void operator()(const SynReply& m) {
    pk.pack_array(1);
    pack_list(pk, m.buckets, [](Packer& p, uint64_t b) { p.pack_uint64(b); });
  }
  void operator()(const Digests& m) {
    pk.pack_array(2);
    pack_list(pk, m.buckets, [](Packer& p, uint32_t b) { p.pack_uint32(b); });
    pack_list(pk, m.digests, pack_digest);
  }
  void operator()(const Ack& m) {
    pk.pack_array(2);
    pack_list(pk, m.deltas, pack_delta);
    pack_list(pk, m.requests, pack_digest);
  }
  void operator()(const Ack2& m) { pk.pack_array(1); pack_list(pk, m.deltas, pack_delta); }
  // Ping's target travels at version 1 too: builds of that version already wrote and read it.
  void operator()(const Ping& m) { seq_and_node(m.seq, m.target, m.target_generation, true); }
  void operator()(const PingAck& m) { seq_and_node(m.seq, m.about, m.about_generation, version >= 2); }
  // [seq], or [seq, id hi, id lo, generation] with the node it names.
  void seq_and_node(uint64_t seq, const NodeId& node, Generation generation, bool with_node) {
    pk.pack_array(with_node ? 4 : 1);
    pk.pack_uint64(seq);
    if (!with_node) return;
    pack_id(pk, node);
    pk.pack_uint64(generation.value());
  }
  void operator()(const PingReq& m) {
    pk.pack_array(4);
    pk.pack_uint64(m.seq);
    pack_id(pk, m.target);
    pack_str(pk, m.target_address);
  }
  void operator()(const Rumor&) { pk.pack_array(0); }
  void operator()(const KeyOp& m) {
    pk.pack_array(4);
    pk.pack_uint64(m.op);
    pk.pack_uint8(static_cast<uint8_t>(m.kind));
    pack_str(pk, m.key);
    pack_str(pk, m.fingerprint);
  }
  void operator()(const KeyOpAck& m) {
    pk.pack_array(4);
    pk.pack_uint64(m.op);
    pack_str(pk, m.error);
    pack_str(pk, m.primary);
    pack_list(pk, m.fingerprints, [](Packer& p, const std::string& f) { pack_str(p, f); });
  }
};

static_assert(kMaxListEntries >= kMaxLivenessRecords && kMaxListEntries >= kMaxKeysPerEntry &&
              kMaxListEntries >= ClusterState::kBuckets && kMaxValueBytes >= kMaxKeyBytes);

// Of another cluster's name, what a refusal keeps for its log line.
constexpr size_t kMaxForeignClusterName = 64;

// A list's length is only a claim until its elements decode: reserve this many at most, and let
// longer lists grow with the elements that did.
constexpr uint32_t kReserveUpFront = 1024;

// Reads msgpack straight from the payload into the message, element by element, with the schema's
// types: no intermediate object tree (a tree costs 24 bytes per element before anything is
// checked), and no list reserved beyond what its elements proved. Any mismatch, a list or string
// over its cap, nesting deeper than kMaxDepth, or more than kMaxElementsPerMessage list elements in
// one message altogether throws Malformed. Trailing elements a later version appends are skipped.
struct Malformed {};
class Reader {
 public:
  Reader(std::string_view bytes) : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}
  bool at_end() const { return p_ == end_; }

  // An array header: its length, at least min_size.
  uint32_t array(uint32_t min_size, uint32_t max_size = UINT32_MAX) {
    const uint8_t t = byte();
    uint32_t n;
    if ((t & 0xf0) == 0x90) {
      n = t & 0x0f;
    } else if (t == 0xdc) {
      n = static_cast<uint32_t>(be(2));
    } else if (t == 0xdd) {
      n = static_cast<uint32_t>(be(4));
    } else {
      throw Malformed{};
    }
    // Every element takes a byte at least: a header cannot claim more than the payload holds.
    if (n < min_size || n > max_size || n > static_cast<size_t>(end_ - p_)) throw Malformed{};
    return n;
  }
  // A list's header: counts against the message's element budget.
  uint32_t list(uint32_t max_size) {
    const uint32_t n = array(0, max_size);
    if (n > budget_) throw Malformed{};
    budget_ -= n;
    return n;
  }
  uint64_t u64() {
    const uint8_t t = byte();
    if (t <= 0x7f) return t;
    uint64_t v;
    int64_t sv;
    switch (t) {
      case 0xcc: return be(1);
      case 0xcd: return be(2);
      case 0xce: return be(4);
      case 0xcf: return be(8);
      // Signed forms with a non-negative value (another encoder's choice) are the same number.
      case 0xd0: sv = static_cast<int8_t>(be(1)); break;
      case 0xd1: sv = static_cast<int16_t>(be(2)); break;
      case 0xd2: sv = static_cast<int32_t>(be(4)); break;
      case 0xd3: v = be(8); sv = static_cast<int64_t>(v); break;
      default: throw Malformed{};
    }
    if (sv < 0) throw Malformed{};
    return static_cast<uint64_t>(sv);
  }
  std::string str(uint32_t max_bytes = kMaxValueBytes) {
    const std::string_view v = str_view(max_bytes);
    return std::string(v);
  }
  std::string_view str_view(uint32_t max_bytes) {
    const uint8_t t = byte();
    size_t n;
    if ((t & 0xe0) == 0xa0) {
      n = t & 0x1f;
    } else if (t == 0xd9) {
      n = be(1);
    } else if (t == 0xda) {
      n = be(2);
    } else if (t == 0xdb) {
      n = be(4);
    } else {
      throw Malformed{};
    }
    if (n > max_bytes || n > static_cast<size_t>(end_ - p_)) throw Malformed{};
    const std::string_view out(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return out;
  }
  NodeId id() {
    const uint64_t hi = u64();
    return NodeId(hi, u64());
  }
  // Skips `n` elements of any type the schema uses (arrays, integers, strings, nil, booleans):
  // what a later version appended.
  void skip(uint32_t n, uint32_t depth = 0) {
    if (depth > kMaxDepth) throw Malformed{};
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t t = peek();
      if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd) {
        skip(array(0), depth + 1);
      } else if ((t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb)) {
        (void)str_view(UINT32_MAX);  // bounded by the payload
      } else if (t == 0xc0 || t == 0xc2 || t == 0xc3) {
        ++p_;
      } else {
        (void)u64();
      }
    }
  }
  // Enters an array of at least `fields` elements; returns how many trailing ones to skip after
  // reading `fields`. Nesting is bounded.
  uint32_t record(uint32_t fields) {
    if (++depth_ > kMaxDepth) throw Malformed{};
    return array(fields) - fields;
  }
  void end_record(uint32_t trailing) {
    skip(trailing, depth_);
    --depth_;
  }

  Digest digest() {
    const uint32_t extra = record(4);
    Digest d{id(), {}, {}};
    d.generation = Generation{u64()};
    d.max_version = Version{u64()};
    end_record(extra);
    return d;
  }
  NodeDelta delta() {
    const uint32_t extra = record(4);
    NodeDelta d{id(), {}};
    d.state.generation = Generation{u64()};
    const uint32_t n = list(kMaxKeysPerEntry);
    ++depth_;
    d.state.values.reserve(std::min(n, kReserveUpFront));
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t kv_extra = record(3);
      std::string key = str(kMaxKeyBytes);
      VersionedValue v{str(), {}};
      v.version = Version{u64()};
      end_record(kv_extra);
      d.state.max_version = std::max(d.state.max_version, v.version);
      d.state.values.emplace_back(std::move(key), std::move(v));
    }
    --depth_;
    std::sort(d.state.values.begin(), d.state.values.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    end_record(extra);
    return d;
  }
  LivenessRecord liveness() {
    const uint32_t extra = record(5);
    LivenessRecord r{id(), {}, {}, Liveness::kUp};
    r.generation = Generation{u64()};
    r.incarnation = Incarnation{u64()};
    const uint64_t st = u64();
    if (st > 2) throw Malformed{};
    r.state = static_cast<Liveness>(st);
    end_record(extra);
    return r;
  }
  template <class F>
  auto list_of(uint32_t max_size, F&& read_one) {
    const uint32_t n = list(max_size);
    ++depth_;
    std::vector<decltype(read_one())> out;
    out.reserve(std::min(n, kReserveUpFront));
    for (uint32_t i = 0; i < n; ++i) out.push_back(read_one());
    --depth_;
    return out;
  }

 private:
  uint8_t peek() const {
    if (p_ == end_) throw Malformed{};
    return *p_;
  }
  uint8_t byte() {
    const uint8_t b = peek();
    ++p_;
    return b;
  }
  uint64_t be(int bytes) {
    if (end_ - p_ < bytes) throw Malformed{};
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | p_[i];
    p_ += bytes;
    return v;
  }

  const uint8_t* p_;
  const uint8_t* end_;
  uint32_t depth_ = 0;
  uint32_t budget_ = kMaxElementsPerMessage;  // list elements left for this message
};

// A fingerprint is 16 hex digits; 64 bytes leaves room without letting a peer send megabytes.
constexpr uint32_t kMaxFingerprintBytes = 64;
constexpr uint32_t kMaxKeyOpKeys = 256;

KeyOp read_key_op(Reader& r, uint32_t& extra) {
  extra = r.record(4);
  KeyOp m;
  m.op = r.u64();
  const uint64_t kind = r.u64();
  if (kind > static_cast<uint64_t>(KeyOpKind::kRemove)) throw Malformed{};
  m.kind = static_cast<KeyOpKind>(kind);
  m.key = r.str(kMaxFingerprintBytes);
  m.fingerprint = r.str(kMaxFingerprintBytes);
  return m;
}

KeyOpAck read_key_op_ack(Reader& r, uint32_t& extra) {
  extra = r.record(4);
  KeyOpAck m;
  m.op = r.u64();
  m.error = r.str(1024);
  m.primary = r.str(kMaxFingerprintBytes);
  m.fingerprints = r.list_of(kMaxKeyOpKeys, [&] { return r.str(kMaxFingerprintBytes); });
  return m;
}

// Long on purpose: one case per wire tag, in tag order, each a few lines — it reads as the table
// of body formats (docs/wire.md) and stays beside the tag list it must cover.
Body read_body(uint64_t type, Reader& r) {
  namespace t = wire_tag;
  auto bucket = [&] {
    const uint64_t v = r.u64();
    if (v >= ClusterState::kBuckets) throw Malformed{};
    return static_cast<uint32_t>(v);
  };
  auto u64 = [&] { return r.u64(); };
  auto digest = [&] { return r.digest(); };
  auto delta = [&] { return r.delta(); };
  // [seq] (version 1) or [seq, id hi, id lo, generation] (version 2); returns the fields left.
  auto seq_and_node = [&](uint64_t& seq, NodeId& node, Generation& generation) {
    uint32_t more = r.record(1);
    seq = r.u64();
    if (more >= 3) {
      node = r.id();
      generation = Generation{r.u64()};
      more -= 3;
    }
    return more;
  };
  Body body;
  uint32_t extra = 0;
  switch (type) {
    case t::kSyn: {
      extra = r.record(2);
      Syn m{r.u64(), 0};
      m.down_digest = r.u64();
      body = m;
      break;
    }
    case t::kSynReply:
      extra = r.record(1);
      body = SynReply{r.list_of(ClusterState::kBuckets, u64)};
      break;
    case t::kDigests: {
      extra = r.record(2);
      Digests m;
      m.buckets = r.list_of(ClusterState::kBuckets, bucket);
      m.digests = r.list_of(kMaxListEntries, digest);
      body = std::move(m);
      break;
    }
    case t::kAck: {
      extra = r.record(2);
      Ack m;
      m.deltas = r.list_of(kMaxListEntries, delta);
      m.requests = r.list_of(kMaxListEntries, digest);
      body = std::move(m);
      break;
    }
    case t::kAck2:
      extra = r.record(1);
      body = Ack2{r.list_of(kMaxListEntries, delta)};
      break;
    case t::kPing: {
      Ping m;
      extra = seq_and_node(m.seq, m.target, m.target_generation);  // version 2 names the target
      body = m;
      break;
    }
    case t::kPingAck: {
      PingAck m;
      extra = seq_and_node(m.seq, m.about, m.about_generation);  // version 2 names who answered
      body = m;
      break;
    }
    case t::kPingReq: {
      extra = r.record(4);
      PingReq m;
      m.seq = r.u64();
      m.target = r.id();
      m.target_address = r.str();
      body = std::move(m);
      break;
    }
    case t::kRumor:
      extra = r.record(0);
      body = Rumor{};
      break;
    case t::kKeyOp:
      body = read_key_op(r, extra);
      break;
    case t::kKeyOpAck:
      body = read_key_op_ack(r, extra);
      break;
    default: throw Malformed{};
  }
  r.end_record(extra);
  return body;
}

}  // namespace

std::string encode(const Message& msg, const CodecOptions& opts, uint32_t version) {
  if (version == 0) version = opts.newest_version;
  msgpack::sbuffer buf;
  buf.write("\0\0\0\0", 4);  // length prefix, filled in below
  Packer pk(&buf);
  pk.pack_array(12);
  pk.pack_uint32(version);
  pack_str(pk, opts.cluster_name);
  pk.pack_uint32(wire_tag_of(msg.body));
  pack_id(pk, msg.from);
  pack_id(pk, msg.cluster_id.uuid());
  pack_str(pk, msg.replication);
  pack_str(pk, msg.from_address);
  std::visit(BodyPacker{pk, version}, msg.body);
  pack_list(pk, msg.liveness, [](Packer& p, const LivenessRecord& r) {
    p.pack_array(5);
    pack_id(p, r.node);
    p.pack_uint64(r.generation.value());
    p.pack_uint64(r.incarnation.value());
    p.pack_uint8(static_cast<uint8_t>(r.state));
  });
  // A trailing field every version reads or skips: what the sender speaks.
  pk.pack_uint32(opts.newest_version);
  std::string out(buf.data(), buf.size());
  const uint32_t len = static_cast<uint32_t>(out.size() - 4);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(len >> (24 - 8 * i));
  return out;
}

DecodeResult decode(std::string_view bytes, const CodecOptions& opts) {
  DecodeResult r;
  if (bytes.size() < 4) {
    r.error = DecodeError::kTruncated;
    return r;
  }
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len = (len << 8) | static_cast<uint8_t>(bytes[i]);
  if (len > opts.max_frame) {
    r.error = DecodeError::kOversized;
    return r;
  }
  if (bytes.size() < 4 + size_t{len}) {
    r.error = DecodeError::kTruncated;
    return r;
  }
  r.consumed = 4 + size_t{len};
  std::string_view payload = bytes.substr(4, len);
  try {
    Reader in(payload);
    const uint32_t extra = in.record(11);
    const uint64_t version = in.u64();
    if (version < kMinWireVersion || version > opts.newest_version) {
      r.error = DecodeError::kWrongVersion;
      return r;
    }
    r.version = static_cast<uint32_t>(version);
    // Another cluster's frame is refused, but read on: the refusal names the sender and, for an
    // opening message, is answered (the runtime's, like a replication refusal's answer).
    if (const std::string_view name = in.str_view(kMaxValueBytes); name != opts.cluster_name) {
      r.error = DecodeError::kWrongCluster;
      r.foreign_cluster = std::string(name.substr(0, kMaxForeignClusterName));
    }
    Message m;
    const uint64_t type = in.u64();
    m.from = in.id();
    m.cluster_id = ClusterId(in.id());
    m.replication = in.str();
    m.from_address = in.str();
    m.body = read_body(type, in);
    m.liveness = in.list_of(kMaxLivenessRecords, [&] { return in.liveness(); });
    r.sender_newest = r.version;
    uint32_t trailing = extra;
    if (trailing > 0) {
      // Clamped to what we speak: a peer claiming more is written to at our newest.
      r.sender_newest = static_cast<uint32_t>(std::clamp<uint64_t>(in.u64(), r.version, opts.newest_version));
      --trailing;
    }
    in.end_record(trailing);
    if (!in.at_end()) throw Malformed{};
    r.message = std::move(m);
  } catch (const Malformed&) {
    if (r.error != DecodeError::kWrongCluster) r.error = DecodeError::kMalformed;
  } catch (const std::bad_alloc&) {  // bounded above, but never let a frame take the node down
    if (r.error != DecodeError::kWrongCluster) r.error = DecodeError::kMalformed;
  }
  return r;
}

uint32_t wire_tag_of(const Body& body) {
  struct Tag {
    uint32_t operator()(const Syn&) const { return wire_tag::kSyn; }
    uint32_t operator()(const SynReply&) const { return wire_tag::kSynReply; }
    uint32_t operator()(const Digests&) const { return wire_tag::kDigests; }
    uint32_t operator()(const Ack&) const { return wire_tag::kAck; }
    uint32_t operator()(const Ack2&) const { return wire_tag::kAck2; }
    uint32_t operator()(const Ping&) const { return wire_tag::kPing; }
    uint32_t operator()(const PingAck&) const { return wire_tag::kPingAck; }
    uint32_t operator()(const PingReq&) const { return wire_tag::kPingReq; }
    uint32_t operator()(const Rumor&) const { return wire_tag::kRumor; }
    uint32_t operator()(const KeyOp&) const { return wire_tag::kKeyOp; }
    uint32_t operator()(const KeyOpAck&) const { return wire_tag::kKeyOpAck; }
  };
  return std::visit(Tag{}, body);
}

void PeerVersions::heard(const std::string& address, uint32_t sender_newest) {
  auto it = newest_.find(address);
  if (it != newest_.end()) {
    it->second = sender_newest;  // a restarted peer may run another build
    return;
  }
  if (newest_.size() >= max_peers_) newest_.clear();
  newest_.emplace(address, sender_newest);
}

uint32_t PeerVersions::version_for(const std::string& address, uint32_t gossiped) const {
  auto it = newest_.find(address);
  const uint32_t peer = it != newest_.end() ? it->second : gossiped != 0 ? gossiped : kMinWireVersion;
  return std::clamp(peer, kMinWireVersion, own_newest_);
}

std::string encode_node_state(const NodeState& state) {
  msgpack::sbuffer buf;
  Packer pk(&buf);
  pack_delta(pk, NodeDelta{NodeId(), state});
  return std::string(buf.data(), buf.size());
}

std::optional<NodeState> decode_node_state(std::string_view bytes) {
  try {
    Reader in(bytes);
    NodeState st = in.delta().state;
    if (!in.at_end()) return std::nullopt;
    return st;
  } catch (const Malformed&) {
    return std::nullopt;
  }
}

}  // namespace ringkeeper::gossip
