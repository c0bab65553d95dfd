#include "gossip/change.h"

#include <tuple>
#include <vector>

#include "gossip/hash.h"
#include "gossip/types.h"

namespace ringkeeper::gossip {

std::string_view to_string(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kMove: return "move";
    case ChangeKind::kDecommission: return "decommission";
    case ChangeKind::kRebalance: return "rebalance";
    case ChangeKind::kRemoveNode: return "removenode";
    case ChangeKind::kJoin: return "join";
    case ChangeKind::kReplace: return "replace";
  }
  return "unknown";
}

std::string_view to_string(ChangeStep step) {
  switch (step) {
    case ChangeStep::kAnnounce: return "announce";
    case ChangeStep::kWriteBoth: return "write_both";
    case ChangeStep::kReadNew: return "read_new";
    case ChangeStep::kRelease: return "release";
    case ChangeStep::kDone: return "done";
    case ChangeStep::kAborted: return "aborted";
  }
  return "unknown";
}

bool in_flight(ChangeStep step) { return step <= ChangeStep::kRelease; }

ChangePhase phase_of(ChangeStep step) {
  switch (step) {
    case ChangeStep::kAnnounce: return ChangePhase::kAnnounce;
    case ChangeStep::kWriteBoth: return ChangePhase::kWriteBoth;
    case ChangeStep::kReadNew: return ChangePhase::kReadNew;
    default: return ChangePhase::kRelease;
  }
}

namespace {

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t space = text.find(' ', pos);
    const size_t end = space == std::string_view::npos ? text.size() : space;
    out.push_back(text.substr(pos, end - pos));
    if (space == std::string_view::npos) break;
    pos = space + 1;
  }
  return out;
}

std::optional<ChangeStep> parse_step(std::string_view text) {
  for (auto s : {ChangeStep::kAnnounce, ChangeStep::kWriteBoth, ChangeStep::kReadNew, ChangeStep::kRelease,
                 ChangeStep::kDone, ChangeStep::kAborted}) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

}  // namespace

std::string ChangeRecord::format() const {
  std::string out = id.to_string() + " " + std::string(to_string(kind)) + " " + std::string(to_string(step)) +
                    " " + std::to_string(stamp.value);
  if (on_behalf()) out += " " + subject.to_string();
  return out;
}

std::optional<ChangeRecord> ChangeRecord::parse(std::string_view text) {
  const auto w = words(text);
  if (w.size() != 4 && w.size() != 5) return std::nullopt;
  ChangeRecord r;
  auto id = NodeId::parse(w[0]);
  auto step = parse_step(w[2]);
  if (!id || !step) return std::nullopt;
  bool known = false;
  for (auto k : {ChangeKind::kMove, ChangeKind::kDecommission, ChangeKind::kRebalance, ChangeKind::kRemoveNode,
                 ChangeKind::kJoin, ChangeKind::kReplace}) {
    if (w[1] == to_string(k)) {
      r.kind = k;
      known = true;
    }
  }
  if (!known) return std::nullopt;
  const auto stamp = decode_decimal(w[3]);
  if (!stamp) return std::nullopt;
  r.stamp = HlcStamp{*stamp};
  if (w.size() == 5) {
    auto subject = NodeId::parse(w[4]);
    if (!subject || subject->is_nil()) return std::nullopt;
    r.subject = *subject;
  }
  // A removenode and a replace name their subject; the other kinds change their coordinator's
  // own ownership alone.
  if (r.on_behalf() != (r.kind == ChangeKind::kRemoveNode || r.kind == ChangeKind::kReplace)) return std::nullopt;
  r.id = *id;
  r.step = *step;
  return r;
}

NodeId join_change_id(const NodeId& joiner, HlcStamp claim_stamp) {
  const uint64_t s = claim_stamp.value;
  return NodeId::from_random_bits(joiner.hi() ^ mix64(s), joiner.lo() ^ mix64(s + 1));
}

bool ChangeRecord::precedes(const ChangeRecord& other) const {
  return std::tie(stamp, id) < std::tie(other.stamp, other.id);
}

std::string SeenRecord::format() const { return id.to_string() + " " + std::string(to_string(step)); }

std::optional<SeenRecord> SeenRecord::parse(std::string_view text) {
  const auto w = words(text);
  if (w.size() != 2) return std::nullopt;
  auto id = NodeId::parse(w[0]);
  auto step = parse_step(w[1]);
  if (!id || !step) return std::nullopt;
  return SeenRecord{*id, *step};
}

}  // namespace ringkeeper::gossip
