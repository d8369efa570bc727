#include "apps/messenger/frame.h"

namespace asyncore::messenger {

Header probe_header() { return Header{{std::string(kTypeKey), std::string(kProbeType)}}; }

bool Message::is_probe() const {
  const std::string* type = header.find(kTypeKey);
  return type && *type == kProbeType;
}

void append_frame(std::string& out, const Header& user_header, std::string_view body) {
  // Validates everything before touching `out`, so a refused frame leaves no trace.
  std::string text = format_header_text(user_header, body.size());
  const std::size_t old_size = out.size();
  try {
    out.reserve(old_size + kLengthPrefixBytes + text.size() + body.size());
    out += static_cast<char>(text.size() & 0xff);
    out += static_cast<char>((text.size() >> 8) & 0xff);
    out += text;
    out += body;
  } catch (...) {
    out.resize(old_size);
    throw;
  }
}

std::string encode_frame(const Header& user_header, std::string_view body) {
  std::string frame;
  append_frame(frame, user_header, body);
  return frame;
}

}  // namespace asyncore::messenger
