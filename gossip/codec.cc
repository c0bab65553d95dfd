#include "gossip/codec.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

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
  }
  return "unknown";
}

bool LivenessRecord::supersedes(const LivenessRecord& o) const {
  if (generation != o.generation) return generation > o.generation;
  if (incarnation != o.incarnation) return incarnation > o.incarnation;
  return static_cast<uint8_t>(state) > static_cast<uint8_t>(o.state);
}

namespace {

constexpr size_t kMacBytes = 32;
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
  pk.pack_uint64(d.generation);
  pk.pack_uint64(d.max_version);
}
void pack_delta(Packer& pk, const NodeDelta& d) {
  pk.pack_array(4);
  pack_id(pk, d.id);
  pk.pack_uint64(d.state.generation);
  pk.pack_array(static_cast<uint32_t>(d.state.values.size()));
  for (const auto& [k, v] : d.state.values) {
    pk.pack_array(3);
    pack_str(pk, k);
    pack_str(pk, v.value);
    pk.pack_uint64(v.version);
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
  void operator()(const Ping& m) {
    if (version < 2) {
      pk.pack_array(1);
      pk.pack_uint64(m.seq);
      return;
    }
    pk.pack_array(4);
    pk.pack_uint64(m.seq);
    pack_id(pk, m.target);
    pk.pack_uint64(m.target_generation);
  }
  void operator()(const PingAck& m) { pk.pack_array(1); pk.pack_uint64(m.seq); }
  void operator()(const PingReq& m) {
    pk.pack_array(4);
    pk.pack_uint64(m.seq);
    pack_id(pk, m.target);
    pack_str(pk, m.target_address);
  }
  void operator()(const Rumor&) { pk.pack_array(0); }
};

std::string mac_of(std::string_view secret, std::string_view payload) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// msgpack builds a 24-byte object per element as it parses, before the Reader sees any, so its
// containers are capped up front: no array longer than the longest list we accept (nor than the
// payload has bytes: a 4-byte header can claim 2^32 entries), no string longer than a value, no
// maps, bins or exts (the schema has none), no nesting deeper than kMaxDepth.
static_assert(kMaxListEntries >= kMaxLivenessRecords && kMaxListEntries >= kMaxKeysPerEntry &&
              kMaxListEntries >= ClusterState::kBuckets && kMaxValueBytes >= kMaxKeyBytes);
msgpack::unpack_limit limits_for(size_t payload_bytes) {
  const size_t array = std::min<size_t>(payload_bytes, kMaxListEntries);
  const size_t str = std::min<size_t>(payload_bytes, kMaxValueBytes);
  return msgpack::unpack_limit(array, /*map=*/0, str, /*bin=*/0, /*ext=*/0, kMaxDepth);
}

// A list's length is only a claim until its elements decode: reserve this many at most, and let
// longer lists grow with the elements that did.
constexpr uint32_t kReserveUpFront = 1024;

// Reads a msgpack object tree with the schema's types; any mismatch, or a list or string over its
// cap, throws Malformed.
struct Malformed {};
struct Reader {
  static const msgpack::object* array(const msgpack::object& o, uint32_t min_size) {
    if (o.type != msgpack::type::ARRAY || o.via.array.size < min_size) throw Malformed{};
    return o.via.array.ptr;
  }
  static uint32_t size(const msgpack::object& o, uint32_t max_size) {
    if (o.type != msgpack::type::ARRAY || o.via.array.size > max_size) throw Malformed{};
    return o.via.array.size;
  }
  static uint64_t u64(const msgpack::object& o) {
    if (o.type != msgpack::type::POSITIVE_INTEGER) throw Malformed{};
    return o.via.u64;
  }
  static std::string str(const msgpack::object& o, uint32_t max_bytes = kMaxValueBytes) {
    if (o.type != msgpack::type::STR || o.via.str.size > max_bytes) throw Malformed{};
    return std::string(o.via.str.ptr, o.via.str.size);
  }
  static NodeId id(const msgpack::object* p) { return NodeId(u64(p[0]), u64(p[1])); }
  static Digest digest(const msgpack::object& o) {
    auto* p = array(o, 4);
    return {id(p), u64(p[2]), u64(p[3])};
  }
  static NodeDelta delta(const msgpack::object& o) {
    auto* p = array(o, 4);
    NodeDelta d{id(p), {}};
    d.state.generation = u64(p[2]);
    const uint32_t n = size(p[3], kMaxKeysPerEntry);
    auto* vs = p[3].via.array.ptr;
    d.state.values.reserve(std::min(n, kReserveUpFront));
    for (uint32_t i = 0; i < n; ++i) {
      auto* kv = array(vs[i], 3);
      VersionedValue v{str(kv[1]), u64(kv[2])};
      d.state.max_version = std::max(d.state.max_version, v.version);
      d.state.values.emplace_back(str(kv[0], kMaxKeyBytes), std::move(v));
    }
    std::sort(d.state.values.begin(), d.state.values.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return d;
  }
  template <class F>
  static auto list(const msgpack::object& o, uint32_t max_size, F&& f) {
    const uint32_t n = size(o, max_size);
    std::vector<decltype(f(o))> out;
    out.reserve(std::min(n, kReserveUpFront));
    for (uint32_t i = 0; i < n; ++i) out.push_back(f(o.via.array.ptr[i]));
    return out;
  }
};

Body read_body(uint64_t type, const msgpack::object& o) {
  using R = Reader;
  namespace t = wire_tag;
  switch (type) {
    case t::kSyn: {
      auto* p = R::array(o, 2);
      return Syn{R::u64(p[0]), R::u64(p[1])};
    }
    case t::kSynReply: return SynReply{R::list(R::array(o, 1)[0], ClusterState::kBuckets, R::u64)};
    case t::kDigests: {
      auto* p = R::array(o, 2);
      return Digests{R::list(p[0], ClusterState::kBuckets, [](const msgpack::object& b) {
                       const uint64_t v = R::u64(b);
                       if (v >= ClusterState::kBuckets) throw Malformed{};
                       return static_cast<uint32_t>(v);
                     }),
                     R::list(p[1], kMaxListEntries, R::digest)};
    }
    case t::kAck: {
      auto* p = R::array(o, 2);
      return Ack{R::list(p[0], kMaxListEntries, R::delta),
                 R::list(p[1], kMaxListEntries, R::digest)};
    }
    case t::kAck2: return Ack2{R::list(R::array(o, 1)[0], kMaxListEntries, R::delta)};
    case t::kPing: {
      auto* p = R::array(o, 1);
      Ping ping{R::u64(p[0]), NodeId(), 0};
      if (o.via.array.size >= 4) ping = Ping{ping.seq, R::id(p + 1), R::u64(p[3])};
      return ping;
    }
    case t::kPingAck: return PingAck{R::u64(R::array(o, 1)[0])};
    case t::kPingReq: {
      auto* p = R::array(o, 4);
      return PingReq{R::u64(p[0]), R::id(p + 1), R::str(p[3])};
    }
    case t::kRumor: R::array(o, 0); return Rumor{};
  }
  throw Malformed{};
}

}  // namespace

std::string encode(const Message& msg, const CodecOptions& opts, uint32_t version) {
  if (version == 0) version = opts.newest_version;
  msgpack::sbuffer buf;
  buf.write("\0\0\0\0", 4);  // length prefix, filled in below
  const size_t start = buf.size();
  Packer pk(&buf);
  pk.pack_array(12);
  pk.pack_uint32(version);
  pack_str(pk, opts.cluster_name);
  pk.pack_uint32(wire_tag_of(msg.body));
  pack_id(pk, msg.from);
  pack_id(pk, msg.cluster_id);
  pack_str(pk, msg.replication);
  pack_str(pk, msg.from_address);
  std::visit(BodyPacker{pk, version}, msg.body);
  pack_list(pk, msg.liveness, [](Packer& p, const LivenessRecord& r) {
    p.pack_array(5);
    pack_id(p, r.node);
    p.pack_uint64(r.generation);
    p.pack_uint64(r.incarnation);
    p.pack_uint8(static_cast<uint8_t>(r.state));
  });
  // A trailing field every version reads or skips: what the sender speaks.
  pk.pack_uint32(opts.newest_version);
  std::string out(buf.data(), buf.size());
  if (!opts.secret.empty()) out += mac_of(opts.secret, std::string_view(out).substr(start));
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
  if (!opts.secret.empty()) {
    if (payload.size() < kMacBytes) {
      r.error = DecodeError::kBadMac;
      return r;
    }
    std::string_view mac = payload.substr(payload.size() - kMacBytes);
    payload.remove_suffix(kMacBytes);
    const std::string want = mac_of(opts.secret, payload);
    if (CRYPTO_memcmp(want.data(), mac.data(), kMacBytes) != 0) {
      r.error = DecodeError::kBadMac;
      return r;
    }
  }
  try {
    msgpack::object_handle oh = msgpack::unpack(payload.data(), payload.size(), nullptr, nullptr, limits_for(payload.size()));
    const msgpack::object& root = oh.get();
    auto* p = Reader::array(root, 11);
    const uint64_t version = Reader::u64(p[0]);
    if (version < kMinWireVersion || version > opts.newest_version) {
      r.error = DecodeError::kWrongVersion;
      return r;
    }
    r.version = static_cast<uint32_t>(version);
    r.sender_newest = r.version;
    if (root.via.array.size >= 12) {
      // Clamped to what we speak: a peer claiming more is written to at our newest.
      r.sender_newest = static_cast<uint32_t>(std::clamp<uint64_t>(Reader::u64(p[11]), r.version, opts.newest_version));
    }
    if (Reader::str(p[1]) != opts.cluster_name) {
      r.error = DecodeError::kWrongCluster;
      return r;
    }
    Message m;
    const uint64_t type = Reader::u64(p[2]);
    m.from = Reader::id(p + 3);
    m.cluster_id = Reader::id(p + 5);
    m.replication = Reader::str(p[7]);
    m.from_address = Reader::str(p[8]);
    m.body = read_body(type, p[9]);
    m.liveness = Reader::list(p[10], kMaxLivenessRecords, [](const msgpack::object& o) {
      auto* q = Reader::array(o, 5);
      const uint64_t st = Reader::u64(q[4]);
      if (st > 2) throw Malformed{};
      return LivenessRecord{Reader::id(q), Reader::u64(q[2]), Reader::u64(q[3]),
                            static_cast<Liveness>(st)};
    });
    r.message = std::move(m);
  } catch (const Malformed&) {
    r.error = DecodeError::kMalformed;
  } catch (const std::exception&) {  // msgpack's own parse errors
    r.error = DecodeError::kMalformed;
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

uint32_t PeerVersions::version_for(const std::string& address) const {
  auto it = newest_.find(address);
  const uint32_t v = it == newest_.end() ? kMinWireVersion : std::min(it->second, own_newest_);
  return std::max(v, kMinWireVersion);
}

std::string encode_node_state(const NodeState& state) {
  msgpack::sbuffer buf;
  Packer pk(&buf);
  pack_delta(pk, NodeDelta{NodeId(), state});
  return std::string(buf.data(), buf.size());
}

std::optional<NodeState> decode_node_state(std::string_view bytes) {
  try {
    msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr, limits_for(bytes.size()));
    return Reader::delta(oh.get()).state;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace ringkeeper::gossip
