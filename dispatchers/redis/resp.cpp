#include <asyncore/redis/resp.h>

#include <charconv>
#include <cmath>
#include <cstring>

namespace asyncore::redis {

const char* type_name(Type type) {
  switch (type) {
    case Type::simple_string: return "simple string";
    case Type::error: return "error";
    case Type::integer: return "integer";
    case Type::bulk_string: return "bulk string";
    case Type::array: return "array";
    case Type::null: return "null";
    case Type::double_number: return "double";
    case Type::boolean: return "boolean";
    case Type::big_number: return "big number";
    case Type::verbatim: return "verbatim string";
    case Type::map: return "map";
    case Type::set: return "set";
    case Type::attribute: return "attribute";
    case Type::push: return "push";
  }
  return "?";
}

std::string Reply::to_string() const {
  switch (type) {
    case Type::simple_string:
    case Type::bulk_string:
    case Type::verbatim:
    case Type::big_number:
    case Type::double_number: return str;
    case Type::error: return "(error) " + str;
    case Type::integer: return "(integer) " + std::to_string(integer);
    case Type::boolean: return integer ? "(true)" : "(false)";
    case Type::null: return "(nil)";
    default: break;
  }
  const bool pairs = type == Type::map || type == Type::attribute;
  std::string out = type == Type::array ? "[" : type == Type::push ? ">[" : type == Type::set ? "~[" : "{";
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i > 0) out += pairs && i % 2 ? ": " : ", ";
    out += elements[i].to_string();
  }
  out += type == Type::map || type == Type::attribute ? "}" : "]";
  return out;
}

bool Reply::operator==(const Reply& other) const {
  if (type != other.type || attributes != other.attributes) return false;
  switch (type) {
    case Type::integer:
    case Type::boolean: return integer == other.integer;
    case Type::null: return true;
    case Type::verbatim: return str == other.str && std::memcmp(format, other.format, 3) == 0;
    default: break;
  }
  return is_aggregate() ? elements == other.elements : str == other.str;  // doubles by their text
}

