// Strict UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF.
// This is exactly what Python's bytes.decode('utf-8') accepts, so text checked here also
// decodes on Python peers. Shared by the JSON parser/writer and the programs.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace asyncore {

// Length of the well-formed sequence starting at text[at] (1 to 4), or 0 when the bytes
// there are not one (including a sequence cut short by the end of text).
std::size_t utf8_sequence_length(std::string_view text, std::size_t at = 0);

// Offset of the first byte that does not start a well-formed sequence, or nullopt when the
// whole text is valid.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

bool valid_utf8(std::string_view text);

// `text` with each byte that does not start a well-formed sequence replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);

// Appends `code_point` (at most 0x1FFFFF) in the UTF-8 bit layout, without checking it is a
// scalar value: the caller decides whether surrogates or values above U+10FFFF can occur.
void append_utf8(std::string& out, char32_t code_point);

}  // namespace asyncore
