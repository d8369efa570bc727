#include <asyncore/json/json.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <unordered_set>
#include <utility>

#include <asyncore/json/utf8.h>

namespace asyncore::json {

// ============================================================================================
// Object
// ============================================================================================

Object::Object() = default;
Object::Object(std::initializer_list<Member> members) : members_(members) {}
Object::Object(const Object& other) = default;
Object::Object(Object&& other) noexcept = default;
Object& Object::operator=(const Object& other) = default;
Object& Object::operator=(Object&& other) noexcept = default;
Object::~Object() = default;

std::size_t Object::size() const { return members_.size(); }
bool Object::empty() const { return members_.empty(); }
bool Object::contains(std::string_view key) const { return find(key) != nullptr; }

const Value* Object::find(std::string_view key) const {
  for (const Member& m : members_) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

Value* Object::find(std::string_view key) {
  return const_cast<Value*>(std::as_const(*this).find(key));
}

Value& Object::set(std::string key, Value value) {
  if (Value* existing = find(key)) return *existing = std::move(value);
  return append(std::move(key), std::move(value));
}

Value& Object::append(std::string key, Value value) {
  // Built in place: a temporary Member would cost a second move and a destruction of each part.
  return members_.emplace_back(std::move(key), std::move(value)).value;
}

void Object::reserve(std::size_t members) { members_.reserve(members); }

std::size_t Object::erase(std::string_view key) {
  return std::erase_if(members_, [&](const Member& m) { return m.key == key; });
}

Value& Object::operator[](std::string_view key) {
  if (Value* existing = find(key)) return *existing;
  return append(std::string(key), Value());
}

const Value& Object::at(std::string_view key) const {
  if (const Value* existing = find(key)) return *existing;
  throw TypeError("json: object has no member \"" + std::string(key) + "\"");
}

std::vector<Member>::const_iterator Object::begin() const { return members_.begin(); }
std::vector<Member>::const_iterator Object::end() const { return members_.end(); }
std::vector<Member>::iterator Object::begin() { return members_.begin(); }
std::vector<Member>::iterator Object::end() { return members_.end(); }

bool operator==(const Object& a, const Object& b) { return a.members_ == b.members_; }

// ============================================================================================
// Value
// ============================================================================================

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::null: return "null";
    case Kind::boolean: return "bool";
    case Kind::int64: return "integer";
    case Kind::uint64: return "unsigned integer";
    case Kind::floating: return "double";
    case Kind::string: return "string";
    case Kind::array: return "array";
    case Kind::object: return "object";
  }
  return "unknown";
}

void Value::wrong_kind(std::string_view wanted) const {
  throw TypeError("json: expected " + std::string(wanted) + ", got " +
                  std::string(kind_name(kind())));
}

std::size_t Value::checked_index(int index) {
  if (index < 0) throw TypeError("json: negative array index " + std::to_string(index));
  return static_cast<std::size_t>(index);
}

bool Value::is_uint() const {
  if (kind() == Kind::uint64) return true;
  return is_int() && std::get<std::int64_t>(data_) >= 0;
}

bool Value::as_bool() const {
  if (!is_bool()) wrong_kind("bool");
  return std::get<bool>(data_);
}

std::int64_t Value::as_int() const {
  if (!is_int()) wrong_kind("integer in int64 range");
  return std::get<std::int64_t>(data_);
}

std::uint64_t Value::as_uint() const {
  if (kind() == Kind::uint64) return std::get<std::uint64_t>(data_);
  if (!is_uint()) wrong_kind("non-negative integer");
  return static_cast<std::uint64_t>(std::get<std::int64_t>(data_));
}

double Value::as_double() const {
  switch (kind()) {
    case Kind::int64: return static_cast<double>(std::get<std::int64_t>(data_));
    case Kind::uint64: return static_cast<double>(std::get<std::uint64_t>(data_));
    case Kind::floating: return std::get<double>(data_);
    default: wrong_kind("number");
  }
}

const std::string& Value::as_string() const {
  if (!is_string()) wrong_kind("string");
  return std::get<std::string>(data_);
}
std::string& Value::as_string() {
  if (!is_string()) wrong_kind("string");
  return std::get<std::string>(data_);
}
const Array& Value::as_array() const {
  if (!is_array()) wrong_kind("array");
  return std::get<Array>(data_);
}
Array& Value::as_array() {
  if (!is_array()) wrong_kind("array");
  return std::get<Array>(data_);
}
const Object& Value::as_object() const {
  if (!is_object()) wrong_kind("object");
  return std::get<Object>(data_);
}
Object& Value::as_object() {
  if (!is_object()) wrong_kind("object");
  return std::get<Object>(data_);
}

