// The one way tests wait: poll a condition until it holds or a deadline passes. Never a bare
// sleep standing in for synchronisation. Any thread.
//   ASSERT_TRUE(wait_until([&] { return node.ring()->current().size() == 16; }, 20s));
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace ringkeeper::testing {

inline bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds deadline,
                       std::chrono::milliseconds step = std::chrono::milliseconds(20)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(step);
  }
}

}  // namespace ringkeeper::testing
