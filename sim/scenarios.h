// Scenarios shared by the simulator tests and `ringsim`: randomized faults and ownership changes
// then heal, a partition and its heal, and failure detection under loss and stalls.
// Single-threaded; deterministic for a seed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/sim.h"

namespace ringkeeper::sim {

// What a chaos run checks once the faults heal; a failed run names each check that failed.
namespace chaos_kind {
// A node whose own entry (in its own state) is a tombstone still presents itself as an owner:
// it gossips an entry of its own with tokens, or some live node's state or ring has it owning.
inline constexpr std::string_view kZombie = "zombie";
// A node gossiping status NORMAL gossips a token its ring entry does not own (a lost claim).
inline constexpr std::string_view kLostClaimGossiped = "lost_claim_gossiped";
// A NORMAL node owns no token (in a ring, or in what it gossips).
inline constexpr std::string_view kNormalNoTokens = "normal_no_tokens";
// A ring gives one token to two nodes.
inline constexpr std::string_view kTokenTwoOwners = "token_two_owners";
// A removed node still owns tokens in some live node's ring, or is no tombstone there.
inline constexpr std::string_view kRemovedOwner = "removed_owner";
// A node that joined during the run (added, or back on a wiped data dir) is not NORMAL.
inline constexpr std::string_view kJoinerNotNormal = "joiner_not_normal";
// During the heal a node marked down a member that was running and not stalled.
inline constexpr std::string_view kHealthyMarkedDown = "healthy_marked_down";
// The earlier id of a wiped node could not be removed before the heal: no live node saw it down.
inline constexpr std::string_view kOldIdNotRemoved = "old_id_not_removed";
// A live node still saw another live member as suspect or down at the deadline.
inline constexpr std::string_view kStuckDown = "stuck_down";
// A live node ended with a cluster state or ring digest unlike another live node's.
inline constexpr std::string_view kNotConverged = "not_converged";
// A gossiped tokens value is not a comma-separated list of decimal tokens.
inline constexpr std::string_view kUnparsableTokens = "unparsable_tokens";
// A node whose decommission completed still owns tokens, or is not LEFT, in a live node's ring.
inline constexpr std::string_view kLeftOwner = "left_owner";
// A node replaced by a new one (--replace) is not REMOVED everywhere, or its replacement does not
// own exactly its tokens.
inline constexpr std::string_view kReplaceIncomplete = "replace_incomplete";
// Sampled every 100 ms through the run: the live members' steps of one change spanned more than
// two adjacent phases, or a member's write targets missed an owner another member read from.
inline constexpr std::string_view kPhaseSpan = "phase_span";
inline constexpr std::string_view kUnwrittenReader = "unwritten_reader";
// In this order (the order ChaosResult::kind picks the first failed check by).
inline constexpr std::string_view kAll[] = {
    kZombie,       kLostClaimGossiped, kNormalNoTokens,    kTokenTwoOwners,
    kRemovedOwner, kJoinerNotNormal,   kHealthyMarkedDown, kOldIdNotRemoved,
    kStuckDown,    kNotConverged,      kUnparsableTokens,  kLeftOwner,
    kReplaceIncomplete, kPhaseSpan,    kUnwrittenReader};
}  // namespace chaos_kind

struct ChaosResult {
  bool converged = false;          // every live node ended with the same state summary and ring digest
  bool removed_a_node = false;     // some crashed node was removed (not restarted)
  std::string kind;                // the first failed check (in the order above); empty if all held
  std::vector<std::string> kinds;  // every check that failed
  std::string failure;             // what each failed check saw ("kind: detail; ...")
  uint64_t end_summary = 0;        // the first live node's state summary at the end (replay checks)
  Millis end_time = 0;             // simulated time at the end
  // Messages sent by nodes that knew they had been removed (own entry a tombstone). Not a failed
  // check today: a removed node presenting itself as an owner is (kZombie); one still talking is
  // counted here until the engine stops removed nodes.
  uint64_t removed_node_messages = 0;
  bool ok() const { return kinds.empty(); }
};

// Faults for 40 s of simulated time — one- and two-way cuts, loss, a stall, crashes followed by a
// restart, a removenode (sometimes then a restart on the old data dir), a wipe (the address
// comes back with a new id; the old id is removed) or a new node started with --replace, and
// often a majority|minority partition with a joiner started on each side — with ownership
// changes during them: joins, token moves of NORMAL nodes to fresh tokens (sometimes onto a token
// another node claims, sometimes two nodes at once onto one token), rebalances and
// decommissions. Every crashed node is restarted or removed before the heal. After
// heal_all() the run waits up to 120 s for every check in chaos_kind to hold on every live node;
// marks of healthy nodes as down are counted from the heal on. Deterministic for (seed, nodes);
// prints nothing unless RINGSIM_DEBUG is set (then a timeline on stderr).
ChaosResult run_chaos(uint64_t seed, size_t nodes);

struct PartitionHealResult {
  bool converged = false;            // every node agreed within the deadline (see run_partition_heal)
  Millis heal_ms = 0;                // from heal_all() to agreement (or to the deadline)
  uint64_t healthy_marked_down = 0;  // down marks after the heal (every node ran throughout)
  bool split_seen = false;           // before the heal each side saw every node of the other down
};

// `nodes` pre-converged nodes split into a majority and a minority (3|2 at five nodes), held until
// each side marks the other down (at least `hold`, at most `hold` + 40 s), then healed; runs until
// every node has the same state summary and ring digest and sees nobody suspect or down (120 s
// at most). Deterministic for (seed, nodes).
PartitionHealResult run_partition_heal(uint64_t seed, size_t nodes, Millis hold = 20'000);

struct DetectOptions {
  size_t nodes = 10;
  double loss = 0.0;
  Millis stall_every = 60'000;
  Millis stall_for = 5'000;
  Millis duration = 10 * 60'000;
  Millis crash_every = 30'000;
  uint64_t seed = 1;
};

struct DetectResult {
  std::vector<double> detect_seconds;  // per crash: until every live node marked it down
  uint64_t undetected = 0;             // crashes not detected by everyone within 60 s
  uint64_t false_downs = 0;            // healthy nodes (neither crashed nor stalled) marked down
};

// Crashes a random node every crash_every (restarting it once everyone marked it down), stalls
// another node for stall_for every stall_every, under `loss`.
DetectResult run_detect(const DetectOptions& options);

}  // namespace ringkeeper::sim
