// An embedder's server in miniature: the README's "Embedding a node in five lines", built against
// an installed ringkeeper (run_package_test.sh builds it with CMake and with pkg-config).
// Usage: embed DATA_DIR — founds a one-node cluster on an ephemeral port with no admin server,
// waits until "user:42" routes to this node, stops. Exits 0 when it routed, 1 otherwise.
#include <chrono>
#include <cstdio>
#include <thread>

#include <ringkeeper/node.h>
#include <ringkeeper/version.h>

#include <string>

namespace {

int replicas_sent = 0;

// Stands in for the embedder's replica request.
void send_to(const std::string& address, bool natural) {
  std::printf("user:42 -> %s (%s)\n", address.c_str(), natural ? "natural" : "fallback");
  ++replicas_sent;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
    return 2;
  }
  std::printf("ringkeeper %s\n", ringkeeper::kVersion);
  // The README's five lines, with no seeds (this node founds its cluster), an ephemeral gossip
  // port and no admin server, so the test never collides with anything on this machine.
  ringkeeper::NodeConfig cfg;  cfg.data_dir = argv[1];  cfg.seeds = {};
  cfg.listen = "127.0.0.1:0";  cfg.admin = "";  cfg.settle_ms = 100;
  auto node = ringkeeper::Node::open(cfg);      // refused: node.status().message() says why
  if (!node.ok() || !(*node)->start().ok()) return 1;
  // The installed Subscription links and unsubscribes (its count is not checked: the founding
  // claim may come before it subscribes).
  int ring_changes = 0;
  ringkeeper::Subscription sub = (*node)->on_ring_change([&](const ringkeeper::RingChange&) { ++ring_changes; });
  if (!sub.active()) return 1;
  // A founding node claims its tokens once it has settled; wait for that, then route.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((*node)->preference_list("user:42").empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& e : (*node)->preference_list("user:42")) send_to(e.address, e.natural);
  sub.reset();
  if (sub.active()) return 1;
  (*node)->stop();
  return replicas_sent > 0 ? 0 : 1;
}
