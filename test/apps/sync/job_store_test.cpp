// The job store itself, in process: what it does when its journal cannot be written.
#include "apps/sync/job_store.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "test/support/testing.h"

using asyncore::ChannelMap;
using asyncore::JournalError;
using namespace asyncore::sync;

namespace {

StoreOptions options_in(const testing::TempDir& dir) {
  StoreOptions options;
  options.data_dir = dir.file("data");
  return options;
}

// Runs the loop until the store's retries have saved everything (bounded).
bool retried_until_saved(ChannelMap& map, const JobStore& store) {
  return testing::eventually([&] {
    map.loop(0.05, 1);
    return !store.failing() && !store.unsynced();
  }, testing::Seconds(10));
}

// The lowest free descriptor number: RLIMIT_NOFILE at this number + 1 lets one more file open.
int lowest_free_fd() {
  const int fd = ::dup(0);
  REQUIRE(fd >= 0);
  ::close(fd);
  return fd;
}

}  // namespace

TEST_CASE("a write the disk refuses (EFBIG) waits in memory, in order, and is saved by a retry once it can") {
  testing::TempDir dir;
  ChannelMap map;
  std::uint64_t number = 0;
  {
    JobStore store(options_in(dir), map);
    Job& job = store.create("t", "a");
    number = job.number;
    store.start(job);
    store.append_line(job, "line 0");
    store.sync();
    CHECK(!store.has_unsaved(number));

    struct rlimit saved {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit tight = saved;
    tight.rlim_cur = store.journal().size_bytes();  // not one byte more
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
    store.append_line(job, "line 1");  // refused: waits
    store.append_line(job, "line 2");  // behind it, in order
    store.finish(job, JobState::succeeded, 0);
    const bool failing = store.failing();
    const bool pending = store.pending_write(number);
    const std::size_t waiting = store.pending_records();
    const std::string failure = store.failure();
    bool sync_threw = false;
    try {
      store.sync();
    } catch (const JournalError&) {
      sync_threw = true;
    }
    map.loop(0.1, 3);  // retries meet the same limit
    const bool still_failing = store.failing();
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);
    ::signal(SIGXFSZ, old_handler);

    CHECK(failing);
    CHECK(pending);
    CHECK(waiting == 3);
    CHECK(failure.find(std::strerror(EFBIG)) != std::string::npos);
    CHECK(sync_threw);
    CHECK(still_failing);
    CHECK(job.state == JobState::succeeded);  // memory stays authoritative meanwhile
    CHECK(job.lines.size() == 3);
    REQUIRE(retried_until_saved(map, store));
    CHECK(!store.pending_write(number));
  }
  JobStore reopened(options_in(dir), map);
  const Job* job = reopened.find(number);
  REQUIRE(job);
  CHECK(job->state == JobState::succeeded);
  CHECK(job->exit_code == 0);
  REQUIRE(job->lines.size() == 3);
  CHECK(job->lines[1].text == "line 1");
  CHECK(job->lines[2].text == "line 2");
}

TEST_CASE("a compaction failing past its commit point: the store keeps its changes and reopens the journal") {
  testing::TempDir dir;
  ChannelMap map;
  std::uint64_t number = 0;
  {
    JobStore store(options_in(dir), map);
    Job& job = store.create("t", "a");
    number = job.number;
    store.start(job);
    store.append_line(job, "before");
    store.sync();

    // Room for one more descriptor: the compaction's temporary files open, its directory fsync
    // (after the snapshot's rename, the commit point) cannot.
    struct rlimit saved {};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    struct rlimit tight = saved;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free_fd() + 1);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    std::string error;
    try {
      store.compact();
    } catch (const JournalError& e) {
      error = e.what();
    }
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
    CAPTURE(error);
    REQUIRE(error.find("fsync of directory") != std::string::npos);
    CHECK(!store.journal().usable());

    store.append_line(job, "after");  // the journal refuses it: it waits
    store.finish(job, JobState::succeeded, 0);
    CHECK(store.failing());
    CHECK(store.pending_write(number));
    REQUIRE(retried_until_saved(map, store));  // the retry reopens the journal
    CHECK(store.journal().usable());
  }
  JobStore reopened(options_in(dir), map);
  const Job* job = reopened.find(number);
  REQUIRE(job);
  CHECK(job->state == JobState::succeeded);
  REQUIRE(job->lines.size() == 2);
  CHECK(job->lines[0].text == "before");
  CHECK(job->lines[1].text == "after");
  CHECK(reopened.journal().generation() == 1);  // the snapshot's: the compaction had committed
}

TEST_CASE("a job withdrawn while its creation waits is gone after the records are written, and its number is not reused") {
  testing::TempDir dir;
  ChannelMap map;
  {
    JobStore store(options_in(dir), map);
    store.sync();
    struct rlimit saved {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit tight = saved;
    tight.rlim_cur = store.journal().size_bytes();
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &tight) == 0);
    const std::uint64_t number = store.create("t", "a").number;
    const bool failing = store.failing();
    store.withdraw(number);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &saved) == 0);
    ::signal(SIGXFSZ, old_handler);
    CHECK(failing);
    CHECK(number == 1);
    CHECK(store.find(number) == nullptr);
    REQUIRE(retried_until_saved(map, store));
  }
  JobStore reopened(options_in(dir), map);
  CHECK(reopened.job_count() == 0);
  CHECK(reopened.create("t", "b").number == 2);
}
