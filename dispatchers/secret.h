// Shared secrets (admin tokens, a hub's token): read from a file so they stay out of `ps`, and
// compared without telling an attacker where a guess went wrong.
#pragma once
#include <string>
#include <string_view>

namespace asyncore {

// The secret in `path`: its first line without the line end and surrounding blanks. Throws
// std::runtime_error naming the file when it cannot be read or that line is empty.
std::string read_secret_file(const std::string& path);

// Compares a presented token with a secret in time that depends only on their lengths'
// maximum, never on where they differ.
bool tokens_equal(std::string_view presented, std::string_view secret);

}  // namespace asyncore
