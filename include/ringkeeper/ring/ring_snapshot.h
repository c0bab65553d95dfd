// RingSnapshot: the immutable, versioned view of the ring that every routing call reads.
// Built from node descriptions (any order) by a pure function: the same descriptions give the same
// snapshot and the same digest on every node. Shared as std::shared_ptr<const RingSnapshot>;
// readers on any thread, never blocked by the builder of the next snapshot.
//   auto built = RingSnapshot::build(descriptions, config);
//   for (const NodeId& id : built.snapshot->natural_replicas("user:42")) ...
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringkeeper/ring/partitioner.h"
#include "ringkeeper/ring/replication.h"
#include "ringkeeper/ring/token_ring.h"
#include "ringkeeper/ring/types.h"

namespace ringkeeper {

// What one node says about itself, as far as the ring is concerned.
struct NodeDescription {
  NodeId id;
  NodeStatus status = NodeStatus::kNormal;
  std::vector<Token> tokens;          // current tokens (a JOINING node's claimed tokens)
  std::vector<Token> pending_tokens;  // MOVING only: the tokens it moves to
  std::string dc = "dc1";
  std::string rack = "rack1";
  HlcStamp stamp;                     // when the node made its latest token claim
  // JOINING, MOVING, LEAVING: where its change stands. The default routes as the ring always
  // did for an unphased change: writes to old and new owners, reads from the old ones.
  ChangePhase phase = ChangePhase::kWriteBoth;
  // JOINING only: the dead node this one replaces (ringd --replace). Its claim of that node's
  // tokens is not a conflict: the replaced node (LEAVING) holds them on the old side, this one on
  // the new side.
  NodeId replaces;
};

// A claim that lost a token conflict; the losing node must pick another token.
struct LostClaim {
  NodeId loser;
  NodeId winner;
  Token token;
  bool pending = false;  // the claim was a MOVING node's new token
  bool operator==(const LostClaim&) const = default;
};

// One node as the snapshot knows it (after conflict resolution).
struct RingNode {
  NodeId id;
  NodeStatus status;
  std::string dc;
  std::string rack;
  std::vector<Token> tokens;          // effective current tokens, sorted
  std::vector<Token> pending_tokens;  // effective new tokens while MOVING, sorted
  HlcStamp stamp;
  ChangePhase phase = ChangePhase::kWriteBoth;  // meaningful while JOINING, MOVING or LEAVING
  NodeId replaces;                              // JOINING only: see NodeDescription::replaces
};

class RingSnapshot;

// The replicas of one range, as node ids (a view into the snapshot; valid while it lives).
class ReplicaSet {
 public:
  ReplicaSet(std::span<const uint32_t> indices, const RingNode* nodes)
      : indices_(indices), nodes_(nodes) {}
  size_t size() const { return indices_.size(); }
  bool empty() const { return indices_.empty(); }
  const NodeId& operator[](size_t i) const { return nodes_[indices_[i]].id; }
  std::span<const uint32_t> indices() const { return indices_; }
  std::vector<NodeId> to_vector() const;
  bool contains(const NodeId& id) const;

  class iterator {
   public:
    using value_type = NodeId;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const uint32_t* p, const RingNode* n) : p_(p), nodes_(n) {}
    const NodeId& operator*() const { return nodes_[*p_].id; }
    iterator& operator++() { ++p_; return *this; }
    iterator operator++(int) { auto t = *this; ++p_; return t; }
    bool operator==(const iterator& o) const { return p_ == o.p_; }
   private:
    const uint32_t* p_ = nullptr;
    const RingNode* nodes_ = nullptr;
  };
  iterator begin() const { return {indices_.data(), nodes_}; }
  iterator end() const { return {indices_.data() + indices_.size(), nodes_}; }

 private:
  std::span<const uint32_t> indices_;
  const RingNode* nodes_;
};

class RingSnapshot {
 public:
  struct BuildResult {
    std::shared_ptr<const RingSnapshot> snapshot;
    std::vector<LostClaim> lost_claims;  // sorted by (loser, token)
    std::string error;                   // non-empty: input rejected, snapshot is null
  };

  // Pure: depends only on the arguments. Rejects duplicate node ids. `version` is the caller's
  // local sequence number for this snapshot; it is not part of the digest.
  static BuildResult build(std::vector<NodeDescription> nodes, const ReplicationConfig& config,
                           uint64_t version = 0,
                           const Partitioner& partitioner = default_partitioner());
  // An empty ring (no nodes) for a config.
  static std::shared_ptr<const RingSnapshot> empty(const ReplicationConfig& config);

  uint64_t version() const { return version_; }
  // Hash of everything that affects routing, identical across processes and machines.
  uint64_t digest() const { return digest_; }
  std::string digest_hex() const;
  // Hash of the token → owner assignment of future() (the ring once every in-flight change
  // completes), without statuses: unchanged when joiners turn NORMAL.
  uint64_t placement_digest() const { return placement_digest_; }
  const ReplicationConfig& config() const { return config_; }
  const Partitioner& partitioner() const { return *partitioner_; }

  // Every described node, sorted by id (LEFT and REMOVED included; they own nothing).
  std::span<const RingNode> nodes() const { return nodes_; }
  const RingNode* find(const NodeId& id) const;
  std::optional<uint32_t> index_of(const NodeId& id) const;

  // The ring reads use: each node with the tokens it owns for reading — a changing node's old
  // side before its change reaches read_new, its new side from then on.
  const TokenRing& current() const { return current_; }
  // The ring once every in-flight change completes; equal to current() when none is in flight.
  const TokenRing& future() const { return future_ ? *future_ : current_; }
  bool has_pending_changes() const { return future_ != nullptr; }
  // The other side writes must also reach: a changing node's new side while it is in
  // write_both, its old side while in read_new; equal to current() when no change needs it.
  const TokenRing& also_written() const { return also_written_ ? *also_written_ : current_; }

  Token token_of(std::string_view key) const { return partitioner_->token_of(key); }
  // The replicas of the key's range, in ring order.
  ReplicaSet natural_replicas(Token t) const;
  ReplicaSet natural_replicas(std::string_view key) const { return natural_replicas(token_of(key)); }
  // Nodes a write to the key's range must reach besides its natural replicas, while ranges move:
  // the new owners in write_both, the old ones in read_new.
  std::vector<NodeId> pending_replicas(Token t) const;
  // Natural replicas, then pending ones: every node a write must reach while ranges move.
  std::vector<NodeId> write_targets(Token t) const;

  // Fraction of the ring each node holds as a natural replica, indexed like nodes().
  std::vector<double> ownership() const { return current_.ownership(nodes_.size()); }
  // Largest ownership over mean ownership among nodes that own tokens (1.0: perfectly balanced;
  // 0 for an empty ring).
  double balance() const;

 private:
  RingSnapshot() = default;

  uint64_t version_ = 0;
  uint64_t digest_ = 0;
  uint64_t placement_digest_ = 0;
  ReplicationConfig config_;
  const Partitioner* partitioner_ = &default_partitioner();
  std::vector<RingNode> nodes_;
  TokenRing current_;
  std::unique_ptr<TokenRing> future_;
  std::unique_ptr<TokenRing> also_written_;
};

// Lowercase hex of a 64-bit digest, 16 characters.
std::string digest_to_hex(uint64_t digest);

}  // namespace ringkeeper