const Value* Value::get(std::string_view key) const {
  return is_object() ? std::get<Object>(data_).find(key) : nullptr;
}
Value* Value::get(std::string_view key) {
  return is_object() ? std::get<Object>(data_).find(key) : nullptr;
}

Value& Value::operator[](std::string_view key) {
  if (is_null()) data_ = Object();
  return as_object()[key];
}
const Value& Value::operator[](std::string_view key) const { return as_object().at(key); }

Value& Value::operator[](std::size_t index) {
  return const_cast<Value&>(std::as_const(*this)[index]);
}
const Value& Value::operator[](std::size_t index) const {
  const Array& elements = as_array();
  if (index >= elements.size()) {
    throw TypeError("json: array index " + std::to_string(index) + " out of range (size " +
                    std::to_string(elements.size()) + ")");
  }
  return elements[index];
}

Value& Value::push_back(Value element) {
  if (is_null()) data_ = Array();
  Array& elements = as_array();
  elements.push_back(std::move(element));
  return elements.back();
}

Value& Value::set(std::string key, Value value) {
  if (is_null()) data_ = Object();
  return as_object().set(std::move(key), std::move(value));
}

std::size_t Value::size() const {
  if (is_array()) return std::get<Array>(data_).size();
  if (is_object()) return std::get<Object>(data_).size();
  return 0;
}

// ============================================================================================
// UTF-8 (the checks are in dispatchers/json/utf8.h: the parser rejects bad input, the writer repairs it)
// ============================================================================================

namespace {

std::string hex_byte(unsigned char b) {
  static constexpr char digits[] = "0123456789ABCDEF";
  return std::string("0x") + digits[b >> 4] + digits[b & 0xF];
}

// How an input byte is shown in an error message.
std::string describe_byte(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return "end of input";
  const auto b = static_cast<unsigned char>(text[pos]);
  if (b >= 0x20 && b < 0x7F) return std::string("'") + static_cast<char>(b) + "'";
  return "byte " + hex_byte(b);
}

// ============================================================================================
// Parser: recursive descent over the RFC 8259 grammar, one method per production.
// ============================================================================================

class Parser {
 public:
  Parser(std::string_view text, const ParseOptions& options) : text_(text), options_(options) {}

  Value parse_document() {
    if (text_.starts_with("\xEF\xBB\xBF")) fail(0, "byte order mark is not allowed");
    skip_whitespace();
    Value value = parse_value();
    skip_whitespace();
    if (pos_ < text_.size()) fail("expected end of input after value, found " + found());
    return value;
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& detail) const {
    throw ParseError(at, detail);
  }
  [[noreturn]] void fail(const std::string& detail) const { fail(pos_, detail); }

