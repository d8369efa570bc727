// The values STT carries: text, an ordered map (duplicate keys allowed), or a
// list. Plain value types, built with brace initialisers:
//   Map{{"type", "joingroup"}, {"rid", 58839}, {"gid", -9999}}
//   Map{{"el", List{Map{{"eid", 1}, {"etp", 1}}}}}
#pragma once
#include <charconv>
#include <concepts>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace asyncore::barrage {

class Value;
struct Field;
using List = std::vector<Value>;

// Pairs in insertion order; lookups return the first of duplicate keys.
class Map {
 public:
  Map() = default;
  Map(std::initializer_list<Field> fields);

  Map& add(std::string key, Value value);  // appends, even when the key exists
  const Value* find(std::string_view key) const;  // first match or nullptr
  const std::vector<Field>& fields() const { return fields_; }
  size_t size() const;
  bool empty() const;
  std::vector<Field>::const_iterator begin() const;
  std::vector<Field>::const_iterator end() const;

  friend bool operator==(const Map& a, const Map& b);

 private:
  std::vector<Field> fields_;
};

class Value {
 public:
  // Defined below Field: building the variant instantiates Map members that need Field complete.
  Value();  // empty text
  Value(std::string text);
  Value(std::string_view text);
  Value(const char* text);
  // Numbers travel as decimal text (gid@=-9999); bool is excluded on purpose.
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  Value(T number);
  Value(Map map);
  Value(List list);

  bool is_text() const { return data_.index() == 0; }
  bool is_map() const { return data_.index() == 1; }
  bool is_list() const { return data_.index() == 2; }
  // These throw std::logic_error naming both kinds when the value holds another kind.
  const std::string& text() const;
  const Map& map() const;
  const List& list() const;

  friend bool operator==(const Value& a, const Value& b);

 private:
  template <std::integral T>
  static std::string decimal(T number) {
    char digits[24];
    auto result = std::to_chars(digits, digits + sizeof digits, number);
    return std::string(digits, result.ptr);
  }
  std::string_view kind() const;

  std::variant<std::string, Map, List> data_;
};

struct Field {
  std::string key;
  Value value;
  friend bool operator==(const Field& a, const Field& b) = default;
};

inline size_t Map::size() const { return fields_.size(); }
inline bool Map::empty() const { return fields_.empty(); }

inline Value::Value() = default;
inline Value::Value(std::string text) : data_(std::move(text)) {}
inline Value::Value(std::string_view text) : data_(std::string(text)) {}
inline Value::Value(const char* text) : data_(std::string(text)) {}
template <std::integral T>
  requires(!std::same_as<T, bool>)
Value::Value(T number) : data_(decimal(number)) {}
inline Value::Value(Map map) : data_(std::move(map)) {}
inline Value::Value(List list) : data_(std::move(list)) {}

}  // namespace asyncore::barrage
