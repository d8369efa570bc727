// The byte layout shared by journal and snapshot files, as pure functions on
// buffers (no I/O), so it can be unit-tested and fuzzed on its own.
//
//   file   := header record*
//   header := magic[4] | version u32 LE | generation u64 LE          (16 bytes)
//             magic is "AJNL" for a journal, "ASNP" for a snapshot, so one
//             can never be replayed in place of the other.
//   record := payload length u32 LE | CRC-32 of payload u32 LE | payload
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asyncore::journal_format {

enum class FileKind { journal, snapshot };

inline constexpr std::size_t kHeaderSize = 16;
inline constexpr std::size_t kRecordHeaderSize = 8;
inline constexpr std::uint32_t kVersion = 1;

std::string encode_header(FileKind kind, std::uint64_t generation);

struct HeaderCheck {
  std::optional<std::uint64_t> generation;  // set when the header is valid
  std::string problem;                      // why not, otherwise
};
HeaderCheck check_header(std::string_view file_bytes, FileKind kind);
// Which kind the header's magic names, if either.
std::optional<FileKind> kind_of(std::string_view file_bytes);

// Appends one framed record to `out`.
void append_record(std::string& out, std::string_view payload);

// What ended a scan before the end of the bytes.
enum class TailProblem { none, short_header, short_payload, bad_crc, oversize_length };
const char* to_string(TailProblem problem);

struct ScanResult {
  std::size_t records = 0;   // valid records visited
  std::size_t good_end = 0;  // offset just past the last valid record
  TailProblem problem = TailProblem::none;
  std::string reason;        // e.g. "bad CRC in record 3 at offset 80"; empty when clean
};

using RecordVisitor = std::function<void(std::string_view payload)>;

// Visits every valid record from `offset` on, stopping at the end of the bytes
// or at the first damaged record (nothing after a damaged record is trusted).
ScanResult scan_records(std::string_view file_bytes, std::size_t offset,
                        std::uint32_t max_record_bytes, const RecordVisitor& visit);

// The first offset >= `from` where a whole readable record starts (a length of 1 to
// max_record_bytes that fits, and a matching CRC); nullopt when none does. Replay uses it to
// tell a torn tail (nothing readable after the damage) from corruption in the middle. Owners
// never write empty records, so eight zero bytes (a valid empty frame) do not count.
std::optional<std::size_t> next_readable_record(std::string_view file_bytes, std::size_t from,
                                                std::uint32_t max_record_bytes);

// Every readable record from `offset` on, skipping what cannot be read: at each damaged record
// the scan goes on at the next readable one (next_readable_record). For a repair.
struct Salvage {
  struct Gap {
    std::size_t offset = 0;  // where the unreadable bytes start
    std::size_t bytes = 0;
    std::string reason;      // as ScanResult::reason
  };
  std::size_t records = 0;
  std::string kept;          // the readable records, framed, in order
  std::vector<Gap> gaps;     // what was dropped; the last one may be a torn tail
};
Salvage salvage_records(std::string_view file_bytes, std::size_t offset, std::uint32_t max_record_bytes,
                        const RecordVisitor& visit);

}  // namespace asyncore::journal_format
