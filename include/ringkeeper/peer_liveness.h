// PeerLiveness: how one node sees another, as Node::liveness and on_liveness_change report it and
// as the protocol's failure detector (gossip/liveness.h) computes it. A plain value; any thread.
//   if (node->liveness(id) == ringkeeper::PeerLiveness::kDown) { /* route around it */ }
#pragma once

#include <cstdint>

namespace ringkeeper {

// kUnknown: not heard from since this process started (the router treats it as reachable).
// kSuspect and kDown are unreachable to the router; kUp is reachable.
enum class PeerLiveness : uint8_t { kUnknown, kUp, kSuspect, kDown };

}  // namespace ringkeeper
