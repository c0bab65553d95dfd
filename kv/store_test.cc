// KvStore and HybridClock on a real RocksDB in a temp dir: last-write-wins, token-ordered scans
// (plain, wrapping, whole ring, resumed), dropping ranges, the collector's conditional delete,
// tombstone collection after the grace period, the format record, and the clock's bounds.
#include "kv/store.h"

#include <atomic>
#include <filesystem>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "kv/hints.h"
#include "kv/hlc.h"
#include "kv/range_hash.h"

namespace ringkeeper::kv {
namespace {

namespace fs = std::filesystem;

// Keys "N:anything" land on token N, so tests place keys where they want them.
class NumberPartitioner final : public Partitioner {
 public:
  Token token_of(std::string_view key) const override {
    return Token{std::stoull(std::string(key.substr(0, key.find(':'))))};
  }
  std::string_view name() const override { return "number"; }
};

class KvStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("ringkeeper-kvstore-" + std::to_string(rd()));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<KvStore> open(bool wait_for_repair = false) {
    auto s = KvStore::open({.path = dir_.string(), .partitioner = &partitioner_, .tombstone_grace_ms = 1000,
                            .wall_ms = [this] { return now_.load(); },
                            .tombstones_wait_for_repair = wait_for_repair});
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  std::set<std::string> keys_in(KvStore& store, TokenRange r) {
    std::set<std::string> out;
    EXPECT_TRUE(store.scan(r, "", [&](KvStore::Entry&& e) {
      out.insert(e.key);
      return true;
    }).ok());
    return out;
  }

  fs::path dir_;
  NumberPartitioner partitioner_;
  std::atomic<int64_t> now_{1'000'000};
};

TEST(RecordTest, LastWriteWinsByStampThenTombstoneThenBytes) {
  EXPECT_TRUE(supersedes(Record{7, false, "a"}, Record{5, false, "z"}));
  EXPECT_FALSE(supersedes(Record{5, false, "z"}, Record{7, false, "a"}));
  EXPECT_TRUE(supersedes(Record{5, true, ""}, Record{5, false, "z"}));
  EXPECT_TRUE(supersedes(Record{5, false, "b"}, Record{5, false, "a"}));
  EXPECT_FALSE(supersedes(Record{5, false, "a"}, Record{5, false, "a"}));  // equal: nothing to do
  for (const Record& r : {Record{1, false, ""}, Record{UINT64_MAX, true, ""}, Record{42, false, std::string(3, '\0')}}) {
    EXPECT_EQ(decode_record(encode_record(r)), r);
  }
  EXPECT_FALSE(decode_record("").has_value());
  EXPECT_FALSE(decode_record(std::string("\x02\x00", 2) + std::string(8, 'x')).has_value());
  EXPECT_FALSE(decode_record(std::string("\x01\x01", 2) + std::string(8, 'x') + "junk").has_value());
}

TEST_F(KvStoreTest, MergeKeepsTheLaterWriteAndSurvivesReopen) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_TRUE(*store->merge("5:a", Record{10, false, "first"}));
    EXPECT_FALSE(*store->merge("5:a", Record{9, false, "older"}));
    EXPECT_TRUE(*store->merge("5:a", Record{11, false, "second"}));
    EXPECT_TRUE(*store->merge("6:b", Record{3, false, "b"}));
    EXPECT_TRUE(*store->merge("6:b", Record{4, true, ""}));
    EXPECT_FALSE(store->get("7:none")->has_value());
  }
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->get("5:a")->value(), (Record{11, false, "second"}));
  EXPECT_EQ(store->get("6:b")->value(), (Record{4, true, ""}));
}

TEST_F(KvStoreTest, ScansTokenRangesIncludingWrapAndWholeRing) {
  auto store = open();
  ASSERT_TRUE(store);
  const std::string max = std::to_string(UINT64_MAX);
  for (std::string k : {"0:zero", "1:one", "10:ten", "10:ten-b", "20:twenty", "100:hundred"}) {
    ASSERT_TRUE(store->merge(k, Record{1, false, k}).ok());
  }
  ASSERT_TRUE(store->merge(max + ":max", Record{1, false, "m"}).ok());
  using S = std::set<std::string>;
  EXPECT_EQ(keys_in(*store, TokenRange{Token{1}, Token{20}}), (S{"10:ten", "10:ten-b", "20:twenty"}));
  EXPECT_EQ(keys_in(*store, TokenRange{Token{10}, Token{19}}), S{});
  // (100, 1] wraps: max and 0 and 1.
  EXPECT_EQ(keys_in(*store, TokenRange{Token{100}, Token{1}}), (S{max + ":max", "0:zero", "1:one"}));
  EXPECT_EQ(keys_in(*store, TokenRange{Token{UINT64_MAX}, Token{0}}), (S{"0:zero"}));
  EXPECT_EQ(keys_in(*store, TokenRange{Token{20}, Token{UINT64_MAX}}), (S{"100:hundred", max + ":max"}));
  EXPECT_EQ(keys_in(*store, TokenRange{Token{7}, Token{7}}).size(), 7u);
}

