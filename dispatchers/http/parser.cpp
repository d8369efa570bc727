#include <asyncore/http/parser.h>

#include <algorithm>
#include <cstring>

#include <asyncore/log_escape.h>
#include <asyncore/http/uri.h>

#include "dispatchers/http/chars.h"

namespace asyncore::http {
namespace {

using chars::is_token;

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A short, printable excerpt of untrusted bytes for an error message.
// A peer's bytes in an error message (which the server also logs): escaped the one way.
std::string quoted(std::string_view s) { return "'" + log_escape(s, 40) + "'"; }

// Calls visit(element) for each non-empty element of a comma-separated list, trimmed.
template <class Visit>
void for_each_list_element(std::string_view list, Visit&& visit) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view element = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (!element.empty()) visit(element);
  }
}

}  // namespace

void HttpRequestParser::reset() {
  request_.clear();
  phase_ = Phase::start;
  error_ = {};
  head_bytes_ = line_start_ = line_number_ = 0;
  body_kind_ = BodyKind::none;
  body_left_ = 0;
  chunk_line_.clear();
  chunk_end_seen_ = 0;
  chunk_count_ = 0;
  saw_content_length_ = saw_transfer_encoding_ = transfer_encoding_chunked_ = saw_host_ = false;
  expect_continue_ = connection_close_ = connection_keep_alive_ = false;
}

void HttpRequestParser::fail(int status, std::string message) {
  phase_ = Phase::failed;
  error_ = {status, std::move(message)};
}

std::string HttpRequestParser::where() const {
  if (phase_ == Phase::trailers) return "trailer line " + std::to_string(line_number_);
  return line_number_ <= 1 ? std::string("request line") : "header line " + std::to_string(line_number_);
}

size_t HttpRequestParser::feed(std::string_view data) {
  size_t used = 0;
  while (used < data.size()) {
    std::string_view rest = data.substr(used);
    switch (phase_) {
      case Phase::start:
      case Phase::headers:
      case Phase::trailers:
        used += feed_lines(rest);
        break;
      case Phase::body_length:
      case Phase::chunk_data:
        used += feed_body(rest);
        break;
      case Phase::chunk_size:
        used += feed_chunk_size(rest);
        break;
      case Phase::chunk_end:
        used += feed_chunk_end(rest);
        break;
      case Phase::complete:
      case Phase::failed:
        return used;
    }
  }
  return used;
}

size_t HttpRequestParser::feed_lines(std::string_view data) {
  // Every line complete in `data` is read in this call: its bytes go to the head in one append
  // (at most one byte past what the limit allows, which shows the limit crossed), the lines are
  // read in place, and what follows the head (a body, the next request) is cut off again. The
  // limit is still checked line by line, as each line is taken.
  std::string& head = request_.head_;
  const size_t allowed = limits_.max_head_bytes - head_bytes_;
  const size_t chunk = allowed >= data.size() ? data.size() : allowed + 1;
  size_t next = head.size();  // where the next unread byte is in the head
  head.append(data.data(), chunk);
  size_t used = 0;
  while (used < chunk) {
    const char* start = head.data() + next;
    const void* found = std::memchr(start, '\n', chunk - used);
    const size_t take = found ? static_cast<size_t>(static_cast<const char*>(found) - start) + 1 : data.size() - used;
    if (head_bytes_ + take > limits_.max_head_bytes) {
      head.resize(next);
      std::string limit = std::to_string(limits_.max_head_bytes);
      if (phase_ == Phase::start) fail(414, "request line longer than " + limit + " bytes");
      else fail(431, (phase_ == Phase::trailers ? "head and trailers longer than " : "head longer than ") + limit + " bytes");
      return used + take;
    }
    head_bytes_ += take;
    used += take;
    next += take;
    if (!found) return used;  // an unfinished line, kept for the next call
    const size_t end = next - 1;  // the '\n'
    if (end == line_start_ || head[end - 1] != '\r') {
      ++line_number_;
      fail(400, where() + ": line ends with a bare LF, not CRLF");
      head.resize(next);
      return used;
    }
    if (phase_ == Phase::start && end - 1 == line_start_) {
      // An empty line before the request line: ignored (RFC 9112 section 2.2), and dropped.
      head.erase(line_start_, next - line_start_);
      next = line_start_;
      continue;
    }
    on_line(line_start_, end - 1);
    line_start_ = next;
    if (phase_ != Phase::headers && phase_ != Phase::trailers) {  // the head or trailers ended, or failed
      head.resize(next);
      return used;
    }
  }
  return used;
}