  std::string found() const { return describe_byte(text_, pos_); }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  bool consume(char c) {
    if (at_end() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // RFC 8259 whitespace is exactly space, tab, LF and CR.
  void skip_whitespace() {
    while (!at_end()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  Value parse_value() {
    switch (peek()) {
      case '{': return parse_object();
      case '[': return parse_array();
      case '"': return Value(parse_string());
      case 't': return parse_literal("true", Value(true));
      case 'f': return parse_literal("false", Value(false));
      case 'n': return parse_literal("null", Value());
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number();
        fail("expected a value, found " + found());
    }
  }

  Value parse_literal(std::string_view word, Value value) {
    if (text_.substr(pos_, word.size()) != word) {
      fail("invalid literal, expected '" + std::string(word) + "'");
    }
    pos_ += word.size();
    return value;
  }

  // Counts one level of nesting for the lifetime of an array or object being parsed.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& parser) : parser_(parser) {
      if (++parser_.depth_ > parser_.options_.max_depth) {
        parser_.fail("nesting deeper than " + std::to_string(parser_.options_.max_depth) +
                     " levels");
      }
    }
    ~DepthGuard() { --parser_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser& parser_;
  };

  Value parse_array() {
    const DepthGuard guard(*this);
    ++pos_;  // '['
    Array elements;
    skip_whitespace();
    if (consume(']')) return Value(std::move(elements));
    for (;;) {
      skip_whitespace();
      elements.push_back(parse_value());
      skip_whitespace();
      if (consume(']')) return Value(std::move(elements));
      if (!consume(',')) fail("expected ',' or ']' after array element, found " + found());
    }
  }

  Value parse_object() {
    const DepthGuard guard(*this);
    ++pos_;  // '{'
    Object members;
    std::unordered_set<std::string> seen_keys;  // only filled when duplicates are rejected
    skip_whitespace();
    if (consume('}')) return Value(std::move(members));
    // Room for four at once: most objects are small, and growing 1, 2, 4 (moving the members
    // each time) was a tenth of parsing a device's login.
    members.reserve(4);
    for (;;) {
      skip_whitespace();
      if (peek() != '"') fail("expected '\"' to start an object key, found " + found());
      const std::size_t key_offset = pos_;
      std::string key = parse_string();
      if (options_.reject_duplicate_keys && !seen_keys.insert(key).second) {
        fail(key_offset, "duplicate object key \"" + key + "\"");
      }
      skip_whitespace();
      if (!consume(':')) fail("expected ':' after object key, found " + found());
      skip_whitespace();
      members.append(std::move(key), parse_value());
      skip_whitespace();
      if (consume('}')) return Value(std::move(members));
      if (!consume(',')) fail("expected ',' or '}' after object member, found " + found());
    }
  }

  std::string parse_string() {
    const std::size_t start = pos_;
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      // Copy the longest run of bytes that need no attention in one go.
      const std::size_t run_start = pos_;
      while (!at_end()) {
        const auto b = static_cast<unsigned char>(text_[pos_]);
        if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
        ++pos_;
      }
      out.append(text_.substr(run_start, pos_ - run_start));
      if (at_end()) fail(start, "unterminated string");
      const auto b = static_cast<unsigned char>(text_[pos_]);
      if (b == '"') {
        ++pos_;
        return out;
      }
      if (b == '\\') {
        parse_escape(out);
      } else if (b < 0x20) {
        fail("control character " + hex_byte(b) + " in string must be escaped");
      } else {
        const std::size_t length = utf8_sequence_length(text_, pos_);
        if (length == 0) fail("invalid UTF-8 (" + hex_byte(b) + ") in string");
        out.append(text_.substr(pos_, length));
        pos_ += length;
      }
    }
  }

  void parse_escape(std::string& out) {
    const std::size_t escape_start = pos_;
    ++pos_;  // backslash
    if (at_end()) fail(escape_start, "unterminated escape sequence");
    const char c = text_[pos_++];
    switch (c) {
      case '"': out += '"'; return;
      case '\\': out += '\\'; return;
      case '/': out += '/'; return;
      case 'b': out += '\b'; return;
      case 'f': out += '\f'; return;
      case 'n': out += '\n'; return;
      case 'r': out += '\r'; return;
      case 't': out += '\t'; return;
      case 'u': break;
      default: fail(escape_start, "invalid escape '\\" + describe_escape_char(c) + "' in string");
    }
    std::uint32_t unit = parse_hex4();
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      fail(escape_start, "lone low surrogate \\u" + hex4(unit) + " in string");
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      // A high surrogate must be followed at once by an escaped low surrogate.
      if (text_.substr(pos_, 2) != "\\u") {
        fail(escape_start, "lone high surrogate \\u" + hex4(unit) +
                               " (expected a \\uDC00-\\uDFFF escape to follow)");
      }
      pos_ += 2;
      const std::uint32_t low = parse_hex4();
      if (low < 0xDC00 || low > 0xDFFF) {
        fail(escape_start, "lone high surrogate \\u" + hex4(unit) + " followed by \\u" +
                               hex4(low) + " instead of \\uDC00-\\uDFFF");
      }
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, unit);
  }

  static std::string describe_escape_char(char c) {
    const auto b = static_cast<unsigned char>(c);
    return (b >= 0x20 && b < 0x7F) ? std::string(1, c) : hex_byte(b);
  }

  static std::string hex4(std::uint32_t unit) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string s(4, '0');
    for (int i = 3; i >= 0; --i, unit >>= 4) s[i] = digits[unit & 0xF];
    return s;
  }

  std::uint32_t parse_hex4() {
    std::uint32_t unit = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = peek();
      std::uint32_t digit;
      if (c >= '0' && c <= '9') digit = c - '0';
      else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
      else fail("expected 4 hex digits after \\u, found " + found());
      unit = unit * 16 + digit;
      ++pos_;
    }
    return unit;
  }

  bool digit_here() const { return !at_end() && text_[pos_] >= '0' && text_[pos_] <= '9'; }
  void skip_digits() {
    while (digit_here()) ++pos_;
  }

