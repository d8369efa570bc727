// TP:File, the file transfer message. Each chunk is one message:
//   TP:File;From:<sender>;Name:<file name>;Size:<total bytes>;Offset:<chunk offset>
// with the chunk as body (at most kMaxChunkBytes). Chunks go in order over one connection; the
// last one (Offset + body == Size) adds SHA256:<hex of the whole file>. An empty file is one
// empty chunk.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace asyncore::messenger {

inline constexpr std::string_view kFileType = "File";
inline constexpr std::string_view kMessageType = "Msg";
inline constexpr std::string_view kFromKey = "From";
inline constexpr std::string_view kNameKey = "Name";
inline constexpr std::string_view kSizeKey = "Size";
inline constexpr std::string_view kOffsetKey = "Offset";
inline constexpr std::string_view kSha256Key = "SHA256";

inline constexpr std::size_t kMaxChunkBytes = 1024 * 1024;

}  // namespace asyncore::messenger
