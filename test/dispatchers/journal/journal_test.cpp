#include <asyncore/journal/journal.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <thread>

#include "test/dispatchers/journal/numbered_records.h"
#include "test/support/testing.h"

using asyncore::Journal;
using asyncore::JournalError;
using asyncore::JournalOptions;
using asyncore::SyncPolicy;
using asyncore::journal_format::TailProblem;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kHeader = asyncore::journal_format::kHeaderSize;
constexpr std::size_t kFrame = asyncore::journal_format::kRecordHeaderSize;

struct Opened {
  Journal journal;
  std::vector<std::string> records;
};

Opened open_journal(const std::string& path, JournalOptions options = {}) {
  std::vector<std::string> records;
  auto journal = Journal::open(path, options, [&](std::string_view r) { records.emplace_back(r); });
  return {std::move(journal), std::move(records)};
}

std::vector<std::string> replay(const std::string& path) { return open_journal(path).records; }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::vector<std::string> first(const std::vector<std::string>& records, std::size_t n) {
  return {records.begin(), records.begin() + static_cast<std::ptrdiff_t>(n)};
}

// Three records written and closed; returns them.
std::vector<std::string> write_three(const std::string& path) {
  std::vector<std::string> records{"{\"device\":\"a\"}", std::string("bin\0ary\xff", 8), "third record"};
  auto journal = open_journal(path).journal;
  for (const auto& r : records) journal.append(r);
  journal.close();
  return records;
}

}  // namespace

TEST_CASE("records round-trip, including empty and binary payloads") {
  testing::TempDir dir;
  std::string path = dir.file("state.journal");
  std::vector<std::string> records{"", "x", std::string("\0\x01\x02", 3), std::string(100000, 'q'), "{\"k\":1}"};
  {
    auto [journal, replayed] = open_journal(path);
    CHECK(replayed.empty());
    CHECK(journal.path() == path);
    for (const auto& r : records) journal.append(r);
    CHECK(journal.record_count() == records.size());
    CHECK(journal.size_bytes() == fs::file_size(path));
  }
  auto [journal, replayed] = open_journal(path);
  CHECK(replayed == records);
  CHECK(journal.replay_stats().records == records.size());
  CHECK(journal.replay_stats().bytes_dropped == 0);
  CHECK(journal.replay_stats().problem == TailProblem::none);
  CHECK(journal.record_count() == records.size());
}

TEST_CASE("a tail torn at every byte of the last record is cut back, then appends continue") {
  testing::TempDir dir;
  std::string path = dir.file("j");
  auto records = write_three(path);
  std::string whole = read_bytes(path);
  std::size_t last_start = whole.size() - kFrame - records[2].size();
  for (std::size_t cut = last_start; cut < whole.size(); ++cut) {
    CAPTURE(cut);
    write_bytes(path, whole.substr(0, cut));
    {
      auto [journal, replayed] = open_journal(path);
      CHECK(replayed == first(records, 2));
      const auto& stats = journal.replay_stats();
      CHECK(stats.bytes_dropped == cut - last_start);
      if (cut == last_start) {
        CHECK(stats.problem == TailProblem::none);
      } else {
        CHECK(stats.problem == (cut - last_start < kFrame ? TailProblem::short_header : TailProblem::short_payload));
        CHECK(stats.reason.find("record 2 at offset " + std::to_string(last_start)) != std::string::npos);
      }
      CHECK(fs::file_size(path) == last_start);
      journal.append("after repair");
    }
    auto again = open_journal(path);
    CHECK(again.records == std::vector<std::string>{records[0], records[1], "after repair"});
    CHECK(again.journal.replay_stats().bytes_dropped == 0);
  }
}