void ReplyParser::feed(std::string_view bytes) {
  if (pos_ > 0) {  // what earlier replies used is given back once per read, not once per reply
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

void ReplyParser::reset() {
  buffer_.clear();
  pos_ = 0;
  stack_.clear();
  top_attributes_.clear();
  elements_ = 0;
  failed_ = false;
}

void ReplyParser::fail(const std::string& message) {
  failed_ = true;
  throw ProtocolError("RESP: " + message);
}

std::optional<Reply> ReplyParser::next() {
  if (failed_) throw ProtocolError("RESP: the stream already failed to parse");
  std::optional<Reply> done;
  while (!done && parse_element(done)) {
  }
  if (pos_ == buffer_.size()) {
    pos_ = 0;
    buffer_.clear();
    if (buffer_.capacity() > 1024 * 1024) buffer_.shrink_to_fit();  // a huge bulk is not kept
  }
  return done;
}

namespace {

bool parse_integer(std::string_view text, int64_t& value) {
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty() || text[0] == '+') return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

bool parse_double(std::string_view text, double& value) {
  if (text == "inf" || text == "+inf") { value = HUGE_VAL; return true; }
  if (text == "-inf") { value = -HUGE_VAL; return true; }
  if (text == "nan" || text == "-nan") { value = std::nan(""); return true; }
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (text.empty() || text[0] == '+' || text[0] == 'i' || text[0] == 'n' || text[0] == 'I' || text[0] == 'N') {
    return false;
  }
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

bool is_big_number(std::string_view text) {
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string printable(char c) {
  static const char* hex = "0123456789abcdef";
  if (c >= 0x21 && c < 0x7f) return std::string("'") + c + "'";
  const auto byte = static_cast<unsigned char>(c);
  return std::string("0x") + hex[byte >> 4] + hex[byte & 15];
}

}  // namespace

bool ReplyParser::parse_element(std::optional<Reply>& done) {
  const size_t available = buffer_.size() - pos_;
  if (available == 0) return false;
  const char* base = buffer_.data() + pos_;
  const char kind = base[0];
  // The type byte's line, ending in CRLF.
  const size_t scan = std::min(available, limits_.max_line + 3);
  const void* newline = available > 1 ? std::memchr(base + 1, '\n', scan - 1) : nullptr;
  if (!newline) {
    if (available >= limits_.max_line + 3) fail("a line longer than " + std::to_string(limits_.max_line) + " bytes");
    return false;
  }
  const size_t lf = static_cast<size_t>(static_cast<const char*>(newline) - base);
  if (lf < 2 || base[lf - 1] != '\r') fail("a line ends in LF without CR");
  const std::string_view line(base + 1, lf - 2);
  size_t used = lf + 1;

  Reply value;
  int64_t number = 0;
  switch (kind) {
    case '+': value = Reply::simple(std::string(line)); break;
    case '-': value = Reply::error_reply(std::string(line)); break;
    case ':':
      if (!parse_integer(line, number)) fail("bad integer \"" + std::string(line.substr(0, 32)) + "\"");
      value.type = Type::integer;
      value.integer = number;
      break;
    case '_':
      if (!line.empty()) fail("a null with a value");
      break;
    case '#':
      if (line != "t" && line != "f") fail("bad boolean \"" + std::string(line.substr(0, 32)) + "\"");
      value.type = Type::boolean;
      value.integer = line == "t";
      break;
    case ',':
      if (!parse_double(line, value.number)) fail("bad double \"" + std::string(line.substr(0, 32)) + "\"");
      value.type = Type::double_number;
      value.str = line;
      break;
    case '(':
      if (!is_big_number(line)) fail("bad big number \"" + std::string(line.substr(0, 32)) + "\"");
      value.type = Type::big_number;
      value.str = line;
      break;
    case '$':
    case '!':
    case '=': {
      if (line == "?") fail("streamed strings are not supported");
      if (!parse_integer(line, number) || number < -1 || (number == -1 && kind != '$')) {
        fail("bad length \"" + std::string(line.substr(0, 32)) + "\"");
      }
      if (number == -1) break;  // RESP2's null bulk string
      const auto length = static_cast<size_t>(number);
      if (length > limits_.max_bulk) {
        fail("a string of " + std::to_string(length) + " bytes (at most " + std::to_string(limits_.max_bulk) + ")");
      }
      if (available - used < length + 2) return false;
      if (base[used + length] != '\r' || base[used + length + 1] != '\n') fail("a string not followed by CRLF");
      std::string_view body(base + used, length);
      used += length + 2;
      if (kind == '=') {
        if (length < 4 || body[3] != ':') fail("a verbatim string without its format");
        value.type = Type::verbatim;
        std::memcpy(value.format, body.data(), 3);
        body.remove_prefix(4);
      } else {
        value.type = kind == '$' ? Type::bulk_string : Type::error;
      }
      value.str = body;
      break;
    }
    case '*':
    case '~':
    case '%':
    case '|':
    case '>': {
      if (line == "?") fail("streamed aggregates are not supported");
      if (!parse_integer(line, number) || number < -1 || (number == -1 && kind != '*')) {
        fail("bad element count \"" + std::string(line.substr(0, 32)) + "\"");
      }
      if (number == -1) break;  // RESP2's null array
      const bool pairs = kind == '%' || kind == '|';
      if (static_cast<uint64_t>(number) > limits_.max_elements ||
          elements_ + static_cast<size_t>(number) * (pairs ? 2 : 1) > limits_.max_elements) {
        fail("a reply of more than " + std::to_string(limits_.max_elements) + " elements");
      }
      const size_t count = static_cast<size_t>(number) * (pairs ? 2 : 1);
      value.type = kind == '*' ? Type::array : kind == '~' ? Type::set : kind == '%' ? Type::map
                 : kind == '|' ? Type::attribute : Type::push;
      if (count == 0) break;
      if (stack_.size() >= limits_.max_depth) {
        fail("aggregates nested deeper than " + std::to_string(limits_.max_depth));
      }
      pos_ += used;
      // Reserved as the elements arrive, not as announced: a count costs the server nothing.
      value.elements.reserve(std::min<size_t>(count, 16));
      stack_.push_back(Frame{std::move(value), count, {}});
      return true;
    }
    default: fail("unknown type byte " + printable(kind));
  }
  pos_ += used;
  if (++elements_ > limits_.max_elements) {
    fail("a reply of more than " + std::to_string(limits_.max_elements) + " elements");
  }
  attach(std::move(value), done);
  return true;
}

bool ReplyParser::attach(Reply value, std::optional<Reply>& done) {
  for (;;) {
    if (value.type == Type::attribute) {  // describes the next value at this level
      (stack_.empty() ? top_attributes_ : stack_.back().attributes) = std::move(value.elements);
      return false;
    }
    if (stack_.empty()) {
      value.attributes = std::move(top_attributes_);
      top_attributes_.clear();
      done = std::move(value);
      elements_ = 0;
      return true;
    }
    Frame& frame = stack_.back();
    if (!frame.attributes.empty()) {
      value.attributes = std::move(frame.attributes);
      frame.attributes.clear();
    }
    frame.value.elements.push_back(std::move(value));
    if (--frame.remaining > 0) return false;
    value = std::move(frame.value);
    stack_.pop_back();
  }
}

namespace {

size_t digits(size_t n) {
  size_t count = 1;
  while (n >= 10) {
    n /= 10;
    ++count;
  }
  return count;
}

char* put_header(char* at, char kind, size_t n) {
  *at++ = kind;
  at = std::to_chars(at, at + 20, n).ptr;
  *at++ = '\r';
  *at++ = '\n';
  return at;
}

// Sized first, then written in place: a command is on every request's path.
template <class Args>
void append_args(std::string& out, const Args& args) {
  size_t size = 3 + digits(args.size());
  for (const auto& arg : args) size += 5 + digits(arg.size()) + arg.size();
  const size_t start = out.size();
  out.resize(start + size);
  char* at = put_header(out.data() + start, '*', args.size());
  for (const auto& arg : args) {
    at = put_header(at, '$', arg.size());
    std::memcpy(at, arg.data(), arg.size());
    at += arg.size();
    *at++ = '\r';
    *at++ = '\n';
  }
}

void append_line(std::string& out, char kind, std::string_view text) {
  out += kind;
  out += text;
  out += "\r\n";
}

}  // namespace

void append_command(std::string& out, std::span<const std::string_view> args) { append_args(out, args); }
void append_command(std::string& out, std::span<const std::string> args) { append_args(out, args); }

void append_reply(std::string& out, const Reply& reply) {
  if (!reply.attributes.empty()) {
    append_line(out, '|', std::to_string(reply.attributes.size() / 2));
    for (const Reply& element : reply.attributes) append_reply(out, element);
  }
  switch (reply.type) {
    case Type::simple_string: append_line(out, '+', reply.str); return;
    case Type::error:
      if (reply.str.find_first_of("\r\n") == std::string::npos) {
        append_line(out, '-', reply.str);
      } else {
        append_line(out, '!', std::to_string(reply.str.size()));  // a blob error may hold CR and LF
        out += reply.str;
        out += "\r\n";
      }
      return;
    case Type::integer: append_line(out, ':', std::to_string(reply.integer)); return;
    case Type::null: append_line(out, '_', ""); return;
    case Type::boolean: append_line(out, '#', reply.integer ? "t" : "f"); return;
    case Type::double_number: append_line(out, ',', reply.str); return;
    case Type::big_number: append_line(out, '(', reply.str); return;
    case Type::bulk_string:
      append_line(out, '$', std::to_string(reply.str.size()));
      out += reply.str;
      out += "\r\n";
      return;
    case Type::verbatim:
      append_line(out, '=', std::to_string(reply.str.size() + 4));
      out.append(reply.format, 3);
      out += ':';
      out += reply.str;
      out += "\r\n";
      return;
    default: break;
  }
  const char kind = reply.type == Type::array ? '*' : reply.type == Type::set ? '~' : reply.type == Type::map ? '%'
                  : reply.type == Type::attribute ? '|' : '>';
  const bool pairs = kind == '%' || kind == '|';
  append_line(out, kind, std::to_string(pairs ? reply.elements.size() / 2 : reply.elements.size()));
  for (const Reply& element : reply.elements) append_reply(out, element);
}

}  // namespace asyncore::redis
