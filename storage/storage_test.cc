#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "storage/memory_store.h"
#include "storage/rocks_store.h"

namespace ringkeeper::storage {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("ringkeeper-storage-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  fs::path path() const { return path_; }

 private:
  fs::path path_;
};

TEST(RocksStore, WritesAtomicallyAndReadsBackAfterReopen) {
  TempDir dir;
  const std::string db = dir.str() + "/state";
  {
    auto r = open_rocks_store(db);
    ASSERT_TRUE(r.store) << r.error.message;
    WriteBatch b;
    b.put_meta(meta::kNodeId, "abc");
    b.put(RecordKind::kEntry, "n1", "one");
    b.put(RecordKind::kEntry, "n2", "two");
    r.store->write(b, true);
    WriteBatch d;
    d.erase(RecordKind::kEntry, "n1");
    r.store->write(d, false);
  }
  auto r = open_rocks_store(db);
  ASSERT_TRUE(r.store) << r.error.message;
  EXPECT_EQ(r.store->get_meta(meta::kNodeId), "abc");
  EXPECT_EQ(r.store->get_meta(meta::kFormat), std::to_string(kFormatVersion));
  std::vector<std::pair<std::string, std::string>> entries;
  r.store->scan(RecordKind::kEntry, [&](std::string_view k, std::string_view v) { entries.emplace_back(k, v); });
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].first, "n2");
  EXPECT_EQ(entries[0].second, "two");
}

TEST(RocksStore, FutureFormatIsRefusedAndLeftUntouched) {
  TempDir dir;
  const std::string db = dir.str() + "/state";
  {
    auto r = open_rocks_store(db);
    ASSERT_TRUE(r.store);
    WriteBatch b;
    b.put_meta(meta::kFormat, std::to_string(kFormatVersion + 1));
    b.put_meta(meta::kNodeId, "future");
    r.store->write(b, true);
  }
  auto r = open_rocks_store(db);
  EXPECT_FALSE(r.store);
  EXPECT_EQ(r.error.reason, OpenError::Reason::kFutureFormat);
  EXPECT_NE(r.error.message.find("newer"), std::string::npos) << r.error.message;
  EXPECT_EQ(r.error.message.find('\n'), std::string::npos);
  // Still the future format: the refusal wrote nothing.
  auto again = open_rocks_store(db);
  EXPECT_EQ(again.error.reason, OpenError::Reason::kFutureFormat);
}

TEST(RocksStore, CorruptDirIsRefused) {
  TempDir dir;
  const std::string db = dir.str() + "/state";
  {
    auto r = open_rocks_store(db);
    ASSERT_TRUE(r.store);
  }
  // Garbage where the manifest pointer and the manifests are.
  for (const auto& e : fs::directory_iterator(db)) {
    const std::string name = e.path().filename().string();
    if (name == "CURRENT" || name.starts_with("MANIFEST")) {
      std::ofstream(e.path(), std::ios::trunc) << "this is not a manifest\n";
    }
  }
  auto r = open_rocks_store(db);
  EXPECT_FALSE(r.store);
  EXPECT_NE(r.error.reason, OpenError::Reason::kNone);
  EXPECT_FALSE(r.error.message.empty());
}

TEST(RocksStore, SecondOpenOfALiveStoreIsRefusedAsLocked) {
  TempDir dir;
  const std::string db = dir.str() + "/state";
  auto first = open_rocks_store(db);
  ASSERT_TRUE(first.store);
  auto second = open_rocks_store(db);
  EXPECT_FALSE(second.store);
  EXPECT_EQ(second.error.reason, OpenError::Reason::kLocked) << second.error.message;
}

TEST(RocksStore, ForeignRocksDbWithoutFormatRecordIsRefused) {
  TempDir dir;
  const std::string db = dir.str() + "/state";
  {
    auto r = open_rocks_store(db);
    ASSERT_TRUE(r.store);
    WriteBatch b;
    b.erase(RecordKind::kMeta, meta::kFormat);
    b.put(RecordKind::kEntry, "x", "y");
    r.store->write(b, true);
  }
  auto r = open_rocks_store(db);
  EXPECT_FALSE(r.store);
  EXPECT_EQ(r.error.reason, OpenError::Reason::kUnknownFormat);
}

TEST(MemoryStore, FormatCheckWritesFormatOnceAndRefusesFuture) {
  MemoryStore m;
  EXPECT_EQ(check_format(m).reason, OpenError::Reason::kNone);
  EXPECT_EQ(m.get_meta(meta::kFormat), std::to_string(kFormatVersion));
  WriteBatch b;
  b.put_meta(meta::kFormat, "99");
  m.write(b, false);
  EXPECT_EQ(check_format(m).reason, OpenError::Reason::kFutureFormat);
  WriteBatch junk;
  junk.put_meta(meta::kFormat, "1x");
  m.write(junk, false);
  EXPECT_EQ(check_format(m).reason, OpenError::Reason::kUnknownFormat);
}

TEST(FaultyStore, FailedWriteLandsNothing) {
  MemoryStore m;
  FaultyStore f(m);
  f.fail_writes(1);
  WriteBatch b;
  b.put(RecordKind::kEntry, "a", "1");
  b.put(RecordKind::kEntry, "b", "2");
  EXPECT_THROW(f.write(b, true), StoreError);
  EXPECT_FALSE(m.get(RecordKind::kEntry, "a"));
  f.write(b, true);
  EXPECT_EQ(m.get(RecordKind::kEntry, "b"), "2");
}

}  // namespace
}  // namespace ringkeeper::storage
