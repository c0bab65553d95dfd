#include "storage/state_store.h"

#include <charconv>

namespace ringkeeper::storage {

std::string_view to_string(OpenError::Reason r) {
  switch (r) {
    case OpenError::Reason::kNone: return "none";
    case OpenError::Reason::kFutureFormat: return "future_format";
    case OpenError::Reason::kUnknownFormat: return "unknown_format";
    case OpenError::Reason::kLocked: return "locked";
    case OpenError::Reason::kCorrupt: return "corrupt";
    case OpenError::Reason::kIo: return "io";
  }
  return "unknown";
}

OpenError check_format(StateStore& store) {
  auto format = store.get_meta(meta::kFormat);
  if (!format) {
    // A store with records but no format record was not written by us (or lost its first batch,
    // which writes the format record together with the identity): refuse rather than guess.
    bool any = false;
    store.scan(RecordKind::kMeta, [&](std::string_view, std::string_view) { any = true; });
    store.scan(RecordKind::kEntry, [&](std::string_view, std::string_view) { any = true; });
    if (any) return {OpenError::Reason::kUnknownFormat, "records present but no format version"};
    WriteBatch b;
    b.put_meta(meta::kFormat, std::to_string(kFormatVersion));
    store.write(b, true);
    return {};
  }
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(format->data(), format->data() + format->size(), v);
  if (ec != std::errc() || p != format->data() + format->size()) {
    return {OpenError::Reason::kUnknownFormat, "unreadable format version '" + *format + "'"};
  }
  if (v > kFormatVersion) {
    return {OpenError::Reason::kFutureFormat,
            "format version " + std::to_string(v) + " is newer than this build's " +
                std::to_string(kFormatVersion) + "; use a newer ringkeeper"};
  }
  if (v == 0) return {OpenError::Reason::kUnknownFormat, "format version 0 is not one ringkeeper writes"};
  return {};
}

}  // namespace ringkeeper::storage