TEST_CASE("a flipped byte in the middle record: refused naming the file and offset; journal-check --fix keeps the rest") {
  testing::TempDir dir;
  std::string path = dir.file("j");
  auto records = write_three(path);
  std::string whole = read_bytes(path);
  std::size_t middle_start = kHeader + kFrame + records[0].size();
  // Every byte of the middle record: the valid one after it must not be dropped silently.
  for (std::size_t at = middle_start; at < middle_start + kFrame + records[1].size(); ++at) {
    CAPTURE(at);
    std::string damaged = whole;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x80);
    write_bytes(path, damaged);
    std::string refusal;
    try {
      open_journal(path);
    } catch (const JournalError& e) {
      refusal = e.what();
    }
    CHECK(refusal.find(path + ": ") != std::string::npos);
    CHECK(refusal.find("at offset " + std::to_string(middle_start)) != std::string::npos);
    CHECK(refusal.find("journal-check --fix " + path) != std::string::npos);
    CHECK(read_bytes(path) == damaged);  // nothing was changed
    auto report = asyncore::repair_journal_file(path, false);
    CHECK(report.records_kept == 2);
    CHECK(report.backup.empty());
    CHECK(read_bytes(path) == damaged);
    report = asyncore::repair_journal_file(path, true);
    REQUIRE(report.gaps.size() == 1);
    CHECK(report.gaps[0].offset == middle_start);
    CHECK(report.bytes_dropped == kFrame + records[1].size());
    CHECK(read_bytes(report.backup) == damaged);
    CHECK(replay(path) == std::vector<std::string>{records[0], records[2]});
    fs::remove(report.backup);
  }
}

TEST_CASE("a damaged last record is a torn tail: cut off with the reason, nothing after it to keep") {
  testing::TempDir dir;
  std::string path = dir.file("j");
  auto records = write_three(path);
  std::string whole = read_bytes(path);
  const std::size_t last_start = whole.size() - kFrame - records[2].size();
  std::string damaged = whole;
  damaged[last_start + 3] = '\x7f';
  write_bytes(path, damaged);
  auto opened = open_journal(path);
  CHECK(opened.journal.replay_stats().problem == TailProblem::oversize_length);
  CHECK(opened.records == first(records, 2));
}

TEST_CASE("a 0-byte journal starts afresh and says so") {
  testing::TempDir dir;
  std::string path = dir.file("j");
  write_bytes(path, "");
  auto opened = open_journal(path);
  CHECK(opened.journal.replay_stats().empty_file);
  CHECK(opened.records.empty());
  opened.journal.append("after");
  opened.journal.close();
  CHECK(replay(path) == std::vector<std::string>{"after"});
}

TEST_CASE("bad input that is not a torn tail is refused with what and where") {
  testing::TempDir dir;
  std::string path = dir.file("j");
  SUBCASE("not a journal") {
    write_bytes(path, "this is some other file entirely");
    CHECK_THROWS_WITH_AS(open_journal(path), doctest::Contains("bad magic at offset 0"), JournalError);
    CHECK(read_bytes(path) == "this is some other file entirely");  // left alone
  }
  SUBCASE("a journal newer than its snapshot (the snapshot was lost)") {
    auto journal = open_journal(path).journal;
    journal.compact(std::vector<std::string>{"s"});
    journal.close();
    fs::remove(path + ".snapshot");
    CHECK_THROWS_WITH_AS(open_journal(path), doctest::Contains("missing or outdated"), JournalError);
  }
  SUBCASE("a corrupt snapshot") {
    auto journal = open_journal(path).journal;
    journal.compact(std::vector<std::string>{"one", "two"});
    journal.close();
    std::string snapshot = read_bytes(path + ".snapshot");
    snapshot.back() = 'X';
    write_bytes(path + ".snapshot", snapshot);
    CHECK_THROWS_WITH_AS(open_journal(path), doctest::Contains("bad CRC in record 1 at offset 27"), JournalError);
  }
  SUBCASE("an oversized append throws and the journal carries on") {
    JournalOptions options;
    options.max_record_bytes = 10;
    auto journal = open_journal(path, options).journal;
    CHECK_THROWS_WITH_AS(journal.append(std::string(11, 'x')), doctest::Contains("exceeds max_record_bytes"),
                         JournalError);
    journal.append("0123456789");
    journal.close();
    CHECK(replay(path) == std::vector<std::string>{"0123456789"});
  }
}

