// RangeSet: a small set of token ranges with a membership test, guarded by a mutex. kvd keeps the
// ranges it is still streaming in one (reads of them are answered "not ready", so a coordinator
// counts this replica as not answering) and the ranges it must drop once a change completes in
// another. Any thread.
//   RangeSet streaming;  streaming.add(range);  if (streaming.contains(token)) ...
#pragma once

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "ringkeeper/ring/types.h"

namespace ringkeeper::kv {

class RangeSet {
 public:
  void add(TokenRange r) {
    std::lock_guard lock(mu_);
    ranges_.push_back(r);
  }
  // Removes one occurrence of `r` (ranges are added and removed as the same values).
  void remove(TokenRange r) {
    std::lock_guard lock(mu_);
    auto it = std::find(ranges_.begin(), ranges_.end(), r);
    if (it != ranges_.end()) ranges_.erase(it);
  }
  bool contains(Token t) const {
    std::lock_guard lock(mu_);
    return std::any_of(ranges_.begin(), ranges_.end(), [t](const TokenRange& r) { return r.contains(t); });
  }
  std::vector<TokenRange> take_all() {
    std::lock_guard lock(mu_);
    return std::exchange(ranges_, {});
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return ranges_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<TokenRange> ranges_;
};

}  // namespace ringkeeper::kv
