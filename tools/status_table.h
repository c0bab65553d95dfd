// status_table: `ringctl status` for people — the admin API's /v1/status JSON as a table in the
// style of `nodetool status` (docs/operations.md, "ringctl"). A pure function of the JSON, so
// its shape is tested without a node; any thread.
//   std::fputs(ringkeeper::tools::status_table(json::parse(body)).c_str(), stdout);
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace ringkeeper::tools {

// One section per datacenter with a row per member (liveness and state letters, address,
// tokens owned — "N/M" when it claims more than it owns —, ownership, generation, id, rack);
// tombstones (removed ids, and left ones whose entry expired) are not rows of any datacenter but
// named in trailing lines, with the members that left; then the changes in flight and streaming
// progress. Fields a node does not send read as empty or zero.
std::string status_table(const nlohmann::json& status);

// The strings of a JSON array (other values as JSON text), separated by `sep`.
std::string joined(const nlohmann::json& list, const char* sep);
// A generation as ringctl prints it (a number in decimal; anything else as JSON text).
std::string generation_text(const nlohmann::json& generation);

}  // namespace ringkeeper::tools
