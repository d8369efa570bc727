// RESP, the Redis protocol (RESP2 and RESP3), without I/O: Reply, the value a server sends;
// ReplyParser, an incremental bounded parser fed whatever recv() returned; append_command, the
// encoder for a command (always an array of bulk strings, the only form servers must accept).
//
// Every RESP3 type is parsed: simple string, error (also the blob error '!'), integer, bulk
// string, array, null (also RESP2's $-1 and *-1), double, boolean, big number, verbatim string,
// map, set, attribute and push. An attribute ('|') is not a value of its own: it is attached to
// the value that follows it. Streamed strings and aggregates ('$?', '*?') are refused: Redis
// never sends them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace asyncore::redis {

enum class Type : uint8_t {
  simple_string, error, integer, bulk_string, array, null, double_number, boolean, big_number, verbatim,
  map, set, attribute, push,
};
const char* type_name(Type type);

struct Reply {
  Type type = Type::null;
  // simple and bulk strings, errors, big numbers (their digits), verbatim text (without its
  // format), doubles (their text as sent)
  std::string str;
  int64_t integer = 0;          // integers; booleans as 0 or 1
  double number = 0;            // doubles
  char format[4] = {};          // verbatim: "txt", "mkd", ...
  std::vector<Reply> elements;  // arrays, sets, pushes; maps and attributes as key, value, key, value...
  std::vector<Reply> attributes;  // a preceding attribute's key, value pairs (rare)

  bool is_error() const { return type == Type::error; }
  bool is_null() const { return type == Type::null; }
  bool is_string() const {  // anything with text in str
    return type == Type::simple_string || type == Type::bulk_string || type == Type::verbatim;
  }
  bool is_aggregate() const {
    return type == Type::array || type == Type::map || type == Type::set || type == Type::attribute ||
           type == Type::push;
  }
  // A short readable form for tests and logs: "OK", "(integer) 3", "[a, b]", "(error) ERR x".
  std::string to_string() const;
  bool operator==(const Reply& other) const;

  static Reply simple(std::string text) { return with_text(Type::simple_string, std::move(text)); }
  static Reply bulk(std::string text) { return with_text(Type::bulk_string, std::move(text)); }
  static Reply error_reply(std::string text) { return with_text(Type::error, std::move(text)); }
  static Reply with_text(Type type, std::string text) {
    Reply reply;
    reply.type = type;
    reply.str = std::move(text);
    return reply;
  }
};

// A stream the parser cannot make sense of, or one past a bound: the connection must be dropped.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a server may make the parser hold. The defaults follow Redis' own limits (a bulk string of
// at most 512 MB is Redis' proto-max-bulk-len) scaled to what a client of this library expects.
struct ParserLimits {
  size_t max_bulk = 64 * 1024 * 1024;  // bytes in one bulk, blob error or verbatim string
  size_t max_elements = 1024 * 1024;   // elements in one reply, all levels together
  size_t max_depth = 16;               // aggregates inside aggregates
  size_t max_line = 64 * 1024;         // a type byte's line (simple strings, errors, numbers)
};

class ReplyParser {
 public:
  explicit ReplyParser(ParserLimits limits = {}) : limits_(limits) {}

  // Adds received bytes. Nothing is parsed until next() is called.
  void feed(std::string_view bytes);
  // The next complete reply, or nullopt until more bytes arrive. Throws ProtocolError; after
  // that the parser is unusable (the stream has lost its framing) until reset().
  std::optional<Reply> next();
  void reset();
  // Bytes fed and not yet part of a returned reply.
  size_t buffered() const { return buffer_.size() - pos_; }
  const ParserLimits& limits() const { return limits_; }

 private:
  struct Frame {
    Reply value;
    size_t remaining;  // elements still to come
    std::vector<Reply> attributes;  // waiting for this frame's next element
  };
  // Parses one element at pos_. Returns false when it is not all here yet.
  bool parse_element(std::optional<Reply>& done);
  bool attach(Reply value, std::optional<Reply>& done);  // true when a top-level reply is complete
  [[noreturn]] void fail(const std::string& message);

  ParserLimits limits_;
  std::string buffer_;
  size_t pos_ = 0;
  std::vector<Frame> stack_;
  std::vector<Reply> top_attributes_;
  size_t elements_ = 0;  // in the reply being parsed
  bool failed_ = false;
};

// Appends a command in RESP ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").
void append_command(std::string& out, std::span<const std::string_view> args);
void append_command(std::string& out, std::span<const std::string> args);
inline std::string encode_command(std::initializer_list<std::string_view> args) {
  std::string out;
  append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
  return out;
}

// Encodes a reply as a server would (RESP3 forms for RESP3 types): for tests, fakes and the fuzzer.
void append_reply(std::string& out, const Reply& reply);

}  // namespace asyncore::redis
