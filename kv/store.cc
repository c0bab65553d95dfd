#include "kv/store.h"

#include <chrono>
#include <filesystem>

#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace ringkeeper::kv {

namespace {

constexpr char kDataPrefix = 'd';
constexpr char kDataEnd = 'e';  // greater than every data key
const std::string kFormatKey = "mformat";
constexpr std::string_view kFormatValue = "1";

int64_t system_wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The storage-key intervals [lo, hi) holding the tokens of `range`, in storage order.
std::vector<std::pair<std::string, std::string>> segments(TokenRange range) {
  auto lower = [](uint64_t first_token) { return KvStore::data_key(Token{first_token}, ""); };
  // The bound just past every key of token `last`.
  auto upper = [](uint64_t last) {
    return last == UINT64_MAX ? std::string(1, kDataEnd) : KvStore::data_key(Token{last + 1}, "");
  };
  const uint64_t s = range.start.value(), e = range.end.value();
  if (s == e) return {{std::string(1, kDataPrefix), std::string(1, kDataEnd)}};
  if (s < e) return {{lower(s + 1), upper(e)}};
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back(lower(0), upper(e));                       // [0, e]
  if (s != UINT64_MAX) out.emplace_back(lower(s + 1), upper(UINT64_MAX));  // (s, max]
  return out;
}

Status io(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return {};
  return Status::io_error(std::string(what) + ": " + s.ToString());
}

}  // namespace

// Drops tombstones older than the grace period (and, when `repaired_before` is given, stamped
// before the last completed anti-entropy cycle) while RocksDB compacts.
struct TombstoneFilter final : rocksdb::CompactionFilter {
  TombstoneFilter(int64_t grace_ms, std::function<int64_t()> wall, const std::atomic<int64_t>* repaired_before)
      : grace_ms(grace_ms), wall(std::move(wall)), repaired_before(repaired_before) {}
  bool Filter(int, const rocksdb::Slice& key, const rocksdb::Slice& value, std::string*, bool*) const override {
    if (key.size() < 9 || key[0] != kDataPrefix) return false;
    auto r = decode_record(std::string_view(value.data(), value.size()));
    if (!r || !r->tombstone) return false;
    const auto millis = static_cast<int64_t>(r->stamp >> 16);
    if (repaired_before && millis >= repaired_before->load()) return false;
    return millis + grace_ms < wall();
  }
  const char* Name() const override { return "ringkeeper.kv.tombstones"; }
  int64_t grace_ms;
  std::function<int64_t()> wall;
  const std::atomic<int64_t>* repaired_before;  // null: the grace period alone decides
};

KvStore::KvStore(Options options) : options_(std::move(options)) {}
KvStore::~KvStore() = default;

std::string KvStore::data_key(Token t, std::string_view key) {
  std::string out;
  out.reserve(9 + key.size());
  out.push_back(kDataPrefix);
  put_u64_be(out, t.value());
  out += key;
  return out;
}

Result<std::unique_ptr<KvStore>> KvStore::open(Options options) {
  if (!options.wall_ms) options.wall_ms = system_wall_ms;
  std::unique_ptr<KvStore> store(new KvStore(std::move(options)));
  const Options& o = store->options_;
  std::error_code ec;
  std::filesystem::create_directories(o.path, ec);
  if (ec) return Status::data_dir_refused("cannot create " + o.path + ": " + ec.message());
  store->filter_ = std::make_unique<TombstoneFilter>(
      o.tombstone_grace_ms, o.wall_ms, o.tombstones_wait_for_repair ? &store->repaired_before_ms_ : nullptr);
  rocksdb::Options opts;
  opts.create_if_missing = true;
  // As the node's state store (storage/rocks_store.cc): a damaged record inside the write-ahead
  // log refuses the store instead of replaying up to it and dropping acknowledged writes after it.
  opts.paranoid_checks = true;
  opts.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  opts.compaction_filter = store->filter_.get();
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(opts, o.path, &db);
  if (!s.ok()) return Status::data_dir_refused("kv store " + o.path + ": " + s.ToString());
  store->db_.reset(db);
  std::string format;
  s = db->Get(rocksdb::ReadOptions(), kFormatKey, &format);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    if (Status w = io(db->Put(sync, kFormatKey, rocksdb::Slice(kFormatValue.data(), kFormatValue.size())),
                      "writing the kv format");
        !w.ok()) {
      return w;
    }
  } else if (!s.ok()) {
    return Status::data_dir_refused("kv store " + o.path + ": " + s.ToString());
  } else if (format != kFormatValue) {
    return Status::data_dir_refused("kv store " + o.path + " has format " + format + "; this build reads " +
                                    std::string(kFormatValue));
  }
  return store;
}