  // number = [ "-" ] int [ frac ] [ exp ]; int = "0" / digit1-9 *DIGIT
  Value parse_number() {
    const std::size_t start = pos_;
    consume('-');
    if (!digit_here()) fail("expected a digit after '-', found " + found());
    if (consume('0')) {
      if (digit_here()) fail(start, "leading zeros are not allowed in numbers");
    } else {
      skip_digits();
    }
    bool integral = true;
    if (consume('.')) {
      integral = false;
      if (!digit_here()) fail("expected a digit after '.', found " + found());
      skip_digits();
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos_;
      if (!consume('+')) consume('-');
      if (!digit_here()) fail("expected a digit in exponent, found " + found());
      skip_digits();
    }
    const std::string_view literal = text_.substr(start, pos_ - start);
    const char* first = literal.data();
    const char* last = literal.data() + literal.size();
    if (integral) {
      std::int64_t signed_value = 0;
      if (std::from_chars(first, last, signed_value).ec == std::errc()) return Value(signed_value);
      std::uint64_t unsigned_value = 0;
      if (literal[0] != '-' && std::from_chars(first, last, unsigned_value).ec == std::errc()) {
        return Value(unsigned_value);
      }
      // Too large for either integer type: fall through to double like other parsers do.
    }
    double d = 0;
    const auto result = std::from_chars(first, last, d);
    if (result.ec == std::errc::result_out_of_range) {
      if (!underflows(literal)) fail(start, "number " + std::string(literal) + " is out of double range");
      d = literal[0] == '-' ? -0.0 : 0.0;
    } else if (result.ec != std::errc() || result.ptr != last) {
      fail(start, "malformed number");  // unreachable for grammar-checked text; kept as a guard
    }
    return Value(d);
  }

  // from_chars reports both overflow and underflow as out of range; the decimal exponent of the
  // first significant digit tells which (the two are hundreds of orders of magnitude apart).
  static bool underflows(std::string_view literal) {
    if (literal[0] == '-') literal.remove_prefix(1);
    const std::size_t exponent_at = literal.find_first_of("eE");
    const std::string_view mantissa = literal.substr(0, exponent_at);
    long long exponent = 0;
    if (exponent_at != std::string_view::npos) {
      std::string_view digits = literal.substr(exponent_at + 1);
      const bool negative = digits[0] == '-';
      if (digits[0] == '+' || digits[0] == '-') digits.remove_prefix(1);
      // Saturated at half the range: still decisively huge or tiny, and the sum below cannot
      // overflow (the mantissa's magnitude is bounded by the text's length).
      constexpr long long kSaturated = LLONG_MAX / 2;
      if (std::from_chars(digits.data(), digits.data() + digits.size(), exponent).ec != std::errc() ||
          exponent > kSaturated) {
        exponent = kSaturated;
      }
      if (negative) exponent = -exponent;
    }
    const std::size_t point = mantissa.find('.');
    const std::string_view integer_part = mantissa.substr(0, point);
    long long magnitude;  // roughly log10 of the mantissa
    if (integer_part != "0") {
      magnitude = static_cast<long long>(integer_part.size());
    } else {
      const std::string_view fraction =
          point == std::string_view::npos ? std::string_view() : mantissa.substr(point + 1);
      magnitude = -static_cast<long long>(std::min(fraction.find_first_not_of('0'), fraction.size()));
    }
    return magnitude + exponent < 0;
  }

  std::string_view text_;
  const ParseOptions& options_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

// ============================================================================================
// Writer
// ============================================================================================

template <typename Integer>
void append_integer(std::string& out, Integer n) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, n);
  out.append(buffer, result.ptr);
}

class Writer {
 public:
  Writer(std::string& out, int indent) : out_(out), indent_(indent) {}

  void write(const Value& value, int level) {
    switch (value.kind()) {
      case Kind::null: out_ += "null"; return;
      case Kind::boolean: out_ += value.as_bool() ? "true" : "false"; return;
      case Kind::int64: append_integer(out_, value.as_int()); return;
      case Kind::uint64: append_integer(out_, value.as_uint()); return;
      case Kind::floating: append_double(out_, value.as_double()); return;
      case Kind::string: append_quoted(out_, value.as_string()); return;
      case Kind::array: write_array(value.as_array(), level); return;
      case Kind::object: write_object(value.as_object(), level); return;
    }
  }

 private:
  void write_array(const Array& elements, int level) {
    out_ += '[';
    bool first = true;
    for (const Value& element : elements) {
      if (!first) out_ += ',';
      first = false;
      new_line(level + 1);
      write(element, level + 1);
    }
    if (!elements.empty()) new_line(level);
    out_ += ']';
  }