void HttpRequestParser::on_line(size_t start, size_t end) {
  std::string& head = request_.head_;
  if (phase_ == Phase::start) {  // (an empty line here was dropped by feed_lines)
    line_number_ = 1;
    on_request_line(std::string_view(head).substr(start, end - start));
    if (!failed()) phase_ = Phase::headers;
    return;
  }
  ++line_number_;
  if (start == end) {
    if (phase_ == Phase::headers) on_head_end();
    else phase_ = Phase::complete;  // end of the trailers
    return;
  }
  if (is_space(head[start])) {
    fail(400, where() + ": obsolete line folding (a line starting with whitespace)");
    return;
  }
  on_field_line(start, end, phase_ == Phase::trailers);
}

void HttpRequestParser::on_request_line(std::string_view line) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    fail(400, "request line " + quoted(line) + " is not 'METHOD target HTTP/1.1'");
    return;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) {
    fail(400, "request line: bad method " + quoted(method));
    return;
  }
  if (target.empty()) {
    fail(400, "request line: empty request target");
    return;
  }
  if (size_t i = chars::find_bad_target_byte(target); i != std::string_view::npos) {
    fail(400, "request line: byte " + std::to_string(i) + " of the request target is not allowed in " + quoted(target));
    return;
  }
  if (version == "HTTP/1.1") {
    request_.version_minor_ = 1;
  } else if (version == "HTTP/1.0") {
    request_.version_minor_ = 0;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[5] >= '0' &&
             version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9') {
    fail(505, "request line: HTTP version " + quoted(version) + " is not supported");
    return;
  } else {
    fail(400, "request line: bad protocol version " + quoted(version));
    return;
  }
  const auto base = static_cast<uint32_t>(line.data() - request_.head_.data());
  request_.method_ = {base, static_cast<uint32_t>(method.size())};
  request_.target_ = {base + static_cast<uint32_t>(sp1 + 1), static_cast<uint32_t>(target.size())};
  if (size_t bad = find_bad_percent_escape(target); bad != std::string_view::npos) {
    fail(400, "request line: bad percent-escape at byte " + std::to_string(bad) + " of the request target " + quoted(target));
    return;
  }
  if (!request_.split_target()) {
    fail(400, "request line: request target " + quoted(target) + " is neither a path nor an absolute URI");
    return;
  }
  if (target == "*" && method != "OPTIONS") fail(400, "request line: target '*' is only for OPTIONS");
}

void HttpRequestParser::on_field_line(size_t start, size_t end, bool trailer) {
  std::string_view line = std::string_view(request_.head_).substr(start, end - start);
  // The name is the run of token characters, which must end at the colon.
  const size_t colon = chars::token_length(line);
  if (colon == 0 || colon == line.size() || line[colon] != ':') {
    const size_t found = line.find(':');
    std::string_view name = line.substr(0, found);
    if (found == std::string_view::npos) fail(400, where() + ": no ':' in " + quoted(line));
    else if (!name.empty() && is_space(name.back())) fail(400, where() + ": whitespace before ':' in " + quoted(line));
    else fail(400, where() + ": bad field name " + quoted(name));
    return;
  }
  std::string_view name = line.substr(0, colon);
  std::string_view value = trim(line.substr(colon + 1));
  if (!chars::valid_value(value)) {
    fail(400, where() + ": control character in the value of " + quoted(name));
    return;
  }
  auto& fields = trailer ? request_.trailers_ : request_.headers_;
  if (request_.headers_.size() + request_.trailers_.size() >= limits_.max_headers) {
    fail(431, where() + ": more than " + std::to_string(limits_.max_headers) + " header fields");
    return;
  }
  const auto base = static_cast<uint32_t>(start);
  fields.push_back({{base, static_cast<uint32_t>(name.size())},
                    {static_cast<uint32_t>(value.data() - request_.head_.data()), static_cast<uint32_t>(value.size())}});
  if (trailer) {
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "host")) {
      fail(400, where() + ": " + quoted(name) + " is not allowed in a trailer");
    }
    return;
  }
  note_header(name, value);
}

