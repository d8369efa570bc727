// HttpRequestParser: an incremental HTTP/1.1 request parser with no I/O (RFC 9112). Feed it bytes
// as they arrive, in any split; it stops after each complete request so pipelined requests come
// out one at a time. Strict where leniency lets requests be smuggled: conflicting or repeated
// Content-Length / Transfer-Encoding, whitespace before a colon, obsolete line folding, bare CR or
// LF line ends and bad chunk sizes are refused.
//
//   HttpRequestParser parser;
//   size_t used = parser.feed(bytes);               // may be less than bytes.size()
//   if (parser.complete()) { use(parser.request()); parser.reset(); }   // then feed the rest
//   else if (parser.failed()) answer(parser.error().status, parser.error().message);
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include <asyncore/http/request.h>

namespace asyncore::http {

struct HttpLimits {
  size_t max_head_bytes = 16 * 1024;     // request line, header and trailer lines (431; 414 for the line)
  size_t max_headers = 100;              // header (and trailer) fields (431)
  size_t max_body_bytes = 1024 * 1024;   // decoded body (413)
  size_t max_chunk_line_bytes = 1024;    // a chunk-size line with its extensions (400)
};

// Why a request was refused: the status to answer with and a message naming what and where.
struct HttpError {
  int status = 0;
  std::string message;
};

class HttpRequestParser {
 public:
  explicit HttpRequestParser(HttpLimits limits = {}) : limits_(limits) {}

  // Consumes bytes of the current request; returns how many. Less than data.size() only when the
  // request completed (the rest belongs to the next one) or failed (then the count depends on how
  // the input was split and is of no use). Returns 0 once complete or failed, until reset().
  size_t feed(std::string_view data);

  bool complete() const { return phase_ == Phase::complete; }
  bool failed() const { return phase_ == Phase::failed; }
  bool idle() const { return phase_ == Phase::start && head_bytes_ == 0; }  // nothing of a request yet
  bool reading_head() const { return !idle() && phase_ <= Phase::headers; }
  bool reading_body() const { return phase_ > Phase::headers && phase_ < Phase::complete; }
  // The head is complete, a body is still to come and the client waits for "100 Continue".
  bool expects_continue() const { return expect_continue_ && reading_body(); }
  const HttpError& error() const { return error_; }

  // The request so far: its head is valid once the head is complete, all of it once complete().
  Request& request() { return request_; }
  const Request& request() const { return request_; }

  void reset();  // ready for the next request; keeps buffers' capacity
  const HttpLimits& limits() const { return limits_; }

 private:
  enum class Phase : uint8_t {
    start,          // skipping empty lines before the request line
    headers,        // header lines
    body_length,    // Content-Length body
    chunk_size,     // a chunk-size line
    chunk_data,     // chunk bytes
    chunk_end,      // the CRLF after chunk bytes
    trailers,       // trailer lines after the last chunk
    complete,
    failed,
  };
  enum class BodyKind : uint8_t { none, length, chunked };

  size_t feed_lines(std::string_view data);
  size_t feed_body(std::string_view data);
  size_t feed_chunk_size(std::string_view data);
  size_t feed_chunk_end(std::string_view data);
  void on_line(size_t line_start, size_t line_end);  // head_ bytes, without the CRLF
  void on_request_line(std::string_view line);
  void on_field_line(size_t start, size_t end, bool trailer);
  void note_header(std::string_view name, std::string_view value);
  void on_head_end();
  void on_chunk_size_line(std::string_view line);
  void fail(int status, std::string message);
  std::string where() const;  // "in header line 3" and the like, for messages

  HttpLimits limits_;
  Request request_;
  Phase phase_ = Phase::start;
  HttpError error_;
  size_t head_bytes_ = 0;      // bytes of the head and trailers, including skipped empty lines
  size_t line_start_ = 0;      // where the unfinished line starts in request_.head_
  size_t line_number_ = 0;     // 1 = the request line
  BodyKind body_kind_ = BodyKind::none;
  uint64_t body_left_ = 0;     // of the Content-Length body or of the current chunk
  std::string chunk_line_;     // an unfinished chunk-size line
  uint8_t chunk_end_seen_ = 0; // bytes of the CRLF after chunk data seen so far
  uint64_t chunk_count_ = 0;
  bool saw_content_length_ = false;
  bool saw_transfer_encoding_ = false;
  bool transfer_encoding_chunked_ = false;
  bool saw_host_ = false;
  bool expect_continue_ = false;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
};

}  // namespace asyncore::http
