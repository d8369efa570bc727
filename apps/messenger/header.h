// A messenger message header: string keys to string values, in insertion
// order (the order is kept on the wire so frames re-encode byte for byte).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asyncore::messenger {

class Header {
 public:
  using Item = std::pair<std::string, std::string>;
  using const_iterator = std::vector<Item>::const_iterator;

  Header() = default;
  // Items in order; a repeated key keeps its first position and its last value, as set() does.
  Header(std::initializer_list<Item> items);
  // Items in order, in O(n); throws std::invalid_argument naming the first repeated key.
  static Header from_items(std::vector<Item> items);

  // Replaces the value of an existing key in place, or appends the key.
  void set(std::string_view key, std::string value);
  // Integers travel as decimal strings ("-12", "0", "4096").
  void set_int(std::string_view key, std::int64_t value);

  bool contains(std::string_view key) const { return find(key) != nullptr; }
  // The value, or nullptr when the key is absent.
  const std::string* find(std::string_view key) const;
  // The value, or `fallback` when the key is absent.
  std::string get(std::string_view key, std::string_view fallback = {}) const;
  // The value as a decimal integer; nullopt when absent, not decimal or out of range.
  std::optional<std::int64_t> get_int(std::string_view key) const;
  // True when the key was there.
  bool erase(std::string_view key);

  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  const std::vector<Item>& items() const { return items_; }

  bool operator==(const Header&) const = default;

 private:
  std::vector<Item> items_;
};

}  // namespace asyncore::messenger
