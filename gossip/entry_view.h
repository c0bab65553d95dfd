// EntryView: a node's gossiped entry (string values by key) decoded once into typed values —
// status as a NodeStatus, tokens as Tokens, the claim's stamp, the ring epoch, the change record,
// dc, rack, address, wire version. The readers of whole entries (the ring's description of a node,
// the admin API's member view, the published member list) read this instead of parsing strings
// each in its own way. Pure values; any thread. A view's string_views point into the NodeState it
// was read from: keep that NodeState alive (entries are immutable once shared) while using them.
//   EntryView v = EntryView::read(state);          // every field, with a fallback for a bad value
//   Result<EntryView> r = EntryView::decode(state); // refuses a bad token list or stamp
//   if (v.status == NodeStatus::kNormal) use(v.tokens);
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "gossip/change.h"
#include "gossip/cluster_state.h"
#include "gossip/types.h"
#include "ringkeeper/ring/ring_snapshot.h"
#include "ringkeeper/ring/types.h"
#include "ringkeeper/status.h"

namespace ringkeeper::gossip {

struct EntryView {
  Generation generation;
  Version max_version;
  bool tombstone = false;  // an operator removed the node (NodeState::is_tombstone)

  // `status` as gossiped (nullopt: none yet — a node that has not claimed anything).
  std::optional<std::string_view> status_text;
  // The status read (nullopt: none gossiped, or a name this build does not know).
  std::optional<NodeStatus> status;

  // `tokens`: the node's claim. Empty when absent or unreadable (see `problem`).
  std::vector<Token> tokens;
  bool has_claim = false;  // it gossips a non-empty token list, readable or not
  // `moving_to`: where a MOVING node goes. Empty when absent or unreadable (not refused: the
  // engine never refused it).
  std::vector<Token> moving_to;
  // `stamp`: its claim's HLC stamp. Zero when absent; the latest possible stamp when unreadable,
  // so a bad stamp loses every token conflict.
  HlcStamp stamp;
  bool has_stamp = false;
  // `epoch`: the ring version it gossips (0 when absent, unreadable, or a tombstone).
  RingEpoch epoch;
  // `change`: the change record it gossips (in flight or ended), if readable.
  std::optional<ChangeRecord> change;

  // Plain text values (nullopt or empty: absent).
  std::optional<std::string_view> dc, rack;
  std::string_view address, ring_digest;
  // `wire`: the newest wire version the node speaks (nullopt: absent or unreadable, an old build).
  std::optional<uint32_t> wire;

  // Ok, or the first value the engine refuses an entry for (an unreadable token list or stamp:
  // such an entry cannot come from a well-behaved node). The fields above hold their fallbacks.
  Status problem;

  // Every well-known key, read once; never fails (bad values take the fallbacks above).
  static EntryView read(const NodeState& st);
  // The same, refusing an entry whose token list or stamp does not read (kInvalidArgument, naming
  // the key).
  static Result<EntryView> decode(const NodeState& st);
};

// Field decoders, for the hot paths that read one value (the engine's merge, the HLC).
// A claim stamp, strictly: nullopt unless the whole value is a decimal number.
std::optional<HlcStamp> decode_stamp(std::string_view text);
// The ring epoch of an entry (0 if none, unreadable, or a tombstone).
RingEpoch epoch_of(const NodeState& st);

// What a node's entry says about it for the ring (nullopt: no readable status yet). One reading
// for the engine and for a runtime routing from disk. `on_behalf`, when given, receives the
// entry's in-flight change made on behalf of another node.
std::optional<NodeDescription> describe_entry(const NodeId& id, EntryView view,
                                              std::optional<ChangeRecord>* on_behalf = nullptr);
std::optional<NodeDescription> describe_entry(const NodeId& id, const NodeState& st,
                                              std::optional<ChangeRecord>* on_behalf = nullptr);
// Applies in-flight changes made on behalf of another node (coordinator, record) to the nodes:
// per subject only the first by precedence counts — its subject is LEAVING in the change's
// phase, and a replace's coordinator `replaces` it (a later replace of the same node claims
// nothing of it: its claims conflict and lose).
void apply_on_behalf(std::vector<NodeDescription>& nodes, std::vector<std::pair<NodeId, ChangeRecord>> changes);
// Every entry's description for the ring: describe_entry of each, then apply_on_behalf.
// `for_each(f)` calls f(const NodeId&, const NodeState&) for every entry.
template <class ForEach>
std::vector<NodeDescription> describe_entries(ForEach&& for_each) {
  std::vector<NodeDescription> nodes;
  std::vector<std::pair<NodeId, ChangeRecord>> on_behalf;
  for_each([&](const NodeId& id, const NodeState& st) {
    std::optional<ChangeRecord> c;
    if (auto d = describe_entry(id, st, &c)) nodes.push_back(std::move(*d));
    if (c) on_behalf.emplace_back(id, std::move(*c));
  });
  apply_on_behalf(nodes, std::move(on_behalf));
  return nodes;
}

}  // namespace ringkeeper::gossip
