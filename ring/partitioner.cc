#include "ringkeeper/ring/partitioner.h"

#include <xxhash.h>

namespace ringkeeper {

Token Xxh3Partitioner::token_of(std::string_view key) const {
  return Token(XXH3_64bits(key.data(), key.size()));
}

const Partitioner& default_partitioner() {
  static const Xxh3Partitioner instance;
  return instance;
}

}  // namespace ringkeeper