TEST_CASE("batched sync holds at most N records or T milliseconds unsynced") {
  testing::TempDir dir;
  JournalOptions options;
  options.sync = SyncPolicy::batched;
  SUBCASE("record bound") {
    options.batch_max_records = 5;
    options.batch_max_delay = std::chrono::hours(1);
    auto journal = open_journal(dir.file("j"), options).journal;
    for (int i = 0; i < 4; ++i) journal.append("r");
    CHECK(journal.unsynced_records() == 4);
    CHECK(journal.next_sync_deadline().has_value());
    journal.sync_if_due();
    CHECK(journal.unsynced_records() == 4);
    journal.append("r");
    CHECK(journal.unsynced_records() == 0);
    CHECK_FALSE(journal.next_sync_deadline().has_value());
    journal.append("r");
    journal.sync();
    CHECK(journal.unsynced_records() == 0);
  }
  SUBCASE("time bound, on append and from the owner's timer") {
    options.batch_max_records = 1000;
    options.batch_max_delay = std::chrono::milliseconds(30);
    auto journal = open_journal(dir.file("j"), options).journal;
    auto before = Journal::Clock::now();
    journal.append("r");
    CHECK(journal.unsynced_records() == 1);
    auto deadline = journal.next_sync_deadline();
    REQUIRE(deadline.has_value());
    CHECK(*deadline >= before + options.batch_max_delay);
    CHECK(*deadline <= Journal::Clock::now() + options.batch_max_delay);
    std::this_thread::sleep_until(*deadline);
    journal.append("r");  // the oldest is now due, so this append syncs both
    CHECK(journal.unsynced_records() == 0);
    journal.append("r");
    std::this_thread::sleep_until(*journal.next_sync_deadline());
    journal.sync_if_due();
    CHECK(journal.unsynced_records() == 0);
  }
}

TEST_CASE("compaction round trip: snapshot records first, then the journal's") {
  testing::TempDir dir;
  std::string path = dir.file("j");
  {
    auto journal = open_journal(path).journal;
    for (int i = 0; i < 10; ++i) journal.append("event " + std::to_string(i));
    journal.compact(std::vector<std::string>{"state a", "state b", "state c"});
    CHECK(journal.generation() == 1);
    CHECK(journal.record_count() == 0);
    CHECK(journal.snapshot_record_count() == 3);
    CHECK(journal.size_bytes() == kHeader);
    journal.append("later 1");
    journal.append("later 2");
  }
  CHECK_FALSE(fs::exists(path + ".tmp"));
  CHECK_FALSE(fs::exists(path + ".snapshot.tmp"));
  {
    auto [journal, replayed] = open_journal(path);
    CHECK(replayed == std::vector<std::string>{"state a", "state b", "state c", "later 1", "later 2"});
    CHECK(journal.replay_stats().snapshot_records == 3);
    CHECK(journal.replay_stats().records == 5);
    journal.compact(std::vector<std::string>{"state d"});
    CHECK(journal.generation() == 2);
    journal.compact(std::vector<std::string>{});  // an empty state is a state too
    journal.append("x");
  }
  CHECK(replay(path) == std::vector<std::string>{"x"});
}

TEST_CASE("a crash at each step of compaction still replays correctly") {
  testing::TempDir dir;
  std::string path = dir.file("j");
  std::vector<std::string> old_state{"e1", "e2", "e3"};
  std::vector<std::string> new_state{"compacted"};
  // Capture the files before and after a real compaction, then rebuild each crash point.
  {
    auto journal = open_journal(path).journal;
    for (const auto& r : old_state) journal.append(r);
  }
  std::string old_journal = read_bytes(path);
  {
    auto journal = open_journal(path).journal;
    journal.compact(new_state);
  }
  std::string new_journal = read_bytes(path);
  std::string new_snapshot = read_bytes(path + ".snapshot");

  SUBCASE("crash while writing the temporary files (before the commit)") {
    fs::remove(path + ".snapshot");
    write_bytes(path, old_journal);
    write_bytes(path + ".snapshot.tmp", new_snapshot.substr(0, new_snapshot.size() - 3));  // torn
    write_bytes(path + ".tmp", new_journal);
    auto [journal, replayed] = open_journal(path);
    CHECK(replayed == old_state);
    CHECK(journal.generation() == 0);
    CHECK_FALSE(fs::exists(path + ".tmp"));
    CHECK_FALSE(fs::exists(path + ".snapshot.tmp"));
  }
  SUBCASE("crash after the snapshot rename, before the journal rename") {
    write_bytes(path, old_journal);
    write_bytes(path + ".tmp", new_journal);
    {
      auto [journal, replayed] = open_journal(path);
      CHECK(replayed == new_state);  // the stale journal's records are not replayed twice
      CHECK(journal.replay_stats().stale_journal_records == old_state.size());
      CHECK(journal.generation() == 1);
      journal.append("after");
    }
    CHECK(replay(path) == std::vector<std::string>{"compacted", "after"});
  }
  SUBCASE("crash after both renames") {
    auto [journal, replayed] = open_journal(path);
    CHECK(replayed == new_state);
    CHECK(journal.replay_stats().stale_journal_records == 0);
  }
}