TEST_F(KvStoreTest, AScanResumesAfterAPosition) {
  auto store = open();
  ASSERT_TRUE(store);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(store->merge(std::to_string(i * 7) + ":k", Record{1, false, "v"}).ok());
  // A wrapping range read 3 records at a time: every record once.
  const TokenRange range{Token{100}, Token{50}};
  std::string after;
  std::vector<std::string> seen;
  for (int pages = 0; pages < 100; ++pages) {
    size_t n = 0;
    ASSERT_TRUE(store->scan(range, after, [&](KvStore::Entry&& e) {
      seen.push_back(e.key);
      after = e.position;
      return ++n < 3;
    }).ok());
    if (n < 3) break;
  }
  const std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size());
  EXPECT_EQ(seen.size(), keys_in(*store, range).size());
  EXPECT_EQ(seen.size(), 8u + 35u);  // tokens 0..49 (8 of them) and 105..343 (35)
}

TEST_F(KvStoreTest, DropRangeDeletesOnlyThatRange) {
  auto store = open();
  ASSERT_TRUE(store);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(store->merge(std::to_string(i) + ":k", Record{1, false, "v"}).ok());
  ASSERT_TRUE(store->drop_range(TokenRange{Token{25}, Token{4}}).ok());  // 26..29, 0..4
  const auto left = keys_in(*store, TokenRange{Token{0}, Token{0}});
  EXPECT_EQ(left.size(), 30u - 9u);
  EXPECT_FALSE(left.count("0:k"));
  EXPECT_FALSE(left.count("29:k"));
  EXPECT_TRUE(left.count("5:k"));
  EXPECT_TRUE(left.count("25:k"));
}

// The outside collector's delete: only the record it handed off, only while still wanted.
TEST_F(KvStoreTest, EraseIfDeletesOnlyTheExpectedRecordWhileStillWanted) {
  auto store = open();
  ASSERT_TRUE(store);
  const Record old{1, false, "old"}, newer{2, false, "new"};
  ASSERT_TRUE(store->merge("1:k", old).ok());
  auto yes = [] { return true; };
  EXPECT_FALSE(*store->erase_if("1:k", old, [] { return false; })) << "no longer wanted";
  ASSERT_TRUE(store->merge("1:k", newer).ok());
  EXPECT_FALSE(*store->erase_if("1:k", old, yes)) << "a newer record arrived meanwhile";
  EXPECT_EQ(**store->get("1:k"), newer);
  EXPECT_TRUE(*store->erase_if("1:k", newer, yes));
  EXPECT_FALSE(store->get("1:k")->has_value());
  EXPECT_FALSE(*store->erase_if("1:k", newer, yes)) << "nothing left to delete";
}

TEST_F(KvStoreTest, TombstonesAreCollectedOnlyAfterTheGracePeriod) {
  auto store = open();
  ASSERT_TRUE(store);
  const uint64_t stamp = HybridClock::make(static_cast<uint64_t>(now_.load()), 0);
  ASSERT_TRUE(store->merge("1:gone", Record{stamp, true, ""}).ok());
  ASSERT_TRUE(store->merge("2:kept", Record{stamp, false, "v"}).ok());
  ASSERT_TRUE(store->compact().ok());
  EXPECT_TRUE(store->get("1:gone")->has_value()) << "collected inside the grace period";
  now_ += 1001;
  ASSERT_TRUE(store->compact().ok());
  EXPECT_FALSE(store->get("1:gone")->has_value()) << "not collected after the grace period";
  EXPECT_TRUE(store->get("2:kept")->has_value());
}

TEST_F(KvStoreTest, WithAntiEntropyTombstonesWaitForARepairCycleThatStartedAfterThem) {
  auto store = open(/*wait_for_repair=*/true);
  ASSERT_TRUE(store);
  const uint64_t stamp = HybridClock::make(static_cast<uint64_t>(now_.load()), 0);
  ASSERT_TRUE(store->merge("1:gone", Record{stamp, true, ""}).ok());
  now_ += 5000;  // far past the grace period
  ASSERT_TRUE(store->compact().ok());
  EXPECT_TRUE(store->get("1:gone")->has_value()) << "collected before any repair";
  store->set_repaired_before_ms(now_.load() - 4999);  // a cycle that started 1 ms after the delete
  ASSERT_TRUE(store->compact().ok());
  EXPECT_FALSE(store->get("1:gone")->has_value()) << "kept after a completed repair cycle";
}

