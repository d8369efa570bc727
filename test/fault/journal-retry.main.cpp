// Appends numbered records to a Journal, retrying every failed append and sync, and checks a
// journal afterwards: the fault test runs it under the shim to show that a failed write or
// fdatasync loses nothing and duplicates nothing once a later sync succeeds.
//   journal-retry write PATH N   -> "appended N append_failures A sync_failures S"
//   journal-retry check PATH N   -> "ok N", or "bad ..." and exit 1
#include <cstdio>
#include <limits>
#include <string>

#include <asyncore/journal/journal.h>

using asyncore::Journal;
using asyncore::JournalError;

namespace {

asyncore::JournalOptions options() {
  asyncore::JournalOptions o;
  o.sync = asyncore::SyncPolicy::batched;  // syncs only when asked, as the programs' stores do
  o.batch_max_records = std::numeric_limits<std::size_t>::max();
  o.batch_max_delay = std::chrono::hours(24);
  return o;
}

std::string record(long i) { return "record " + std::to_string(i); }

int write(const std::string& path, long n) {
  Journal journal = Journal::open(path, options(), [](std::string_view) {});
  long append_failures = 0, sync_failures = 0;
  auto sync = [&] {
    for (;;) {
      try {
        journal.sync();
        return;
      } catch (const JournalError&) {
        ++sync_failures;
      }
    }
  };
  for (long i = 0; i < n; ++i) {
    for (;;) {
      try {
        journal.append(record(i));
        break;
      } catch (const JournalError&) {
        ++append_failures;
      }
    }
    if (i % 3 == 2) sync();
  }
  sync();
  std::printf("appended %ld append_failures %ld sync_failures %ld\n", n, append_failures, sync_failures);
  return 0;
}

int check(const std::string& path, long n) {
  long seen = 0;
  std::string problem;
  Journal journal = Journal::open(path, options(), [&](std::string_view payload) {
    if (problem.empty() && payload != record(seen)) problem = "record " + std::to_string(seen) + " is '" + std::string(payload) + "'";
    ++seen;
  });
  if (problem.empty() && seen != n) problem = std::to_string(seen) + " records, expected " + std::to_string(n);
  if (!problem.empty()) {
    std::printf("bad %s\n", problem.c_str());
    return 1;
  }
  std::printf("ok %ld\n", seen);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: journal-retry write|check PATH N\n");
    return 2;
  }
  const std::string mode = argv[1];
  const long n = std::stol(argv[3]);
  try {
    return mode == "write" ? write(argv[2], n) : check(argv[2], n);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "journal-retry: %s\n", e.what());
    return 1;
  }
}
