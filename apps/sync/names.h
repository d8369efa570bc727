// The record names a sync accepts: TYPE and ID match [A-Za-z0-9_.:-]{1,128}, checked before any
// process starts (they end up in a program's arguments). Also how the relay splits a command or
// config line into words.
#pragma once
#include <string_view>
#include <vector>

namespace asyncore::sync {

bool valid_name(std::string_view name);
inline constexpr std::string_view kNamePattern = "[A-Za-z0-9_.:-]{1,128}";

// The words of a command or config line: runs of characters other than ' ' and '\t'.
std::vector<std::string_view> words(std::string_view line);

}  // namespace asyncore::sync
