#include "kv/hints.h"

#include <filesystem>

#include <rocksdb/db.h>

namespace ringkeeper::kv {

namespace {
std::string target_prefix(const NodeId& id) {
  std::string out;
  put_u64_be(out, id.hi());
  put_u64_be(out, id.lo());
  return out;
}
}  // namespace

HintStore::HintStore(Options o) : options_(std::move(o)) {}
HintStore::~HintStore() = default;

Result<std::unique_ptr<HintStore>> HintStore::open(Options options) {
  std::unique_ptr<HintStore> s(new HintStore(std::move(options)));
  std::error_code ec;
  std::filesystem::create_directories(s->options_.path, ec);
  if (ec) return Status::data_dir_refused("cannot create " + s->options_.path + ": " + ec.message());
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  rocksdb::Status st = rocksdb::DB::Open(o, s->options_.path, &db);
  if (!st.ok()) return Status::data_dir_refused("hint store " + s->options_.path + ": " + st.ToString());
  s->db_.reset(db);
  // Count what a previous run left, and continue its sequence.
  uint64_t n = 0, max_seq = 0;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 24) continue;
    ++n;
    max_seq = std::max(max_seq, get_u64_be(std::string_view(it->key().data() + 16, 8)));
  }
  s->count_ = n;
  s->next_seq_ = max_seq + 1;
  return s;
}

Result<bool> HintStore::add(const NodeId& target, std::string_view key, const Record& r) {
  if (count_.fetch_add(1) >= options_.max_hints) {
    count_.fetch_sub(1);
    return false;
  }
  std::string k = target_prefix(target);
  put_u64_be(k, next_seq_.fetch_add(1));
  std::string v;
  put_u32_be(v, static_cast<uint32_t>(key.size()));
  v += key;
  v += encode_record(r);
  rocksdb::Status st = db_->Put(rocksdb::WriteOptions(), k, v);
  if (!st.ok()) {
    count_.fetch_sub(1);
    return Status::io_error("hint store: " + st.ToString());
  }
  return true;
}

Result<std::vector<HintStore::Hint>> HintStore::peek(const NodeId& target, size_t limit) const {
  std::vector<Hint> out;
  const std::string prefix = target_prefix(target);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix) && out.size() < limit; it->Next()) {
    const std::string_view v(it->value().data(), it->value().size());
    if (v.size() < 4 || v.size() < 4 + get_u32_be(v)) return Status::io_error("hint store: a corrupt hint");
    const uint32_t klen = get_u32_be(v);
    auto rec = decode_record(v.substr(4 + klen));
    if (!rec) return Status::io_error("hint store: a corrupt hint record");
    out.push_back(Hint{it->key().ToString(), std::string(v.substr(4, klen)), std::move(*rec)});
  }
  if (!it->status().ok()) return Status::io_error("hint store: " + it->status().ToString());
  return out;
}

std::vector<NodeId> HintStore::targets() const {
  std::vector<NodeId> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  it->SeekToFirst();
  while (it->Valid()) {
    if (it->key().size() < 16) {
      it->Next();
      continue;
    }
    const std::string_view k(it->key().data(), it->key().size());
    const NodeId id(get_u64_be(k), get_u64_be(k.substr(8)));
    out.push_back(id);
    // Jump past this target's hints.
    std::string next = target_prefix(id);
    put_u64_be(next, UINT64_MAX);
    next.push_back('\xff');
    it->Seek(next);
  }
  return out;
}

Status HintStore::remove(const std::string& id) {
  rocksdb::Status st = db_->Delete(rocksdb::WriteOptions(), id);
  if (!st.ok()) return Status::io_error("hint store: " + st.ToString());
  count_.fetch_sub(1);
  return {};
}

}  // namespace ringkeeper::kv
