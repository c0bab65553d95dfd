// JoinProcess: how a node without tokens becomes an owner. It first learns the cluster (or,
// with no seed but itself, founds one), waits until it has seen no new node for `settle` so that
// nodes starting at the same time see each other, then claims tokens from one joint allocation over the ring plus every joiner it
// sees (sorted ids, so joiners that see the same set compute the same answer). A claim that loses
// a conflict is re-picked; once every live node routes with the same ring and no joiner is still
// without tokens, the node becomes NORMAL. Pure decision logic: the engine applies the actions.
// Owned by one GossipEngine; not thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gossip/interfaces.h"
#include "ringkeeper/ring/ring_snapshot.h"

namespace ringkeeper::gossip {

struct JoinSettings {
  uint32_t num_tokens = 16;
  std::vector<Token> initial_tokens;  // --tokens: used as given instead of allocating
  std::string dc = "dc1";
  std::string rack = "rack1";
  Millis settle = 2000;               // wait after learning the cluster before claiming
  // ringd --replace: instead of claiming tokens of its own, take over this dead node's (a phased
  // change of kind replace; the engine drives it). Nil: join as usual.
  NodeId replace;
};

// `count` tokens for `self` from the allocator, against every other node's tokens in `ring` and
// the tokens `self` keeps (`keep`, avoided too). Deterministic for the same ring. Used to re-pick a
// joiner's lost claim and to replace an owner's lost tokens.
std::vector<Token> pick_tokens(const RingSnapshot& ring, const NodeId& self, const std::string& dc,
                               const std::string& rack, uint32_t count, const std::vector<Token>& keep = {});

class JoinProcess {
 public:
  // A founder (no seed but itself) may claim without knowing anyone.
  JoinProcess(NodeId self, JoinSettings settings, bool founder)
      : self_(self), settings_(std::move(settings)), founder_(founder) {}
  bool founder() const { return founder_; }

  struct Action {
    std::optional<std::vector<Token>> claim;  // announce these tokens (status JOINING)
    bool become_normal = false;
    std::string notice;  // a line for the operator's log (a lost claim and what replaces it), or empty
  };

  // `known_nodes`: entries in the cluster state (this node included); `ring_agreed`: every live
  // node routes with this node's ring and no joiner lacks tokens.
  Action step(Millis now, const RingSnapshot& ring, size_t known_nodes, bool ring_agreed);

  // The claim was made with no node owning tokens yet (nodes founding a cluster together): the
  // ranges it takes have no previous owner, so the join needs no data phases.
  bool founding() const { return founding_; }
  bool done() const { return phase_ == Phase::kDone; }
  bool claimed() const { return phase_ == Phase::kClaimed; }
  void finish() { phase_ = Phase::kDone; }  // the node already owns tokens (a restart)
  uint32_t repicks() const { return repicks_; }

 private:
  enum class Phase { kLearning, kClaimed, kDone };

  // The line saying that `claim` lost the tokens the ring did not give this node (`kept`), to
  // whom, and what the node claims instead.
  std::string repick_notice(const RingSnapshot& ring, std::vector<Token> claim, std::vector<Token> kept) const;

  NodeId self_;
  JoinSettings settings_;
  bool founder_;
  Phase phase_ = Phase::kLearning;
  std::optional<Millis> quiet_since_;  // when the set of known nodes last grew
  size_t known_ = 0;
  std::vector<Token> claimed_;
  uint32_t repicks_ = 0;
  bool founding_ = false;
};

}  // namespace ringkeeper::gossip
