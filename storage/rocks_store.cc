#include "storage/rocks_store.h"

#include <filesystem>
#include <optional>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace ringkeeper::storage {

namespace {

std::string full_key(RecordKind kind, std::string_view key) {
  std::string k(1, static_cast<char>(kind));
  k.append(key);
  return k;
}

class RocksStore final : public StateStore {
 public:
  explicit RocksStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {}

  std::optional<std::string> get(RecordKind kind, std::string_view key) override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), full_key(kind, key), &value);
    if (s.IsNotFound()) return std::nullopt;
    if (!s.ok()) throw StoreError("read failed: " + s.ToString());
    return value;
  }

  void scan(RecordKind kind, const std::function<void(std::string_view, std::string_view)>& f) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    const std::string prefix(1, static_cast<char>(kind));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      rocksdb::Slice k = it->key();
      k.remove_prefix(1);
      f(std::string_view(k.data(), k.size()), std::string_view(it->value().data(), it->value().size()));
    }
    if (!it->status().ok()) throw StoreError("scan failed: " + it->status().ToString());
  }

  void write(const WriteBatch& batch, bool sync) override {
    rocksdb::WriteBatch b;
    for (const WriteBatch::Op& op : batch.ops()) {
      if (op.value) {
        b.Put(full_key(op.kind, op.key), *op.value);
      } else {
        b.Delete(full_key(op.kind, op.key));
      }
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    rocksdb::Status s = db_->Write(wo, &b);
    if (!s.ok()) throw StoreError("write failed: " + s.ToString());
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

OpenError refusal(const rocksdb::Status& s, const std::string& dir) {
  const std::string text = s.ToString();
  if (s.IsIOError() && text.find("lock") != std::string::npos) {
    return {OpenError::Reason::kLocked, "data dir " + dir + " is in use by another running node (" + text + ")"};
  }
  if (s.IsCorruption()) return {OpenError::Reason::kCorrupt, "data dir " + dir + " is corrupt: " + text};
  if (s.IsInvalidArgument() || s.IsNotSupported()) {
    return {OpenError::Reason::kUnknownFormat, "data dir " + dir + " is not a store this build can read: " + text};
  }
  return {OpenError::Reason::kIo, "cannot open data dir " + dir + ": " + text};
}

rocksdb::Options store_options() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  // A damaged record inside the write-ahead log is corruption (refused, exit 3), not the end of
  // the log: RocksDB's default replays up to the damage and drops the rest silently — a node
  // would come back with an older state, or as a new node with a new id. Only a torn last record
  // (a write the crash cut short, never acknowledged) is tolerated.
  options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  options.max_open_files = 64;
  options.keep_log_file_num = 2;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.compression = rocksdb::kNoCompression;
  return options;
}

// Looks at an existing store before touching it: a read-only open writes nothing. Why it must be
// refused, or nothing.
std::optional<OpenError> refusal_of_existing(const std::string& dir) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Options ro = store_options();
  ro.create_if_missing = false;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(ro, dir, &raw);
  if (!s.ok()) return refusal(s, dir);
  RocksStore probe{std::unique_ptr<rocksdb::DB>(raw)};
  try {
    auto format = probe.get_meta(meta::kFormat);
    if (!format) {
      return OpenError{OpenError::Reason::kUnknownFormat,
                       "data dir " + dir + " holds a database without a ringkeeper format record"};
    }
    if (OpenError e = check_format(probe, this_builds_formats(), /*migrate=*/false);
        e.reason != OpenError::Reason::kNone) {
      return OpenError{e.reason, "data dir " + dir + ": " + e.message};
    }
  } catch (const StoreError& e) {
    return OpenError{OpenError::Reason::kCorrupt, "data dir " + dir + " is corrupt: " + e.what()};
  }
  return std::nullopt;
}

OpenResult open_or_throw(const std::string& dir) {
  OpenResult r;
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec)) {
    if (auto refused = refusal_of_existing(dir)) {
      r.error = std::move(*refused);
      return r;
    }
  } else if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    r.error = {OpenError::Reason::kIo, "data dir " + dir + " is not a directory"};
    return r;
  }
  std::filesystem::create_directories(dir, ec);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(store_options(), dir, &raw);
  if (!s.ok()) {
    r.error = refusal(s, dir);
    return r;
  }
  auto store = std::make_unique<RocksStore>(std::unique_ptr<rocksdb::DB>(raw));
  OpenError e = check_format(*store);  // never throws
  if (e.reason != OpenError::Reason::kNone) {
    r.error = {e.reason, "data dir " + dir + ": " + e.message};
    return r;
  }
  r.error.migrated = std::move(e.migrated);  // for the log
  r.store = std::move(store);
  return r;
}

}  // namespace

OpenResult open_rocks_store(const std::string& dir) {
  try {
    return open_or_throw(dir);
  } catch (const std::exception& e) {  // bad_alloc, a filesystem error: nothing is opened
    OpenResult r;
    r.error = {OpenError::Reason::kIo, "cannot open data dir " + dir + ": " + e.what()};
    return r;
  }
}

}  // namespace ringkeeper::storage
