#include "gossip/join.h"

#include <algorithm>
#include <iterator>

#include "ring/token_allocator.h"

namespace ringkeeper::gossip {

std::vector<Token> pick_tokens(const RingSnapshot& ring, const NodeId& self, const std::string& dc,
                               const std::string& rack, uint32_t count, const std::vector<Token>& keep) {
  std::vector<NodeDescription> others;
  for (const RingNode& n : ring.nodes()) {
    if (n.id == self || n.tokens.empty()) continue;
    others.push_back({n.id, owns_current_tokens(n.status) ? n.status : NodeStatus::kNormal, n.tokens, {}, n.dc,
                      n.rack, n.stamp});
  }
  if (!keep.empty()) {
    // The kept tokens take part as a node of their own (an id derived from ours), so the fresh
    // ones avoid them and balance around them.
    others.push_back({NodeId::from_random_bits(~self.hi(), ~self.lo()), NodeStatus::kNormal, keep, {}, dc, rack, {}});
  }
  return allocate_tokens(others, {{self, dc, rack, count}}, ring.config()).front().second;
}

std::string JoinProcess::repick_notice(const RingSnapshot& ring, std::vector<Token> claim,
                                       std::vector<Token> kept) const {
  std::sort(claim.begin(), claim.end());
  std::sort(kept.begin(), kept.end());
  std::vector<Token> lost;
  std::set_difference(claim.begin(), claim.end(), kept.begin(), kept.end(), std::back_inserter(lost));
  std::string tokens;
  for (size_t i = 0; i < lost.size() && i < 8; ++i) {
    std::string holder;  // the node the ring gives it to, when this node can tell
    for (const RingNode& n : ring.nodes()) {
      if (n.id != self_ && (std::binary_search(n.tokens.begin(), n.tokens.end(), lost[i]) ||
                            std::binary_search(n.pending_tokens.begin(), n.pending_tokens.end(), lost[i]))) {
        holder = " (held by node " + n.id.to_string() + ")";
      }
    }
    tokens += (i ? ", " : "") + lost[i].to_string() + holder;
  }
  if (lost.size() > 8) tokens += ", ... (" + std::to_string(lost.size()) + " in all)";
  // The first claim of a node given --tokens is those tokens; a later one came from the allocator.
  const bool given = !settings_.initial_tokens.empty() && repicks_ == 1;
  return std::string(given ? "--tokens: " : "") + (lost.size() == 1 ? "token " : "tokens ") + tokens +
         (lost.size() == 1 ? " is" : " are") + " already claimed by another node (the current owner, or the " +
         "earlier claim, keeps a token); this joining node drops its claim and claims " +
         std::to_string(settings_.num_tokens) + " tokens from the allocator instead";
}

// Whole on purpose (about 60 lines): the join policy — learn, claim, wait for agreement, turn
// NORMAL — read top to bottom in one place.
JoinProcess::Action JoinProcess::step(Millis now, const RingSnapshot& ring, size_t known_nodes,
                                      bool ring_agreed) {
  Action action;
  if (phase_ == Phase::kDone) return action;
  if (phase_ == Phase::kLearning) {
    if (known_nodes <= 1 && !founder_) return action;  // keep retrying the seeds
    if (!quiet_since_ || known_nodes != known_) {
      quiet_since_ = now;
      known_ = known_nodes;
    }
    if (now < *quiet_since_ + settings_.settle) return action;
    if (!settings_.initial_tokens.empty()) {
      claimed_ = settings_.initial_tokens;
      std::sort(claimed_.begin(), claimed_.end());
    } else {
      // Owners, and every JOINING node (ourselves included; claimed or not — a joiner that
      // claimed before us computed the same allocation if it saw the same joiners): one joint
      // allocation, the same on every joiner that sees the same set.
      std::vector<NodeDescription> existing;
      std::vector<JoinerSpec> joiners;
      for (const RingNode& n : ring.nodes()) {
        if (owns_current_tokens(n.status) && !n.tokens.empty()) {
          existing.push_back({n.id, n.status, n.tokens, {}, n.dc, n.rack, n.stamp});
        } else if (n.status == NodeStatus::kJoining) {
          joiners.push_back({n.id, n.dc, n.rack, settings_.num_tokens});
        }
      }
      if (std::none_of(joiners.begin(), joiners.end(), [&](const JoinerSpec& j) { return j.id == self_; })) {
        joiners.push_back({self_, settings_.dc, settings_.rack, settings_.num_tokens});
      }
      for (auto& [id, tokens] : allocate_tokens(existing, joiners, ring.config())) {
        if (id == self_) claimed_ = tokens;
      }
    }
    founding_ = std::none_of(ring.nodes().begin(), ring.nodes().end(), [](const RingNode& n) {
      return owns_current_tokens(n.status) && !n.tokens.empty();
    });
    phase_ = Phase::kClaimed;
    action.claim = claimed_;
    return action;
  }
  // Claimed: did every token survive the conflict rule?
  const RingNode* me = ring.find(self_);
  if (!me) return action;
  if (me->tokens.size() < claimed_.size()) {
    // Lost some: re-pick all of them against the ring without us (a fresh claim, a new stamp).
    ++repicks_;
    founding_ = founding_ && std::none_of(ring.nodes().begin(), ring.nodes().end(), [&](const RingNode& n) {
                  return n.id != self_ && owns_current_tokens(n.status) && !n.tokens.empty();
                });
    const std::vector<Token> lost_claim = std::move(claimed_);
    claimed_ = pick_tokens(ring, self_, settings_.dc, settings_.rack, settings_.num_tokens);
    action.claim = claimed_;
    action.notice = repick_notice(ring, lost_claim, me->tokens);
    return action;
  }
  if (me->tokens != claimed_) return action;  // the ring still shows an older claim of ours
  if (ring_agreed) {
    phase_ = Phase::kDone;
    action.become_normal = true;
  }
  return action;
}

}  // namespace ringkeeper::gossip