TEST_CASE("a failed append (EFBIG from RLIMIT_FSIZE) throws and leaves the journal replayable") {
  testing::TempDir dir;
  std::string path = dir.file("j");
  auto journal = open_journal(path).journal;
  journal.append("kept 1");
  journal.append("kept 2");
  auto good_size = fs::file_size(path);

  struct rlimit saved {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit tight = saved;
  tight.rlim_cur = good_size + 10;  // room for only part of the next record
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
  std::string error;
  try {
    journal.append(std::string(100, 'z'));
  } catch (const JournalError& e) {
    error = e.what();
    CHECK(e.error_number() == EFBIG);
  }
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);
  ::signal(SIGXFSZ, old_handler);

  CHECK(error.find(path) != std::string::npos);
  CHECK(error.find("File too large") != std::string::npos);
  CHECK(fs::file_size(path) == good_size);  // the partial record was cut away
  CHECK(journal.record_count() == 2);
  journal.append("kept 3");
  journal.close();
  auto reopened = open_journal(path);
  CHECK(reopened.records == std::vector<std::string>{"kept 1", "kept 2", "kept 3"});
  CHECK(reopened.journal.replay_stats().bytes_dropped == 0);
}

TEST_CASE("append_batch writes all its records in one write, or none of them") {
  testing::TempDir dir;
  std::string path = dir.file("j");
  auto journal = open_journal(path, JournalOptions::synced_by_owner()).journal;
  journal.append("kept 1");
  const std::vector<std::string> batch{"b1", std::string(300, 'b'), "b3"};
  const auto good_size = fs::file_size(path);

  struct rlimit saved {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit tight = saved;
  tight.rlim_cur = good_size + 100;  // room for the first record and part of the second
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
  std::string error;
  try {
    journal.append_batch(batch);
  } catch (const JournalError& e) {
    error = e.what();
    CHECK(e.error_number() == EFBIG);
  }
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);
  ::signal(SIGXFSZ, old_handler);

  CHECK(error.find("append of 3 records") != std::string::npos);
  CHECK(fs::file_size(path) == good_size);  // not even the first record stayed
  CHECK(journal.record_count() == 1);
  CHECK(journal.unsynced_records() == 1);
  journal.append_batch(batch);  // the same batch again, now that it fits
  CHECK(journal.record_count() == 4);
  CHECK(journal.unsynced_records() == 4);
  journal.append_batch(std::span<const std::string>());  // nothing: no write
  CHECK(journal.record_count() == 4);
  journal.close();
  CHECK(replay(path) == std::vector<std::string>{"kept 1", "b1", std::string(300, 'b'), "b3"});
}

