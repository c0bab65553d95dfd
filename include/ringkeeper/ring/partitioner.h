// Partitioner: maps key bytes to a Token. Stateless and immutable; safe from any thread.
//   const Partitioner& p = default_partitioner();
//   Token t = p.token_of("user:42");
#pragma once

#include <string_view>

#include "ringkeeper/ring/types.h"

namespace ringkeeper {

class Partitioner {
 public:
  virtual ~Partitioner() = default;
  virtual Token token_of(std::string_view key) const = 0;
  // A stable name, gossiped so that nodes with different partitioners refuse to merge.
  virtual std::string_view name() const = 0;
};

// XXH3-64 (seed 0) of the key bytes, taken as the token. The default everywhere.
// Fixed outputs (tested in partitioner_test.cc): "" -> 3244421341483603138,
// "a" -> 16629034431890738719, "hello" -> 10760762337991515389.
class Xxh3Partitioner final : public Partitioner {
 public:
  Token token_of(std::string_view key) const override;
  std::string_view name() const override { return "xxh3"; }
};

// The process-wide default instance (stateless, so sharing it is harmless).
const Partitioner& default_partitioner();

}  // namespace ringkeeper