std::mutex& KvStore::lock_for(std::string_view key) {
  return stripes_[std::hash<std::string_view>{}(key) % stripes_.size()];
}

Result<std::optional<Record>> KvStore::get(std::string_view key) const {
  std::string bytes;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), data_key(token_of(key), key), &bytes);
  if (s.IsNotFound()) return std::optional<Record>();
  if (!s.ok()) return Status::io_error("kv get: " + s.ToString());
  auto r = decode_record(bytes);
  if (!r) return Status::io_error("kv get: a corrupt record");
  return std::optional<Record>(std::move(*r));
}

Result<bool> KvStore::merge(std::string_view key, const Record& r) {
  std::lock_guard lock(lock_for(key));
  auto held = get(key);
  if (!held.ok()) return held.status();
  if (*held && !supersedes(r, **held)) return false;
  // Not synced: like Cassandra's periodic commit log, an acknowledged write survives a process
  // crash (RocksDB's WAL is in the OS) but not a power cut on every replica at once.
  rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), data_key(token_of(key), key), encode_record(r));
  if (!s.ok()) return Status::io_error("kv put: " + s.ToString());
  return true;
}

Status KvStore::scan(TokenRange range, std::string_view after, const std::function<bool(Entry&&)>& f) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (const auto& [lo, hi] : segments(range)) {
    if (!after.empty() && after >= hi) continue;
    const bool resume = !after.empty() && after >= lo;
    it->Seek(resume ? rocksdb::Slice(after.data(), after.size()) : rocksdb::Slice(lo));
    if (resume && it->Valid() && it->key() == rocksdb::Slice(after.data(), after.size())) it->Next();
    for (; it->Valid() && it->key().compare(rocksdb::Slice(hi)) < 0; it->Next()) {
      const rocksdb::Slice k = it->key();
      auto r = decode_record(std::string_view(it->value().data(), it->value().size()));
      if (!r) return Status::io_error("kv scan: a corrupt record");
      Entry e{std::string(k.data() + 9, k.size() - 9), Token{get_u64_be(std::string_view(k.data() + 1, 8))},
              std::move(*r), k.ToString()};
      if (!f(std::move(e))) return {};
    }
    if (Status s = io(it->status(), "kv scan"); !s.ok()) return s;
  }
  return {};
}

Status KvStore::drop_range(TokenRange range) {
  rocksdb::WriteBatch batch;
  for (const auto& [lo, hi] : segments(range)) batch.DeleteRange(lo, hi);
  return io(db_->Write(rocksdb::WriteOptions(), &batch), "kv drop range");
}

Result<bool> KvStore::erase_if(std::string_view key, const Record& expected,
                               const std::function<bool()>& still_wanted) {
  std::lock_guard lock(lock_for(key));
  auto held = get(key);
  if (!held.ok()) return held.status();
  if (!*held || !(**held == expected) || !still_wanted()) return false;
  rocksdb::Status s = db_->Delete(rocksdb::WriteOptions(), data_key(token_of(key), key));
  if (!s.ok()) return Status::io_error("kv delete: " + s.ToString());
  return true;
}

Status KvStore::compact() {
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return io(db_->CompactRange(o, nullptr, nullptr), "kv compact");
}

uint64_t KvStore::estimated_keys() const {
  uint64_t n = 0;
  db_->GetIntProperty("rocksdb.estimate-num-keys", &n);
  return n;
}

}  // namespace ringkeeper::kv