void HttpRequestParser::note_header(std::string_view name, std::string_view value) {
  switch (name.size()) {
    case 4:
      if (iequals(name, "host")) {
        if (saw_host_) fail(400, where() + ": repeated Host header");
        saw_host_ = true;
      }
      return;
    case 6:
      if (iequals(name, "expect")) {
        if (!iequals(value, "100-continue")) fail(417, where() + ": unsupported expectation " + quoted(value));
        else expect_continue_ = true;
      }
      return;
    case 10:
      if (iequals(name, "connection")) {
        for_each_list_element(value, [&](std::string_view option) {
          if (iequals(option, "close")) connection_close_ = true;
          else if (iequals(option, "keep-alive")) connection_keep_alive_ = true;
        });
      }
      return;
    case 14:
      if (iequals(name, "content-length")) {
        if (saw_content_length_) {
          fail(400, where() + ": repeated Content-Length header");
          return;
        }
        saw_content_length_ = true;
        uint64_t length = 0;
        bool ok = !value.empty() && value.size() <= 18;  // 18 digits cannot overflow
        for (char c : value) {
          if (c < '0' || c > '9') ok = false;
          else length = length * 10 + static_cast<uint64_t>(c - '0');
        }
        if (!ok) fail(400, where() + ": bad Content-Length " + quoted(value));
        else body_left_ = length;
      }
      return;
    case 17:
      if (iequals(name, "transfer-encoding")) {
        if (saw_transfer_encoding_) {
          fail(400, where() + ": repeated Transfer-Encoding header");
          return;
        }
        saw_transfer_encoding_ = true;
        size_t count = 0;
        std::string_view last, first_other;
        bool chunked_before_last = false;
        for_each_list_element(value, [&](std::string_view coding) {
          if (count > 0 && iequals(last, "chunked")) chunked_before_last = true;
          if (!iequals(coding, "chunked") && first_other.empty()) first_other = coding;
          last = coding;
          ++count;
        });
        if (count == 0 || !iequals(last, "chunked") || chunked_before_last) {
          fail(400, where() + ": Transfer-Encoding " + quoted(value) + " does not end in a single 'chunked'");
        } else if (!first_other.empty()) {
          fail(501, where() + ": transfer coding " + quoted(first_other) + " is not supported");
        } else {
          transfer_encoding_chunked_ = true;
        }
      }
      return;
    default:
      return;
  }
}

void HttpRequestParser::on_head_end() {
  Request& r = request_;
  if (saw_transfer_encoding_ && saw_content_length_) {
    fail(400, "head: both Content-Length and Transfer-Encoding");
    return;
  }
  if (saw_transfer_encoding_ && r.version_minor_ == 0) {
    fail(400, "head: Transfer-Encoding in an HTTP/1.0 request");
    return;
  }
  if (!saw_host_ && r.version_minor_ == 1) {
    fail(400, "head: no Host header in an HTTP/1.1 request");
    return;
  }
  r.keep_alive_ = !connection_close_ && (r.version_minor_ == 1 || connection_keep_alive_);
  if (r.version_minor_ == 0) expect_continue_ = false;  // 1.0 clients know no interim responses
  if (transfer_encoding_chunked_) {
    body_kind_ = BodyKind::chunked;
    phase_ = Phase::chunk_size;
    return;
  }
  if (saw_content_length_ && body_left_ > 0) {
    if (body_left_ > limits_.max_body_bytes) {
      fail(413, "head: Content-Length " + std::to_string(body_left_) + " is over the limit of " +
                    std::to_string(limits_.max_body_bytes) + " bytes");
      return;
    }
    body_kind_ = BodyKind::length;
    r.body_.reserve(static_cast<size_t>(body_left_));
    phase_ = Phase::body_length;
    return;
  }
  phase_ = Phase::complete;
}

