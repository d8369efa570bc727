// journal-check: reports what in a journal or snapshot file (device-server's device.journal,
// sync-server's jobs.journal, or their .snapshot) cannot be read, and with --fix rewrites it with
// every readable record, after keeping the original as FILE.corrupt-<unix seconds>. As
// redis-check-aof --fix: the server refuses to start on corruption that is not a torn tail, and
// this is the deliberate step that drops the unreadable bytes. Stop the server first.
#include <algorithm>
#include <cstdio>
#include <string>

#include "apps/common/cli.h"
#include <asyncore/journal/journal.h>

using namespace asyncore;

int main(int argc, char** argv) {
  bool fix = false;
  Cli cli("journal-check", "[--fix] FILE...",
          "Checks journal and snapshot files; --fix keeps a backup and drops only the unreadable bytes. Exit 0: "
          "readable (or fixed), 1: damage left in place, 3: a file could not be checked.");
  cli.flag("--fix", &fix, "rewrite damaged files with their readable records (the original is kept aside)");
  cli.positionals("FILE", 1, 1000);
  const auto files = cli.parse(argc, argv);
  int status = 0;
  for (const std::string& file : files) {
    try {
      const RepairReport report = repair_journal_file(file, fix);
      if (report.gaps.empty()) {
        std::printf("%s: readable, %zu records\n", file.c_str(), report.records_kept);
        continue;
      }
      for (const auto& gap : report.gaps) {
        std::printf("%s: %zu unreadable bytes at offset %zu (%s)\n", file.c_str(), gap.bytes, gap.offset,
                    gap.reason.c_str());
      }
      if (fix) {
        std::printf("%s: fixed: %zu records kept, %llu bytes dropped; the original is %s\n", file.c_str(),
                    report.records_kept, static_cast<unsigned long long>(report.bytes_dropped), report.backup.c_str());
      } else {
        std::printf("%s: %zu readable records; run with --fix to keep them and drop the rest\n", file.c_str(),
                    report.records_kept);
        status = std::max(status, 1);
      }
    } catch (const JournalError& e) {
      std::fprintf(stderr, "journal-check: %s\n", e.what());
      status = 3;
    }
  }
  std::fflush(stdout);
  return status;
}
