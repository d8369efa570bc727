#include <asyncore/http/response.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include <asyncore/http/request.h>
#include <asyncore/json/json.h>

#include "dispatchers/http/chars.h"

namespace asyncore::http {
namespace {

constexpr std::string_view kText = "text/plain; charset=utf-8";
constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::string_view kJson = "application/json";

using chars::valid_value;

void check_header(std::string_view name, std::string_view value) {
  if (!chars::is_token(name)) throw std::invalid_argument("Response header name '" + std::string(name) + "' is not a token");
  if (!valid_value(value)) {
    throw std::invalid_argument("Response header '" + std::string(name) + "' has a control character in its value");
  }
  if (iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "connection") ||
      iequals(name, "date")) {
    throw std::invalid_argument("Response header '" + std::string(name) + "' is set by the server");
  }
}

void append_number(std::string& out, uint64_t n) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, result.ptr);
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

bool status_has_no_body(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

Response Response::text(std::string body, int status) { return Response(status, std::move(body), ContentType::constant(kText)); }
Response Response::html(std::string body, int status) { return Response(status, std::move(body), ContentType::constant(kHtml)); }

Response Response::json(const json::Value& value, int status) {
  Response r(status, {}, ContentType::constant(kJson));
  json::dump_to(r.body, value);
  return r;
}

Response Response::json(std::string_view serialized, int status) {
  return Response(status, std::string(serialized), ContentType::constant(kJson));
}

Response Response::json(std::string&& serialized, int status) {
  return Response(status, std::move(serialized), ContentType::constant(kJson));
}

Response Response::json_error(int status, std::string_view message) {
  Response r(status, "{\"error\":", ContentType::constant(kJson));
  json::append_quoted(r.body, message);
  r.body.push_back('}');
  return r;
}

Response Response::error(int status, std::string_view detail) {
  std::string body = std::to_string(status);
  body.push_back(' ');
  body.append(reason_phrase(status));
  if (!detail.empty()) body.append(": ").append(detail);
  body.push_back('\n');
  return text(std::move(body), status);
}

Response Response::redirect(std::string_view location, int status) {
  Response r = error(status, location);
  r.set_header("Location", location);
  return r;
}

Response Response::content(std::string body, std::string content_type, int status) {
  if (!valid_value(content_type)) throw std::invalid_argument("Response content type has a control character");
  return Response(status, std::move(body), std::move(content_type));
}

Response& Response::set_header(std::string_view name, std::string_view value) {
  check_header(name, value);
  if (iequals(name, "content-type")) {
    content_type = value;
    return *this;
  }
  for (auto& [n, v] : headers_) {
    if (iequals(n, name)) {
      v = value;
      return *this;
    }
  }
  headers_.emplace_back(name, value);
  return *this;
}

Response& Response::add_header(std::string_view name, std::string_view value) {
  check_header(name, value);
  if (iequals(name, "content-type")) content_type = value;
  else headers_.emplace_back(name, value);
  return *this;
}

std::string_view Response::header(std::string_view name) const {
  if (iequals(name, "content-type")) return content_type;
  for (const auto& [n, v] : headers_) {
    if (iequals(n, name)) return v;
  }
  return {};
}

void append_response(std::string& out, const Response& response, const ResponseFraming& framing,
                     std::string_view date, std::string_view server) {
  const int status = response.status >= 100 && response.status <= 999 ? response.status : 500;
  // One allocation for the whole answer instead of one per header that outgrows the buffer.
  size_t size = 160 + date.size() + server.size() + response.content_type.size() + response.body.size();
  for (const auto& [name, value] : response.headers()) size += name.size() + value.size() + 4;
  out.reserve(out.size() + size);
  // The status line and the Date header's name in one append (status has three digits).
  const std::string_view reason = reason_phrase(status);
  char line[64] = "HTTP/1.1 ";
  char* p = line + 9;
  *p++ = static_cast<char>('0' + status / 100);
  *p++ = static_cast<char>('0' + status / 10 % 10);
  *p++ = static_cast<char>('0' + status % 10);
  *p++ = ' ';
  p = std::copy(reason.begin(), reason.end(), p);  // the longest phrase has 31 bytes
  for (char c : std::string_view("\r\nDate: ")) *p++ = c;
  out.append(line, p);
  out.append(date);
  if (!server.empty()) out.append("\r\nServer: ").append(server);
  const bool no_body = status_has_no_body(status);
  // A content type with a control character would split the header (set directly, unchecked).
  if (!response.content_type.empty() && !no_body && valid_value(response.content_type)) {
    out.append("\r\nContent-Type: ").append(response.content_type);
  }
  if (!no_body) {
    out.append("\r\nContent-Length: ");
    append_number(out, response.body.size());
  }
  if (!framing.keep_alive) out.append("\r\nConnection: close");
  else if (framing.http10_keep_alive) out.append("\r\nConnection: keep-alive");
  for (const auto& [name, value] : response.headers()) {
    out.append("\r\n").append(name).append(": ").append(value);
  }
  out.append("\r\n\r\n");
  if (!no_body && !framing.head_only) out.append(response.body);
}

}  // namespace asyncore::http
