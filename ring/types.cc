#include "ringkeeper/ring/types.h"

#include <charconv>

namespace ringkeeper {

std::optional<Token> Token::parse(std::string_view text) {
  uint64_t v = 0;
  if (text.empty() || text.front() == '+' || text.front() == '-') return std::nullopt;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 10);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return Token(v);
}

bool TokenRange::contains(Token t) const {
  if (is_full_ring()) return true;
  // Clockwise distance from start, exclusive of start.
  uint64_t span = end.value() - start.value();
  uint64_t off = t.value() - start.value();
  return off != 0 && off <= span;
}

double TokenRange::fraction() const {
  if (is_full_ring()) return 1.0;
  return static_cast<double>(end.value() - start.value()) * 0x1p-64;
}

namespace {
constexpr char kHex[] = "0123456789abcdef";
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string NodeId::to_string() const {
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 32; ++i) {
    uint64_t word = i < 16 ? hi_ : lo_;
    int shift = 60 - 4 * (i % 16);
    out.push_back(kHex[(word >> shift) & 0xF]);
    if (i == 7 || i == 11 || i == 15 || i == 19) out.push_back('-');
  }
  return out;
}

std::optional<NodeId> NodeId::parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  uint64_t words[2] = {0, 0};
  int nibble = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    int v = hex_value(text[i]);
    if (v < 0) return std::nullopt;
    words[nibble / 16] = (words[nibble / 16] << 4) | static_cast<uint64_t>(v);
    ++nibble;
  }
  return NodeId(words[0], words[1]);
}

NodeId NodeId::from_random_bits(uint64_t hi, uint64_t lo) {
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                          // version 4
  lo = (lo & ~(0xC000000000000000ULL)) | 0x8000000000000000ULL;  // RFC 4122 variant
  return NodeId(hi, lo);
}

std::string_view to_string(NodeStatus status) {
  switch (status) {
    case NodeStatus::kJoining: return "JOINING";
    case NodeStatus::kNormal: return "NORMAL";
    case NodeStatus::kLeaving: return "LEAVING";
    case NodeStatus::kMoving: return "MOVING";
    case NodeStatus::kLeft: return "LEFT";
    case NodeStatus::kRemoved: return "REMOVED";
  }
  return "UNKNOWN";
}

std::optional<NodeStatus> parse_node_status(std::string_view text) {
  for (auto s : {NodeStatus::kJoining, NodeStatus::kNormal, NodeStatus::kLeaving,
                 NodeStatus::kMoving, NodeStatus::kLeft, NodeStatus::kRemoved}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

std::string_view to_string(ChangePhase phase) {
  switch (phase) {
    case ChangePhase::kAnnounce: return "announce";
    case ChangePhase::kWriteBoth: return "write_both";
    case ChangePhase::kReadNew: return "read_new";
    case ChangePhase::kRelease: return "release";
  }
  return "unknown";
}

std::optional<ChangePhase> parse_change_phase(std::string_view text) {
  for (auto p : {ChangePhase::kAnnounce, ChangePhase::kWriteBoth, ChangePhase::kReadNew, ChangePhase::kRelease}) {
    if (to_string(p) == text) return p;
  }
  return std::nullopt;
}

bool owns_current_tokens(NodeStatus status) {
  return status == NodeStatus::kNormal || status == NodeStatus::kLeaving ||
         status == NodeStatus::kMoving;
}

}  // namespace ringkeeper