size_t HttpRequestParser::feed_body(std::string_view data) {
  size_t take = data.size() < body_left_ ? data.size() : static_cast<size_t>(body_left_);
  request_.body_.append(data.data(), take);
  body_left_ -= take;
  if (body_left_ == 0) {
    if (phase_ == Phase::body_length) {
      phase_ = Phase::complete;
    } else {
      phase_ = Phase::chunk_end;
      chunk_end_seen_ = 0;
    }
  }
  return take;
}

size_t HttpRequestParser::feed_chunk_size(std::string_view data) {
  const void* found = std::memchr(data.data(), '\n', data.size());
  size_t take = found ? static_cast<size_t>(static_cast<const char*>(found) - data.data()) + 1 : data.size();
  if (chunk_line_.size() + take > limits_.max_chunk_line_bytes) {
    fail(400, "chunk " + std::to_string(chunk_count_ + 1) + ": chunk-size line longer than " +
                  std::to_string(limits_.max_chunk_line_bytes) + " bytes");
    return take;
  }
  chunk_line_.append(data.data(), take);
  if (!found) return take;
  std::string_view line = chunk_line_;
  line.remove_suffix(1);
  if (line.empty() || line.back() != '\r') {
    fail(400, "chunk " + std::to_string(chunk_count_ + 1) + ": chunk-size line ends with a bare LF");
    return take;
  }
  line.remove_suffix(1);
  on_chunk_size_line(line);
  chunk_line_.clear();
  return take;
}

void HttpRequestParser::on_chunk_size_line(std::string_view line) {
  ++chunk_count_;
  const std::string where = "chunk " + std::to_string(chunk_count_);
  uint64_t size = 0;
  size_t digits = 0;
  for (; digits < line.size() && hex_digit(line[digits]) >= 0; ++digits) {
    if (digits == 15) {  // 16 hex digits could overflow, and no body is that large
      fail(400, where + ": chunk size " + quoted(line) + " is too large");
      return;
    }
    size = size * 16 + static_cast<uint64_t>(hex_digit(line[digits]));
  }
  if (digits == 0) {
    fail(400, where + ": bad chunk size " + quoted(line));
    return;
  }
  std::string_view extension = line.substr(digits);
  while (!extension.empty() && is_space(extension.front())) extension.remove_prefix(1);
  if (!extension.empty() || digits < line.size()) {
    if (extension.empty() || extension.front() != ';' || !chars::valid_value(extension)) {
      fail(400, where + ": bad chunk size " + quoted(line));
      return;
    }
  }
  if (size == 0) {
    phase_ = Phase::trailers;
    line_start_ = request_.head_.size();
    return;
  }
  if (request_.body_.size() + size > limits_.max_body_bytes) {
    fail(413, where + ": chunked body over the limit of " + std::to_string(limits_.max_body_bytes) + " bytes");
    return;
  }
  body_left_ = size;
  phase_ = Phase::chunk_data;
}

size_t HttpRequestParser::feed_chunk_end(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && chunk_end_seen_ < 2) {
    char expected = chunk_end_seen_ == 0 ? '\r' : '\n';
    if (data[used] != expected) {
      fail(400, "chunk " + std::to_string(chunk_count_) + ": chunk data not followed by CRLF");
      return used + 1;
    }
    ++chunk_end_seen_;
    ++used;
  }
  if (chunk_end_seen_ == 2) phase_ = Phase::chunk_size;
  return used;
}

}  // namespace asyncore::http
