// Fuzzes what the sync relay parses from a peer or a file without starting anything: a command
// line split into words, its job numbers and counts, names, progress lines, and a config file.
// Properties: nothing crashes; words never contain spaces and cover no more than the line; a
// parsed job number prints back to the same digits (less leading zeros); progress stays within 0..100.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "apps/sync/config.h"
#include "apps/sync/names.h"
#include "apps/sync/progress_line.h"
#include "apps/sync/service.h"

using namespace asyncore::sync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  size_t total = 0;
  for (std::string_view word : words(input)) {
    if (word.empty() || word.find(' ') != std::string_view::npos) std::abort();
    total += word.size();
    (void)valid_name(word);
    if (auto job = SyncService::parse_job_number(word)) {
      std::string_view digits = word.substr(std::min(word.find_first_not_of('0'), word.size()));
      if (std::to_string(*job) != digits || *job == 0) std::abort();  // leading zeros are allowed
    }
    if (auto count = SyncService::parse_count(word, kMaxJobsLimit)) {
      if (*count > kMaxJobsLimit) std::abort();
    }
  }
  if (total > input.size()) std::abort();

  if (auto progress = parse_progress(input)) {
    if (*progress < 0 || *progress > 100) std::abort();
  }

  try {
    SyncPrograms programs = parse_config(input, "fuzz.conf");
    (void)programs;
  } catch (const std::exception&) {
    // A malformed config is refused with a message naming the line: that is the contract.
  }
  return 0;
}
