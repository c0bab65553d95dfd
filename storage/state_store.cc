#include "storage/state_store.h"

#include <algorithm>
#include <charconv>

namespace ringkeeper::storage {

std::string_view to_string(OpenError::Reason r) {
  switch (r) {
    case OpenError::Reason::kNone: return "none";
    case OpenError::Reason::kFutureFormat: return "future_format";
    case OpenError::Reason::kOldFormat: return "old_format";
    case OpenError::Reason::kUnknownFormat: return "unknown_format";
    case OpenError::Reason::kLocked: return "locked";
    case OpenError::Reason::kCorrupt: return "corrupt";
    case OpenError::Reason::kIo: return "io";
  }
  return "unknown";
}

const Formats& this_builds_formats() {
  static const Formats formats;  // format 1 only: no steps yet
  return formats;
}

namespace {

OpenError check_format_or_throw(StateStore& store, const Formats& formats, bool migrate) {
  auto format = store.get_meta(meta::kFormat);
  if (!format) {
    // A store with records but no format record was not written by us (or lost its first batch,
    // which writes the format record together with the identity): refuse rather than guess.
    bool any = false;
    store.scan(RecordKind::kMeta, [&](std::string_view, std::string_view) { any = true; });
    store.scan(RecordKind::kEntry, [&](std::string_view, std::string_view) { any = true; });
    if (any) return {OpenError::Reason::kUnknownFormat, "records present but no format version"};
    if (!migrate) return {};
    WriteBatch b;
    b.put_meta(meta::kFormat, std::to_string(formats.current));
    store.write(b, true);
    return {};
  }
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(format->data(), format->data() + format->size(), v);
  if (ec != std::errc() || p != format->data() + format->size()) {
    return {OpenError::Reason::kUnknownFormat, "unreadable format version '" + *format + "'"};
  }
  if (v == 0) return {OpenError::Reason::kUnknownFormat, "format version 0 is not one ringkeeper writes"};
  if (v > formats.current) {
    return {OpenError::Reason::kFutureFormat,
            "format version " + std::to_string(v) + " is newer than this build's " +
                std::to_string(formats.current) + "; use a newer ringkeeper"};
  }
  if (v < formats.oldest) {
    return {OpenError::Reason::kOldFormat,
            "format version " + std::to_string(v) + " is older than this build migrates (" +
                std::to_string(formats.oldest) + " to " + std::to_string(formats.current) +
                "); open it once with an intermediate release first"};
  }
  OpenError done;
  for (; migrate && v < formats.current; ++v) {
    auto step = std::find_if(formats.steps.begin(), formats.steps.end(), [&](const FormatStep& s) { return s.from == v; });
    if (step == formats.steps.end()) {
      return {OpenError::Reason::kUnknownFormat, "no migration from format version " + std::to_string(v)};
    }
    WriteBatch b;
    step->apply(store, b);
    b.put_meta(meta::kFormat, std::to_string(v + 1));
    store.write(b, true);
    done.migrated.push_back("format " + std::to_string(v) + " -> " + std::to_string(v + 1) + ": " + step->what);
  }
  return done;
}

}  // namespace

OpenError check_format(StateStore& store, const Formats& formats, bool migrate) {
  try {
    return check_format_or_throw(store, formats, migrate);
  } catch (const std::exception& e) {  // a StoreError; whatever another store, or a step, throws
    return {OpenError::Reason::kIo, std::string("cannot read or migrate the format record: ") + e.what()};
  }
}

}  // namespace ringkeeper::storage