  void write_object(const Object& members, int level) {
    out_ += '{';
    bool first = true;
    for (const Member& member : members) {
      if (!first) out_ += ',';
      first = false;
      new_line(level + 1);
      append_quoted(out_, member.key);
      if (indent_ >= 0) out_ += ": ";
      else out_ += ':';
      write(member.value, level + 1);
    }
    if (!members.empty()) new_line(level);
    out_ += '}';
  }

  void new_line(int level) {
    if (indent_ < 0) return;
    out_ += '\n';
    out_.append(static_cast<std::size_t>(level) * static_cast<std::size_t>(indent_), ' ');
  }

  std::string& out_;
  int indent_;
};

}  // namespace

// ============================================================================================
// Public functions
// ============================================================================================

ParseError::ParseError(std::size_t offset, const std::string& detail)
    : std::runtime_error("json: at byte " + std::to_string(offset) + ": " + detail),
      offset_(offset),
      detail_(detail) {}

Value parse(std::string_view text, const ParseOptions& options) {
  return Parser(text, options).parse_document();
}

ParseResult try_parse(std::string_view text, const ParseOptions& options) {
  ParseResult result;
  try {
    result.value = parse(text, options);
  } catch (const ParseError& error) {
    result.error = error;
  }
  return result;
}

std::string dump(const Value& value, int indent) {
  std::string out;
  dump_to(out, value, indent);
  return out;
}

void dump_to(std::string& out, const Value& value, int indent) { Writer(out, indent).write(value, 0); }

void append_double(std::string& out, double d) {
  char buffer[kMaxDoubleText];
  out.append(buffer, write_double(buffer, d));
}

char* write_double(char* out, double d) {
  if (!std::isfinite(d)) {
    std::memcpy(out, "null", 4);  // JSON has no NaN or infinity
    return out + 4;
  }
  // Values with one to three decimals from 1 up (unix times to the millisecond) are written with
  // integer arithmetic, a tenth of the cost. The text is exactly to_chars': it reads back as d
  // (checked below: the division is rounded as the parse is), and below 2^42 the spacing of
  // doubles is under 0.001, so no shorter decimal reads back as d, nor is the exponent form shorter.
  if (d >= 1 && d < 4398046511104.0) {
    const long long ms = std::llround(d * 1000);
    if (ms % 1000 != 0 && static_cast<double>(ms) / 1000 == d) {
      char* p = std::to_chars(out, out + 20, ms / 1000).ptr;
      int fraction = static_cast<int>(ms % 1000);
      *p++ = '.';
      for (int unit = 100; fraction != 0; unit /= 10) {
        *p++ = static_cast<char>('0' + fraction / unit);
        fraction %= unit;
      }
      return p;
    }
  }
  // Shortest round trip; at most 24 bytes (-d.ddddddddddddddddde-308), so ".0" fits too.
  char* const end = std::to_chars(out, out + kMaxDoubleText - 2, d).ptr;
  // Keep it a double when read back: "1" would come back as an integer. (A plain loop:
  // find_first_of searches the set once per character.)
  for (const char* c = out; c != end; ++c) {
    if (*c == '.' || *c == 'e') return end;
  }
  std::memcpy(end, ".0", 2);
  return end + 2;
}

void append_quoted(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  // Most strings (keys above all) need no escape: one append of the right size, then the bytes.
  std::size_t plain = 0;
  while (plain < s.size()) {
    const auto b = static_cast<unsigned char>(s[plain]);
    if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
    ++plain;
  }
  if (plain == s.size()) {
    const std::size_t at = out.size();
    out.append(s.size() + 2, '"');
    if (!s.empty()) std::memcpy(out.data() + at + 1, s.data(), s.size());
    return;
  }
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  std::size_t pos = 0;
  while (pos < s.size()) {
    // Copy the longest run of printable ASCII that needs no escaping in one go.
    const std::size_t run_start = pos;
    while (pos < s.size()) {
      const auto b = static_cast<unsigned char>(s[pos]);
      if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
      ++pos;
    }
    out.append(s.substr(run_start, pos - run_start));
    if (pos == s.size()) break;
    const auto b = static_cast<unsigned char>(s[pos]);
    if (b >= 0x80) {
      const std::size_t length = utf8_sequence_length(s, pos);
      if (length == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD: a bad byte must not make the whole document invalid
        ++pos;
      } else {
        out.append(s.substr(pos, length));
        pos += length;
      }
      continue;
    }
    ++pos;
    switch (b) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[b >> 4];
        out += hex[b & 0xF];
    }
  }
  out += '"';
}

}  // namespace asyncore::json
