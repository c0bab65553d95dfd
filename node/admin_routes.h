// AdminRoutes: the admin API (what ringctl prints; the JSON is in docs/operations.md) as a table
// of (method, path) → answer, over a ClusterView: the engine's state decoded once per request
// into typed members. It checks the call policy (admin_call_allowed), counts requests and
// refusals, and runs writes through the Driver. Node thread only: the AdminListener calls it there.
//   AdminRoutes routes(driver, stats);
//   AdminResponse r = routes.handle(AdminRequest{"GET", "/v1/status", "", "", true});
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/admin_http.h"
#include "node/driver.h"

namespace ringkeeper {

// One member of the cluster as this node sees it.
struct MemberView {
  NodeId id;
  bool self = false;
  const gossip::NodeState* state = nullptr;  // the engine's entry (valid during the request)
  bool tombstone = false;
  // LEFT or REMOVED (by status or tombstone): counted neither live nor down.
  bool gone = false;
  // The gossiped status; absent: "JOINING" ("REMOVED" for a bare tombstone).
  std::string status;
  bool status_gossiped = false;
  PeerLiveness liveness = PeerLiveness::kUnknown;  // self: always up; a tombstone: unknown
  bool reachable = true;                            // neither suspect nor down
  std::string address, dc, rack;
  std::string ring_digest;      // the ring digest it gossips ("" if none)
  bool has_claim = false;       // gossips a non-empty token list
  size_t claimed_tokens = 0;    // tokens it gossips (0 for gone members or unreadable lists)
  HlcStamp stamp;               // its claim's stamp (0 if none)
  // The change record it gossips (in flight or ended), if any and readable.
  std::optional<gossip::ChangeRecord> change;
};

struct ClusterView {
  std::shared_ptr<const RingSnapshot> ring;
  std::vector<MemberView> members;  // in the engine's state order
};

// Decodes the engine's state once (node thread).
ClusterView cluster_view(gossip::GossipEngine& engine, const NodeId& self);

// Whether a state-changing call may run (ok) or is refused before its route runs: it needs
// Content-Type application/json (kInvalidArgument otherwise: HTTP 415) and a Host header naming
// this node (kRefused otherwise: HTTP 403) — HOST:PORT with the admin port and, as host, a
// loopback name, the admin's bound host or the advertised gossip host (any host when the admin
// listens on a wildcard address).
Status state_change_allowed(const AdminRequest& req, const std::string& admin_bound, const std::string& advertised);

class AdminRoutes {
 public:
  AdminRoutes(Driver& driver, RuntimeStats& stats) : driver_(driver), stats_(stats) {}
  AdminResponse handle(const AdminRequest& request);

 private:
  Driver& driver_;
  RuntimeStats& stats_;
};

}  // namespace ringkeeper
