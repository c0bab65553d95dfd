// KeyOps: `ringctl keys` across the cluster, in the manner of `serf keys`. The node that takes a
// command applies it to its own keyring first (saved and synced before the admin call answers),
// then sends a KeyOp to every live member and collects their KeyOpAcks until all have answered
// or the deadline passed; a member that has not answered yet gets the KeyOp again every second
// (applying one twice changes nothing). The admin API polls status(). A `list` changes nothing
// and gathers each member's fingerprints. Time is passed in; node thread only.
//   KeyOps ops;
//   uint64_t id = ops.begin(op, self_answer, targets, now);       // then send op to targets
//   ops.on_ack(from, ack);  std::optional<KeyOps::Progress> s = ops.status(id, now);
//   auto again = ops.due_resends(now);
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gossip/seal.h"
#include "ringkeeper/status.h"

namespace ringkeeper {

// What a command does to one keyring (a copy: the caller keeps it only if it can save it).
// Ok when applied or when there was nothing to do; kRefused with the keyring's reason.
Status apply_key_op(gossip::Keyring& keyring, const gossip::KeyOp& op);
// "list", "install", "use", "remove".
std::string_view key_op_name(gossip::KeyOpKind kind);
// The answer a node gives about its keyring.
gossip::KeyOpAck key_op_answer(uint64_t op, const gossip::Keyring& keyring, std::string error);

class KeyOps {
 public:
  static constexpr int64_t kDeadlineMs = 5'000;
  static constexpr int64_t kResendMs = 1'000;
  static constexpr size_t kRemembered = 32;  // finished commands kept for status()

  struct Target {
    NodeId id;
    std::string address;
  };
  struct Progress {  // a command as far as it got
    gossip::KeyOp op;
    bool done = false;        // every target answered, or the deadline passed
    size_t nodes = 0;         // live nodes asked, the answering one included
    size_t acked = 0;         // ... that applied it (list: that answered)
    std::vector<NodeId> failed;             // refused, or no answer by the deadline
    std::map<NodeId, std::string> errors;   // the refusals' reasons
    std::vector<gossip::KeyOpAck> answers;  // every answer, the answering node's first
  };

  // Starts tracking `op` (its id set here); `self` is the answering node's own result.
  uint64_t begin(gossip::KeyOp op, uint64_t id, const NodeId& self_id, gossip::KeyOpAck self,
                 std::vector<Target> targets, int64_t now);
  void on_ack(const NodeId& from, const gossip::KeyOpAck& ack);
  std::optional<Progress> status(uint64_t id, int64_t now) const;
  // The KeyOps to send again now: (address, op) for each target still silent after kResendMs.
  std::vector<std::pair<std::string, gossip::KeyOp>> due_resends(int64_t now);

 private:
  struct Pending {
    gossip::KeyOp op;
    int64_t deadline = 0;
    int64_t last_sent = 0;
    NodeId self_id;
    std::vector<Target> targets;
    std::map<NodeId, gossip::KeyOpAck> answers;
    gossip::KeyOpAck self;
  };
  Pending* find(uint64_t id);
  const Pending* find(uint64_t id) const;
  std::deque<Pending> ops_;
};

}  // namespace ringkeeper
