// Percent-decoding for request targets (RFC 3986) and form-style query strings.
#pragma once
#include <string>
#include <string_view>

namespace asyncore::http {

// Offset of the first malformed escape ('%' not followed by two hex digits), or npos.
size_t find_bad_percent_escape(std::string_view text);

// Appends text to out with %XX decoded (and '+' as a space when plus_is_space, as in queries).
// Malformed escapes are kept as they are; the parser refuses them before anyone decodes.
void append_percent_decoded(std::string& out, std::string_view text, bool plus_is_space);

std::string percent_decoded(std::string_view text, bool plus_is_space = false);

// Appends text percent-encoded so that it is one path segment or query value.
void append_percent_encoded(std::string& out, std::string_view text);

}  // namespace asyncore::http
