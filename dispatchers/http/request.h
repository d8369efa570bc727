// Request: one parsed HTTP request as a plain value. The head is kept as the bytes received and
// every field is an offset into them, so parsing allocates nothing once a connection's request
// object has warmed up, and a copy (for an asynchronous handler that answers later) stays valid.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <asyncore/address.h>

namespace asyncore::http {

class HttpRequestParser;
class Router;

// True when a and b are equal ignoring ASCII case (header names, tokens).
bool iequals(std::string_view a, std::string_view b);

class Request {
 public:
  struct Param {
    std::string name;
    std::string value;  // percent-decoded
  };

  std::string_view method() const { return view(method_); }
  std::string_view target() const { return view(target_); }  // as sent, e.g. "/a%20b?x=1"
  // The path, percent-decoded ("/a b"); raw_path() is the path as sent ("/a%20b").
  std::string_view path() const { return decoded_path_ ? std::string_view(path_storage_) : raw_path(); }
  std::string_view raw_path() const { return view(path_); }
  std::string_view raw_query() const { return view(query_); }  // after '?', undecoded; "" if none
  int version_minor() const { return version_minor_; }        // HTTP/1.<minor>
  bool keep_alive() const { return keep_alive_; }             // the client allows another request
  bool is_head() const { return method() == "HEAD"; }

  // The first query parameter with this (decoded) name, decoded ('+' is a space); nullopt if absent.
  std::optional<std::string> query(std::string_view name) const;
  std::string query_or(std::string_view name, std::string_view fallback) const;
  std::vector<std::pair<std::string, std::string>> query_params() const;

  // Route parameters (":imei" in "/devices/:imei"); "" when the route has no such parameter.
  std::string_view param(std::string_view name) const;
  const std::vector<Param>& params() const { return params_; }

  // The first header with this name (any case), without surrounding whitespace; "" if absent.
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  size_t header_count() const { return headers_.size(); }
  std::pair<std::string_view, std::string_view> header_at(size_t index) const;
  // Trailer fields of a chunked body, looked up the same way.
  std::string_view trailer(std::string_view name) const;
  size_t trailer_count() const { return trailers_.size(); }

  const std::string& body() const { return body_; }
  std::string take_body() { return std::move(body_); }

  const Address& peer() const { return peer_; }
  void set_peer(const Address& peer) { peer_ = peer; }

  // Builds a request without the parser (for handler unit tests): "GET", "/x?y=1", headers, body.
  static Request make(std::string_view method, std::string_view target,
                      std::vector<std::pair<std::string, std::string>> headers = {}, std::string body = {});

 private:
  friend class HttpRequestParser;
  friend class Router;
  struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  struct Field {
    Span name;
    Span value;
  };
  std::string_view view(Span s) const { return std::string_view(head_).substr(s.offset, s.length); }
  static std::string_view find_field(const std::string& head, const std::vector<Field>& fields, std::string_view name);
  void clear();
  Span add_text(std::string_view text);
  // Splits target_ into path_ and query_ and decodes the path; false for a target that is neither
  // origin-form ("/p?q"), absolute-form ("http://host/p") nor "*".
  bool split_target();

  std::string head_;  // request line, header lines and trailer lines, as received
  Span method_, target_, path_, query_;
  std::vector<Field> headers_;
  std::vector<Field> trailers_;
  std::string path_storage_;  // the decoded path, when it had escapes
  bool decoded_path_ = false;
  int version_minor_ = 1;
  bool keep_alive_ = true;
  std::vector<Param> params_;
  std::string body_;
  Address peer_;
};

}  // namespace asyncore::http
