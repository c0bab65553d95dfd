// Subscription: the handle Node::on_ring_change and Node::on_liveness_change return. While it
// lives, its callback is called; destroying it, or reset(), unsubscribes. Move-only.
// Threads: callbacks run on the node thread. A Subscription may be reset or destroyed on any
// thread, inside a callback too (its own or another's) — that never deadlocks:
//   - on another thread, reset() waits for a callback call already running to return, so once it
//     returns nothing the callback uses is touched again (do not hold, while resetting, a lock
//     that the callback takes);
//   - inside a callback on the node thread, reset() returns at once; the running call finishes,
//     no other follows.
// It may outlive its Node: reset() is then a no-op.
//   ringkeeper::Subscription sub = node->on_ring_change([](const ringkeeper::RingChange& c) { ... });
//   sub.reset();  // or let it go out of scope
#pragma once

#include <cstdint>
#include <memory>

namespace ringkeeper {

class SubscriberList;  // the node's list of callbacks (node/view_publisher.h); not installed

class [[nodiscard]] Subscription {
 public:
  // Subscribed to nothing.
  Subscription() = default;
  Subscription(Subscription&& other) noexcept;
  // Unsubscribes from what this held, then takes over `other`'s.
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();

  // Unsubscribes (see above for the thread rules); afterwards active() is false. Idempotent.
  void reset();
  // True while its callback may be called: subscribed, not reset or moved away, and the Node
  // still exists.
  bool active() const { return id_ != 0 && !list_.expired(); }

 private:
  friend class SubscriberList;
  Subscription(std::weak_ptr<SubscriberList> list, uint64_t id) : list_(std::move(list)), id_(id) {}

  std::weak_ptr<SubscriberList> list_;
  uint64_t id_ = 0;
};

}  // namespace ringkeeper