namespace {

// Runs the writer, kills it at random moments, and checks after each round that
// every acknowledged record is present, in order, and intact.
void kill_and_replay_rounds(const std::string& mode, int rounds) {
  testing::TempDir dir;
  std::string path = dir.file("crash.journal");
  bool small_only = mode == "compacting";
  std::random_device seed_source;
  unsigned seed = seed_source();
  INFO("seed " << seed);
  std::mt19937 random(seed);
  std::size_t total_acknowledged = 0;
  std::uint64_t total_dropped = 0;
  for (int round = 0; round < rounds; ++round) {
    CAPTURE(round);
    std::optional<std::size_t> last_acknowledged;
    {
      testing::Child writer({testing::test_bin_path("journal-writer"), path, mode});
      writer.wait_for_line("ready ");
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 150));
      writer.signal(SIGKILL);
      CHECK(writer.wait() == 128 + SIGKILL);
      writer.read_all(testing::Seconds(5));
      for (const auto& line : writer.lines()) {
        if (line.rfind("ready ", 0) == 0) continue;
        auto n = std::stoull(line);
        if (last_acknowledged) CHECK(n == *last_acknowledged + 1);
        last_acknowledged = n;
        ++total_acknowledged;
      }
      INFO("writer stderr: " << writer.stderr_text());
    }
    std::size_t expected = 0;
    bool intact = true;
    auto journal = Journal::open(path, {}, [&](std::string_view payload) {
      intact = intact && journal_testing::record_number(payload, small_only) == expected;
      ++expected;
    });
    CHECK(intact);
    total_dropped += journal.replay_stats().bytes_dropped;
    if (last_acknowledged) CHECK(expected > *last_acknowledged);
  }
  MESSAGE(mode << ": " << rounds << " kills, " << total_acknowledged << " acknowledged records, "
               << total_dropped << " torn bytes repaired");
  CHECK(total_acknowledged > 0);
}

}  // namespace

TEST_CASE("kill -9 at random moments loses no acknowledged record") {
  SUBCASE("every_record") { kill_and_replay_rounds("every", 8); }
  SUBCASE("batched, acknowledged after sync") { kill_and_replay_rounds("batched", 6); }
  SUBCASE("with compactions") { kill_and_replay_rounds("compacting", 6); }
}

TEST_CASE("throughput: every_record vs batched") {
  testing::TempDir dir;
  std::string record(200, 'r');
  auto rate = [&](SyncPolicy policy, std::chrono::milliseconds budget) {
    JournalOptions options;
    options.sync = policy;
    auto journal = open_journal(dir.file(policy == SyncPolicy::batched ? "batched" : "every"), options).journal;
    auto start = Journal::Clock::now();
    std::size_t appended = 0;
    while (Journal::Clock::now() - start < budget) {
      journal.append(record);
      ++appended;
    }
    journal.sync();
    std::chrono::duration<double> elapsed = Journal::Clock::now() - start;
    return static_cast<double>(appended) / elapsed.count();
  };
  double every = rate(SyncPolicy::every_record, std::chrono::milliseconds(700));
  double batched = rate(SyncPolicy::batched, std::chrono::milliseconds(700));
  MESSAGE("appends/s of 200-byte records: every_record " << static_cast<long>(every) << ", batched(64, 50ms) "
                                                          << static_cast<long>(batched) << ", ratio "
                                                          << batched / every);
  CHECK(batched > every);
}

TEST_CASE("open_in creates the directory and its parents; synced_by_owner leaves syncing to the owner") {
  testing::TempDir dir;
  const std::string directory = dir.file("a/b/c");
  {
    auto journal = Journal::open_in(directory, "j", JournalOptions::synced_by_owner(), [](std::string_view) {});
    CHECK(journal.path() == directory + "/j");
    for (int i = 0; i < 1000; ++i) journal.append("r");
    CHECK(journal.unsynced_records() == 1000);  // no record or delay bound of its own
    journal.sync_if_due();
    CHECK(journal.unsynced_records() == 1000);
    journal.sync();
    CHECK(journal.unsynced_records() == 0);
    journal.close();
  }
  CHECK(fs::is_directory(directory));
  std::size_t replayed = 0;
  auto again = Journal::open_in(directory, "j", JournalOptions::synced_by_owner(), [&](std::string_view) { ++replayed; });
  CHECK(replayed == 1000);
  write_bytes(dir.file("file"), "not a directory");
  CHECK_THROWS_WITH_AS(Journal::open_in(dir.file("file/sub"), "j", {}, [](std::string_view) {}),
                       ("cannot create " + dir.file("file/sub")).c_str(), JournalError);
}
