// Replays arbitrary bytes as a journal (or snapshot) file. Replay must never crash;
// it either refuses the file with JournalError or repairs it, and replaying the
// repaired file again must give the same records with nothing more dropped. A refused
// file then goes through journal-check's repair: a second repair finds nothing left to drop,
// and a journal behind a valid header (case 0) opens afterwards.
//
// The first input byte picks what the rest is: 0 a journal body behind a valid
// header (so the fuzzer spends its time on record framing), 1 a whole journal
// file, 2 a whole snapshot file.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <asyncore/journal/journal.h>

namespace {

// A per-process folder, removed when the fuzzer exits.
struct WorkDirectory {
  std::string path;
  WorkDirectory() {
    // tmpfs when there is one: replay fsyncs, which would make a disk the bottleneck.
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm"
                                                                          : std::filesystem::temp_directory_path();
    path = base / ("journal-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~WorkDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

const std::string& work_directory() {
  static const WorkDirectory directory;
  return directory.path;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace asyncore;
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string path = work_directory() + "/j";
  for (const char* suffix : {"", ".snapshot", ".tmp", ".snapshot.tmp"}) std::filesystem::remove(path + suffix);
  switch (data[0] % 3) {
    case 0: write_file(path, journal_format::encode_header(journal_format::FileKind::journal, 0) + body); break;
    case 1: write_file(path, body); break;
    default: write_file(path + ".snapshot", body); break;
  }
  JournalOptions options;
  options.max_record_bytes = 1 << 16;  // keeps absurd lengths cheap to reject
  std::vector<std::string> first, second;
  try {
    auto journal = Journal::open(path, options, [&](std::string_view r) { first.emplace_back(r); });
    if (journal.replay_stats().records != first.size()) std::abort();
  } catch (const JournalError&) {
    // Refused with a clear error: acceptable for a file that is not a torn journal.
    const std::string damaged = data[0] % 3 == 2 ? path + ".snapshot" : path;
    RepairReport repaired;
    try {
      repaired = repair_journal_file(damaged, true, options.max_record_bytes);
    } catch (const JournalError&) {
      return 0;  // no readable header: nothing to salvage
    }
    if (!repaired.backup.empty()) std::filesystem::remove(repaired.backup);
    const RepairReport again = repair_journal_file(damaged, false, options.max_record_bytes);
    if (!again.gaps.empty() || again.records_kept != repaired.records_kept) std::abort();
    if (data[0] % 3 == 0) {
      auto journal = Journal::open(path, options, [](std::string_view) {});
      if (journal.replay_stats().records != repaired.records_kept) std::abort();
    }
    return 0;
  }
  auto journal = Journal::open(path, options, [&](std::string_view r) { second.emplace_back(r); });
  if (second != first || journal.replay_stats().bytes_dropped != 0) std::abort();
  return 0;
}
