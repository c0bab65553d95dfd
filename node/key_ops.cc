// KeyOps (node/key_ops.h).
#include "node/key_ops.h"

#include <utility>

#include "gossip/seal.h"

namespace ringkeeper {

Status apply_key_op(gossip::Keyring& keyring, const gossip::KeyOp& op) {
  std::string refusal = "unknown key operation";
  switch (op.kind) {
    case gossip::KeyOpKind::kList: refusal.clear(); break;
    case gossip::KeyOpKind::kInstall: refusal = keyring.install(op.key); break;
    case gossip::KeyOpKind::kUse: refusal = keyring.use(op.fingerprint); break;
    case gossip::KeyOpKind::kRemove: refusal = keyring.remove(op.fingerprint); break;
  }
  return refusal.empty() ? Status() : Status::refused(std::move(refusal));
}

std::string_view key_op_name(gossip::KeyOpKind kind) {
  switch (kind) {
    case gossip::KeyOpKind::kList: return "list";
    case gossip::KeyOpKind::kInstall: return "install";
    case gossip::KeyOpKind::kUse: return "use";
    case gossip::KeyOpKind::kRemove: return "remove";
  }
  return "unknown";
}

gossip::KeyOpAck key_op_answer(uint64_t op, const gossip::Keyring& keyring, std::string error) {
  return gossip::KeyOpAck{op, std::move(error), keyring.primary_fingerprint(), keyring.fingerprints()};
}

uint64_t KeyOps::begin(gossip::KeyOp op, uint64_t id, const NodeId& self_id, gossip::KeyOpAck self,
                       std::vector<Target> targets, int64_t now) {
  op.op = id;
  self.op = id;
  if (ops_.size() >= kRemembered) ops_.pop_front();
  ops_.push_back(Pending{std::move(op), now + kDeadlineMs, now, self_id, std::move(targets), {}, std::move(self)});
  return id;
}

const KeyOps::Pending* KeyOps::find(uint64_t id) const {
  for (const Pending& p : ops_) {
    if (p.op.op == id) return &p;
  }
  return nullptr;
}

KeyOps::Pending* KeyOps::find(uint64_t id) { return const_cast<Pending*>(std::as_const(*this).find(id)); }

void KeyOps::on_ack(const NodeId& from, const gossip::KeyOpAck& ack) {
  Pending* p = find(ack.op);
  if (!p) return;  // an answer to a forgotten command, or to none
  for (const Target& t : p->targets) {
    if (t.id == from) {
      p->answers.emplace(from, ack);  // the first answer counts
      return;
    }
  }
}

std::optional<KeyOps::Progress> KeyOps::status(uint64_t id, int64_t now) const {
  const Pending* p = find(id);
  if (!p) return std::nullopt;
  Progress s;
  s.op = p->op;
  s.nodes = 1 + p->targets.size();
  s.answers.push_back(p->self);
  if (p->self.error.empty()) {
    ++s.acked;
  } else {
    s.failed.push_back(p->self_id);
    s.errors[p->self_id] = p->self.error;
  }
  bool all_answered = true;
  for (const Target& t : p->targets) {
    auto it = p->answers.find(t.id);
    if (it == p->answers.end()) {
      all_answered = false;
      if (now >= p->deadline) {
        s.failed.push_back(t.id);
        s.errors[t.id] = "no answer within " + std::to_string(kDeadlineMs / 1000) + " s";
      }
      continue;
    }
    s.answers.push_back(it->second);
    if (it->second.error.empty()) {
      ++s.acked;
    } else {
      s.failed.push_back(t.id);
      s.errors[t.id] = it->second.error;
    }
  }
  s.done = all_answered || now >= p->deadline;
  return s;
}

std::vector<std::pair<std::string, gossip::KeyOp>> KeyOps::due_resends(int64_t now) {
  std::vector<std::pair<std::string, gossip::KeyOp>> out;
  for (Pending& p : ops_) {
    if (now >= p.deadline || now - p.last_sent < kResendMs) continue;
    bool any = false;
    for (const Target& t : p.targets) {
      if (p.answers.count(t.id) == 0) {
        out.emplace_back(t.address, p.op);
        any = true;
      }
    }
    if (any) p.last_sent = now;
  }
  return out;
}

}  // namespace ringkeeper
