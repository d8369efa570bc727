// The one error type of the messenger wire format, plus a helper that quotes
// untrusted text safely inside its message.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace asyncore::messenger {

// Thrown when a frame cannot be encoded (nothing is produced) or a received
// frame is malformed (the connection must be closed). what() names the key,
// item or byte offset and the reason.
class FrameError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `text` in single quotes for an error message: non-printable bytes become
// \xNN and long text is cut, so hostile input cannot flood or garble a log line.
std::string quoted_for_error(std::string_view text);

}  // namespace asyncore::messenger
