// Response: what a handler answers, as a plain value: status, content type, extra headers, body.
// The server adds Date, Content-Length and Connection itself, so handlers cannot set those.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asyncore::json {
class Value;
}

namespace asyncore::http {

// "OK", "Not Found", ...; "Unknown" for codes without a standard phrase.
std::string_view reason_phrase(int status);

// A response's content type, read as a string_view: any text given, or one of the library's own
// types (text, HTML, JSON) kept as a constant, so the answers of an API cost no allocation for it.
class ContentType {
 public:
  ContentType() = default;
  ContentType(std::string text) : text_(std::move(text)) {}
  ContentType(std::string_view text) : text_(text) {}
  ContentType(const char* text) : text_(text) {}
  // `text` must outlive every response (a literal).
  static ContentType constant(std::string_view text) {
    ContentType type;
    type.constant_ = text;
    return type;
  }

  operator std::string_view() const { return constant_.data() ? constant_ : std::string_view(text_); }
  std::string_view view() const { return *this; }
  bool empty() const { return view().empty(); }
  std::size_t size() const { return view().size(); }
  friend bool operator==(const ContentType& a, std::string_view b) { return a.view() == b; }

 private:
  std::string_view constant_;  // set: the text, and text_ is unused
  std::string text_;
};

class Response {
 public:
  Response() = default;
  explicit Response(int status, std::string body = {}, ContentType content_type = {})
      : status(status), content_type(std::move(content_type)), body(std::move(body)) {}

  int status = 200;
  ContentType content_type;  // empty: no Content-Type header
  std::string body;

  static Response text(std::string body, int status = 200);  // text/plain; charset=utf-8
  static Response html(std::string body, int status = 200);  // text/html; charset=utf-8
  static Response json(const json::Value& value, int status = 200);  // serialized compactly
  // Already-serialized JSON text, sent as is (json::Value("x") for a JSON string value).
  static Response json(std::string_view serialized, int status = 200);
  static Response json(const char* serialized, int status = 200) { return json(std::string_view(serialized), status); }
  static Response json(const std::string& serialized, int status = 200) { return json(std::string_view(serialized), status); }
  static Response json(std::string&& serialized, int status = 200);
  // {"error": message} with the status: the API error shape.
  static Response json_error(int status, std::string_view message);
  // "<status> <reason>[: detail]\n" as text/plain: the server's own error shape.
  static Response error(int status, std::string_view detail = {});
  static Response not_found(std::string_view detail = {}) { return error(404, detail); }
  static Response bad_request(std::string_view detail = {}) { return error(400, detail); }
  static Response no_content() { return Response(204); }
  static Response redirect(std::string_view location, int status = 302);
  // Any body with its content type (e.g. a page compiled into the program).
  static Response content(std::string body, std::string content_type, int status = 200);

  // Sets (replacing) or adds a header. Throws std::invalid_argument for a bad name or value, or
  // for the framing headers the server owns (Content-Length, Transfer-Encoding, Connection, Date).
  // "Content-Type" sets content_type.
  Response& set_header(std::string_view name, std::string_view value);
  Response& add_header(std::string_view name, std::string_view value);
  std::string_view header(std::string_view name) const;  // "" when absent
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }

 private:
  std::vector<std::pair<std::string, std::string>> headers_;
};

// How one response goes on the wire: what the request and the connection decided.
struct ResponseFraming {
  bool head_only = false;   // a HEAD request: headers as for GET, no body
  bool keep_alive = true;   // false: "Connection: close" and the connection closes after it
  bool http10_keep_alive = false;  // an HTTP/1.0 client that asked for keep-alive is told so
};

// Appends the status line, headers and (unless head_only or a status without one) the body.
// `date` is the Date header value, `server` the Server header value ("" for none).
void append_response(std::string& out, const Response& response, const ResponseFraming& framing,
                     std::string_view date, std::string_view server = {});

// True for statuses that never carry a body (1xx, 204, 304).
bool status_has_no_body(int status);

}  // namespace asyncore::http
