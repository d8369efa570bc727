// JSON values, an RFC 8259 parser and a writer.
//
//   json::Value v = json::Object{{"type", "hello"}, {"id", 7}, {"tags", json::Array{"a", "b"}}};
//   std::string line = json::dump(v);                 // {"type":"hello","id":7,"tags":["a","b"]}
//   json::Value back = json::parse(line);             // throws json::ParseError on bad input
//   if (const json::Value* id = back.get("id"); id && id->is_int()) use(id->as_int());
//
// Numbers: integers that fit int64 are kept as int64, larger non-negative ones that fit uint64 as
// uint64 (both exact); every other number is a double. An integer and a double are different
// values (1 != 1.0), so a dump/parse round trip keeps the kind: doubles are always written with a
// '.' or an exponent.
//
// Objects keep their members in insertion order. Parsing keeps duplicate keys (so a dump shows
// what was received) but every lookup returns the first match; ParseOptions::reject_duplicate_keys
// makes them an error instead. Equality compares members in order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <concepts>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace asyncore::json {

class Value;
struct Member;
using Array = std::vector<Value>;

// Thrown by the typed accessors when a value is not of the kind asked for.
class TypeError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Members in insertion order; lookups return the first member with the key.
class Object {
 public:
  Object();
  Object(std::initializer_list<Member> members);
  // Defined out of line: Member is incomplete here, and some compilers instantiate the
  // vector's members as soon as Value's inline constructors mention Object.
  Object(const Object& other);
  Object(Object&& other) noexcept;
  Object& operator=(const Object& other);
  Object& operator=(Object&& other) noexcept;
  ~Object();

  std::size_t size() const;
  bool empty() const;
  bool contains(std::string_view key) const;
  // The first member's value with this key, or nullptr.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  // Replaces the first member with this key, or appends a new one.
  Value& set(std::string key, Value value);
  // Appends without looking for an existing key (the parser's and a hot path's way in).
  Value& append(std::string key, Value value);
  void reserve(std::size_t members);
  // Removes every member with this key; returns how many were removed.
  std::size_t erase(std::string_view key);
  // The first member's value with this key, appending a null member when there is none.
  Value& operator[](std::string_view key);
  // The first member's value with this key; throws TypeError when there is none.
  const Value& at(std::string_view key) const;

  const std::vector<Member>& members() const { return members_; }
  std::vector<Member>::const_iterator begin() const;
  std::vector<Member>::const_iterator end() const;
  std::vector<Member>::iterator begin();
  std::vector<Member>::iterator end();

  friend bool operator==(const Object& a, const Object& b);

 private:
  std::vector<Member> members_;
};

enum class Kind { null, boolean, int64, uint64, floating, string, array, object };
std::string_view kind_name(Kind kind);

class Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(bool b) : data_(b) {}
  // Every integer type except bool and characters (a char is more likely a bug than a number).
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char> && !std::same_as<T, char8_t> &&
             !std::same_as<T, char16_t> && !std::same_as<T, char32_t> && !std::same_as<T, wchar_t>)
  Value(T n) {
    if constexpr (std::is_signed_v<T>) {
      data_ = static_cast<std::int64_t>(n);
    } else if (static_cast<std::uint64_t>(n) > static_cast<std::uint64_t>(INT64_MAX)) {
      data_ = static_cast<std::uint64_t>(n);  // only values int64 cannot hold are kept unsigned
    } else {
      data_ = static_cast<std::int64_t>(n);
    }
  }
  template <std::floating_point T>
  Value(T d) : data_(static_cast<double>(d)) {}
  Value(const char* s) : data_(std::string(s)) {}
  Value(std::string_view s) : data_(std::string(s)) {}
  Value(std::string s) : data_(std::move(s)) {}
  Value(Array a) : data_(std::move(a)) {}
  Value(Object o) : data_(std::move(o)) {}

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_null() const { return kind() == Kind::null; }
  bool is_bool() const { return kind() == Kind::boolean; }
  bool is_int() const { return kind() == Kind::int64; }  // fits int64
  bool is_uint() const;                                   // fits uint64 (non-negative integer)
  bool is_integer() const { return is_int() || kind() == Kind::uint64; }
  bool is_double() const { return kind() == Kind::floating; }
  bool is_number() const { return is_integer() || is_double(); }
  bool is_string() const { return kind() == Kind::string; }
  bool is_array() const { return kind() == Kind::array; }
  bool is_object() const { return kind() == Kind::object; }

  // Typed access; each throws TypeError naming the actual kind when it does not match.
  bool as_bool() const;
  std::int64_t as_int() const;
  std::uint64_t as_uint() const;
  double as_double() const;  // any number, integers converted
  const std::string& as_string() const;
  std::string& as_string();
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Object member lookup: nullptr when this is not an object or has no such key.
  const Value* get(std::string_view key) const;
  Value* get(std::string_view key);
  // Object access (non-const appends a null member when missing; const throws when missing).
  Value& operator[](std::string_view key);
  const Value& operator[](std::string_view key) const;
  Value& operator[](const char* key) { return (*this)[std::string_view(key)]; }
  const Value& operator[](const char* key) const { return (*this)[std::string_view(key)]; }
  // Array access, bounds-checked (throws TypeError when out of range).
  Value& operator[](std::size_t index);
  const Value& operator[](std::size_t index) const;
  Value& operator[](int index) { return (*this)[checked_index(index)]; }
  const Value& operator[](int index) const { return (*this)[checked_index(index)]; }

  // A null value becomes an empty array / object on first use, so documents can be built up.
  Value& push_back(Value element);
  Value& set(std::string key, Value value);
  std::size_t size() const;  // elements or members; 0 for scalars

  friend bool operator==(const Value& a, const Value& b) { return a.data_ == b.data_; }

 private:
  static std::size_t checked_index(int index);
  [[noreturn]] void wrong_kind(std::string_view wanted) const;

  // The order matches Kind.
  std::variant<std::nullptr_t, bool, std::int64_t, std::uint64_t, double, std::string, Array, Object>
      data_;
};

struct Member {
  Member() = default;
  // A constructor rather than an aggregate: emplace_back builds a member in place with it (clang
  // 14 has no parenthesized aggregate initialization).
  Member(std::string key, Value value) : key(std::move(key)), value(std::move(value)) {}
  std::string key;
  Value value;
  friend bool operator==(const Member&, const Member&) = default;
};

// ---- parsing ----

struct ParseOptions {
  // Arrays and objects nested deeper than this are refused (the parser recurses per level).
  int max_depth = 64;
  // false: duplicate keys are kept and lookups see the first; true: a duplicate is an error.
  bool reject_duplicate_keys = false;
};

// Message form: "json: at byte 17: expected ',' or '}' after object member".
class ParseError : public std::runtime_error {
 public:
  ParseError(std::size_t offset, const std::string& detail);
  std::size_t offset() const { return offset_; }
  const std::string& detail() const { return detail_; }

 private:
  std::size_t offset_;
  std::string detail_;
};

// The whole text must be exactly one JSON value with optional surrounding whitespace.
Value parse(std::string_view text, const ParseOptions& options = {});

// Same without throwing ParseError: either a value or the error.
struct ParseResult {
  std::optional<Value> value;
  std::optional<ParseError> error;
  explicit operator bool() const { return value.has_value(); }
};
ParseResult try_parse(std::string_view text, const ParseOptions& options = {});

// ---- writing ----

// Compact (no spaces) when indent < 0; otherwise one member/element per line, indented by
// `indent` spaces per level. Non-finite doubles are written as null; strings that are not valid
// UTF-8 have each bad byte replaced by U+FFFD so the output is always valid JSON.
std::string dump(const Value& value, int indent = -1);
void dump_to(std::string& out, const Value& value, int indent = -1);

// Appends s as a JSON string literal with quotes (the hot path for hand-built replies).
void append_quoted(std::string& out, std::string_view s);
// Appends a double as dump writes it: shortest round trip, always with '.' or 'e' (so it reads
// back as a double), null when not finite.
void append_double(std::string& out, double d);
// The same text written into `out`, which has room for kMaxDoubleText bytes; returns its end.
inline constexpr std::size_t kMaxDoubleText = 32;
char* write_double(char* out, double d);

}  // namespace asyncore::json
