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

}  // namespace asyncore::journal_format
