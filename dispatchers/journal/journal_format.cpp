#include "dispatchers/journal/journal_format.h"

#include <asyncore/journal/crc32.h>

namespace asyncore::journal_format {
namespace {

std::string_view magic_of(FileKind kind) { return kind == FileKind::journal ? "AJNL" : "ASNP"; }
std::string_view name_of(FileKind kind) { return kind == FileKind::journal ? "journal" : "snapshot"; }

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFFu));
}

std::uint64_t get_le(std::string_view bytes, std::size_t offset, int count) {
  std::uint64_t value = 0;
  for (int i = 0; i < count; ++i) {
    value |= std::uint64_t{static_cast<unsigned char>(bytes[offset + i])} << (8 * i);
  }
  return value;
}

}  // namespace

std::string encode_header(FileKind kind, std::uint64_t generation) {
  std::string header(magic_of(kind));
  put_le(header, kVersion, 4);
  put_le(header, generation, 8);
  return header;
}

HeaderCheck check_header(std::string_view file_bytes, FileKind kind) {
  if (file_bytes.size() < kHeaderSize) {
    return {std::nullopt, "file is " + std::to_string(file_bytes.size()) + " bytes, shorter than the " +
                              std::to_string(kHeaderSize) + "-byte header"};
  }
  if (file_bytes.substr(0, 4) != magic_of(kind)) {
    return {std::nullopt, "bad magic at offset 0 (not a " + std::string(name_of(kind)) + " file)"};
  }
  auto version = get_le(file_bytes, 4, 4);
  if (version != kVersion) {
    return {std::nullopt, "unsupported version " + std::to_string(version) + " at offset 4"};
  }
  return {get_le(file_bytes, 8, 8), {}};
}

std::optional<FileKind> kind_of(std::string_view file_bytes) {
  for (FileKind kind : {FileKind::journal, FileKind::snapshot}) {
    if (file_bytes.substr(0, 4) == magic_of(kind)) return kind;
  }
  return std::nullopt;
}

void append_record(std::string& out, std::string_view payload) {
  put_le(out, payload.size(), 4);
  put_le(out, crc32(payload), 4);
  out.append(payload);
}

const char* to_string(TailProblem problem) {
  switch (problem) {
    case TailProblem::none: return "none";
    case TailProblem::short_header: return "short record header";
    case TailProblem::short_payload: return "short payload";
    case TailProblem::bad_crc: return "bad CRC";
    case TailProblem::oversize_length: return "length beyond the maximum record size";
  }
  return "unknown";
}

ScanResult scan_records(std::string_view file_bytes, std::size_t offset,
                        std::uint32_t max_record_bytes, const RecordVisitor& visit) {
  ScanResult result;
  result.good_end = offset;
  auto stop = [&](TailProblem problem, const std::string& detail) {
    result.problem = problem;
    result.reason = std::string(to_string(problem)) + " in record " + std::to_string(result.records) +
                    " at offset " + std::to_string(result.good_end) + detail;
    return result;
  };
  while (result.good_end < file_bytes.size()) {
    std::size_t at = result.good_end;
    std::size_t left = file_bytes.size() - at;
    if (left < kRecordHeaderSize) {
      return stop(TailProblem::short_header, " (" + std::to_string(left) + " of 8 bytes)");
    }
    auto length = get_le(file_bytes, at, 4);
    auto expected_crc = static_cast<std::uint32_t>(get_le(file_bytes, at + 4, 4));
    if (length > max_record_bytes) {
      return stop(TailProblem::oversize_length, " (length " + std::to_string(length) + ")");
    }
    if (left - kRecordHeaderSize < length) {
      return stop(TailProblem::short_payload, " (" + std::to_string(left - kRecordHeaderSize) + " of " +
                                                  std::to_string(length) + " bytes)");
    }
    auto payload = file_bytes.substr(at + kRecordHeaderSize, length);
    if (crc32(payload) != expected_crc) return stop(TailProblem::bad_crc, "");
    visit(payload);
    ++result.records;
    result.good_end = at + kRecordHeaderSize + length;
  }
  return result;
}

std::optional<std::size_t> next_readable_record(std::string_view file_bytes, std::size_t from,
                                                std::uint32_t max_record_bytes) {
  for (std::size_t at = from; at + kRecordHeaderSize < file_bytes.size(); ++at) {
    const auto length = get_le(file_bytes, at, 4);
    if (length == 0 || length > max_record_bytes || length > file_bytes.size() - at - kRecordHeaderSize) continue;
    if (crc32(file_bytes.substr(at + kRecordHeaderSize, length)) == get_le(file_bytes, at + 4, 4)) return at;
  }
  return std::nullopt;
}

Salvage salvage_records(std::string_view file_bytes, std::size_t offset, std::uint32_t max_record_bytes,
                        const RecordVisitor& visit) {
  Salvage result;
  for (;;) {
    const ScanResult scan = scan_records(file_bytes, offset, max_record_bytes, visit);
    result.records += scan.records;
    result.kept.append(file_bytes.substr(offset, scan.good_end - offset));
    if (scan.problem == TailProblem::none) return result;
    const auto next = next_readable_record(file_bytes, scan.good_end + 1, max_record_bytes);
    const std::size_t resume = next.value_or(file_bytes.size());
    result.gaps.push_back({scan.good_end, resume - scan.good_end, scan.reason});
    if (!next) return result;
    offset = *next;
  }
}

}  // namespace asyncore::journal_format
