// Phased ownership changes: the record a coordinating node gossips for its change, and the
// acknowledgements every member gossips, which together make the one barrier primitive that moves
// a change from phase to phase (docs/design.md, "Phased ownership changes"). Pure values and
// parsing; the engine drives the phases.
//
//   coordinator's entry   change = "<id> <kind> <phase> <stamp>[ <subject>]"   (plus the change's
//                                                   own keys, e.g. moving_to for a move; a change
//                                                   made on behalf of another node names it: the
//                                                   subject of a removenode)
//   every member's entry  seen   = "<id> <phase>"   the change it routes by, and that change's phase
//                         data   = "<id>"           its embedder holds the ranges it gains
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ringkeeper/ring/types.h"

namespace ringkeeper::gossip {

namespace keys {
inline constexpr std::string_view kChange = "change";
inline constexpr std::string_view kMovingTo = "moving_to";
inline constexpr std::string_view kSeen = "seen";
inline constexpr std::string_view kData = "data";
// The change records this build reads: "2" for join and replace records and records with a
// subject (removenode, replace). A build without it reads only move/rebalance/decommission
// records, so those kinds wait (or fall back) until every member gossips it.
inline constexpr std::string_view kChanges = "changes";
inline constexpr uint32_t kChangesLevel = 2;
// The ring version: each node gossips the highest it has made (decimal); the cluster's is the
// highest any entry holds. A node that changes the ring (a step of its change, a join's claim or
// its turn to NORMAL, a removal, collecting a LEFT entry) first sets its own to that maximum + 1,
// so the version grows with every step and is equal on nodes holding the same state.
inline constexpr std::string_view kEpoch = "epoch";
}  // namespace keys

enum class ChangeKind : uint8_t { kMove, kDecommission, kRebalance, kRemoveNode, kJoin, kReplace };
std::string_view to_string(ChangeKind kind);

// A change's step: the four routing phases, then how it ended.
enum class ChangeStep : uint8_t { kAnnounce = 0, kWriteBoth, kReadNew, kRelease, kDone, kAborted };
std::string_view to_string(ChangeStep step);
bool in_flight(ChangeStep step);  // announce .. release
// The routing phase of an in-flight step.
ChangePhase phase_of(ChangeStep step);

struct ChangeRecord {
  NodeId id;                 // the change's id (a UUID)
  ChangeKind kind = ChangeKind::kMove;
  ChangeStep step = ChangeStep::kAnnounce;
  HlcStamp stamp;            // when announced: earlier changes take precedence
  // The node the change is made on behalf of (removenode: the dead node whose ranges go to their
  // next owners; replace: the dead node whose tokens the coordinator takes over); the ring reads
  // that node as LEAVING in the change's phase, and the barrier does not wait for it. Nil for a
  // change of the coordinator's own ownership alone.
  NodeId subject;
  bool on_behalf() const { return !subject.is_nil(); }
  std::string format() const;
  static std::optional<ChangeRecord> parse(std::string_view text);
  // Which of two in-flight changes goes first (the other yields): the earlier stamp, then the
  // lower id — the same answer on every node.
  bool precedes(const ChangeRecord& other) const;
};

// The id of a node's join: the same on every node, from the joiner's id and its claim's stamp
// (ringctl shows it while the claim is still being agreed on, before the join's record exists).
NodeId join_change_id(const NodeId& joiner, HlcStamp claim_stamp);

// A member's acknowledgement: the change it routes by and that change's step as it sees it.
struct SeenRecord {
  NodeId id;
  ChangeStep step = ChangeStep::kAnnounce;
  std::string format() const;
  static std::optional<SeenRecord> parse(std::string_view text);
};

}  // namespace ringkeeper::gossip
