// Strict UTF-8 validation, matching what Python's bytes.decode('utf-8')
// accepts, since the header text must decode on the original Python peers.
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>

namespace asyncore::messenger {

// Offset of the first byte that is not part of a valid UTF-8 sequence
// (overlong forms, surrogates and code points above U+10FFFF are invalid),
// or nullopt when the whole text is valid.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

}  // namespace asyncore::messenger
