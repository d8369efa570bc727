// SHA-1 (FIPS 180-4), for the names other systems give content: Redis names a Lua script by the
// SHA-1 of its text (EVALSHA). Not for security.
#pragma once
#include <string>
#include <string_view>

namespace asyncore {

std::string sha1_hex(std::string_view data);  // 40 lower-case hex digits

}  // namespace asyncore
