// The record names a sync accepts: TYPE and ID match [A-Za-z0-9_.:-]{1,128}, checked before any
// process starts (they end up in a program's arguments).
#pragma once
#include <string_view>

namespace asyncore::sync {

bool valid_name(std::string_view name);
inline constexpr std::string_view kNamePattern = "[A-Za-z0-9_.:-]{1,128}";

}  // namespace asyncore::sync
