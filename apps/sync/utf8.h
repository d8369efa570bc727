// UTF-8 checks: commands must be UTF-8; program output is kept as valid UTF-8 (bad bytes become
// U+FFFD), so what the store holds is exactly what JSON replies show.
#pragma once
#include <string>
#include <string_view>

namespace asyncore::sync {

bool valid_utf8(std::string_view text);
std::string to_valid_utf8(std::string_view text);

}  // namespace asyncore::sync