TEST(RangeHashesTest, LeavesTileTheRangeAndEqualContentsHashAlike) {
  for (TokenRange r : {TokenRange{Token{100}, Token{1000}}, TokenRange{Token{UINT64_MAX - 50}, Token{70}},
                       TokenRange{Token{7}, Token{7}}, TokenRange{Token{10}, Token{20}}}) {
    RangeHashes h(r);
    ASSERT_GT(h.leaf_count(), 0u);
    EXPECT_EQ(h.leaf_range(0).start, r.start);
    EXPECT_EQ(h.leaf_range(h.leaf_count() - 1).end, r.end);
    for (uint32_t i = 0; i + 1 < h.leaf_count(); ++i) {
      EXPECT_EQ(h.leaf_range(i).end, h.leaf_range(i + 1).start);
      EXPECT_NE(h.leaf_range(i).start, h.leaf_range(i).end) << "an empty leaf reads as the whole ring";
    }
    // Every token of a leaf's slice maps to that leaf.
    for (uint32_t i = 0; i < h.leaf_count(); ++i) {
      EXPECT_EQ(h.leaf_of(h.leaf_range(i).end), i);
      EXPECT_EQ(h.leaf_of(Token{h.leaf_range(i).start.value() + 1}), i);
    }
  }
  EXPECT_EQ(RangeHashes(TokenRange{Token{10}, Token{20}}).leaf_count(), 10u);
  // The same records in another order: the same root; one record newer: one leaf differs.
  const TokenRange r{Token{0}, Token{6400}};
  RangeHashes a(r), b(r), c(r);
  for (uint64_t t = 1; t <= 6400; t += 37) a.add("k" + std::to_string(t), Token{t}, Record{1, false, "v"});
  for (uint64_t t = 6400 - 6400 % 37 + 1; t >= 1 && t <= 6400; t -= 37) {
    b.add("k" + std::to_string(t), Token{t}, Record{1, false, "v"});
    c.add("k" + std::to_string(t), Token{t}, Record{t == 38 ? 2u : 1u, false, "v"});
  }
  EXPECT_EQ(a.root(), b.root());
  EXPECT_NE(a.root(), c.root());
  EXPECT_EQ(a.differing(c.leaves()), std::vector<uint32_t>{a.leaf_of(Token{38})});
  auto decoded = RangeHashes::decode_leaves(c.encode_leaves(), c.leaf_count());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, c.leaves());
  EXPECT_FALSE(RangeHashes::decode_leaves("short", c.leaf_count()));
}

TEST_F(KvStoreTest, RefusesAnotherFormat) {
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir_.string(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "mformat", "9").ok());
    delete db;
  }
  auto s = KvStore::open({.path = dir_.string()});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kDataDirRefused);
  EXPECT_NE(s.status().message().find("format 9"), std::string::npos) << s.status().message();
}

TEST_F(KvStoreTest, HintsAreBoundedPersistedAndKeptPerTarget) {
  const NodeId a(1, 2), b(3, 4);
  {
    auto hints = HintStore::open({.path = (dir_ / "hints").string(), .max_hints = 3});
    ASSERT_TRUE(hints.ok()) << hints.status().to_string();
    EXPECT_TRUE(*(*hints)->add(a, "k1", Record{1, false, "v1"}));
    EXPECT_TRUE(*(*hints)->add(b, "k2", Record{2, true, ""}));
    EXPECT_TRUE(*(*hints)->add(a, "k3", Record{3, false, "v3"}));
    EXPECT_FALSE(*(*hints)->add(a, "k4", Record{4, false, "v4"})) << "over the bound";
    EXPECT_EQ((*hints)->count(), 3u);
  }
  auto hints = HintStore::open({.path = (dir_ / "hints").string(), .max_hints = 3});
  ASSERT_TRUE(hints.ok());
  EXPECT_EQ((*hints)->count(), 3u) << "hints survive a restart";
  EXPECT_EQ((*hints)->targets(), (std::vector<NodeId>{a, b}));
  auto for_a = (*hints)->peek(a, 10);
  ASSERT_TRUE(for_a.ok());
  ASSERT_EQ(for_a->size(), 2u);
  EXPECT_EQ((*for_a)[0].key, "k1");
  EXPECT_EQ((*for_a)[1].record, (Record{3, false, "v3"}));
  ASSERT_TRUE((*hints)->remove((*for_a)[0].id).ok());
  EXPECT_EQ((*hints)->count(), 2u);
  EXPECT_TRUE(*(*hints)->add(b, "k5", Record{5, false, "v5"})) << "room again";
  EXPECT_EQ((*hints)->peek(b, 10)->size(), 2u);
}

TEST(HybridClockTest, StampsGrowAndFarFutureStampsAreRefused) {
  int64_t wall = 5000;
  HybridClock clock([&] { return wall; }, 100);
  const uint64_t a = clock.now();
  const uint64_t b = clock.now();
  EXPECT_GT(b, a);
  EXPECT_EQ(HybridClock::millis_of(a), 5000u);
  wall = 4000;  // the wall clock stepped back: stamps still grow
  EXPECT_GT(clock.now(), b);
  wall = 5000;
  const uint64_t ahead = HybridClock::make(5050, 3);
  EXPECT_TRUE(clock.observe(ahead));
  EXPECT_GT(clock.now(), ahead);
  EXPECT_FALSE(clock.observe(HybridClock::make(5101, 0)));
  EXPECT_LT(clock.now(), HybridClock::make(5101, 0));
}

}  // namespace
}  // namespace ringkeeper::kv
