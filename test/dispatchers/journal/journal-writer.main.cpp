// Crash-test helper: replays the journal at argv[1], checks it holds records
// 0..N-1 in order, prints "ready <N> dropped <bytes>", then appends records N, N+1, ...
// forever and prints each record's number once it is durable ("acknowledged").
// Modes (argv[2]): every     - SyncPolicy::every_record
//                  batched   - SyncPolicy::batched; numbers printed once unsynced_records() is 0
//                  compacting- every_record, small records, compact() every 40 records
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <asyncore/journal/journal.h>
#include "test/dispatchers/journal/numbered_records.h"

namespace {

void acknowledge(std::size_t n) {
  std::string line = std::to_string(n) + "\n";
  // Unbuffered, so a line on stdout means the append had returned before the kill.
  if (::write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: journal-writer <journal path> every|batched|compacting\n");
    return 1;
  }
  std::string mode = argv[2];
  bool compacting = mode == "compacting";
  asyncore::JournalOptions options;
  options.sync = mode == "batched" ? asyncore::SyncPolicy::batched : asyncore::SyncPolicy::every_record;
  options.batch_max_records = 16;

  std::vector<std::string> records;  // the state, for compaction
  try {
    auto journal = asyncore::Journal::open(argv[1], options, [&](std::string_view payload) {
      auto n = journal_testing::record_number(payload, compacting);
      if (n != records.size()) {
        std::fprintf(stderr, "replayed record %zu is not the expected numbered record (it starts \"%.20s\")\n",
                     records.size(), std::string(payload.substr(0, 20)).c_str());
        std::exit(2);
      }
      records.emplace_back(payload);
    });
    std::printf("ready %zu dropped %llu\n", records.size(),
                static_cast<unsigned long long>(journal.replay_stats().bytes_dropped));
    std::fflush(stdout);
    std::vector<std::size_t> pending;
    for (std::size_t n = records.size();; ++n) {
      records.push_back(journal_testing::numbered_record(n, compacting));
      journal.append(records.back());
      pending.push_back(n);
      if (compacting && n % 40 == 39) journal.compact(records);
      if (journal.unsynced_records() == 0) {
        for (auto acknowledged : pending) acknowledge(acknowledged);
        pending.clear();
      }
    }
  } catch (const asyncore::JournalError& error) {
    std::fprintf(stderr, "journal-writer: %s\n", error.what());
    return 1;
  }
}
