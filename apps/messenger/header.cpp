#include "apps/messenger/header.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <unordered_set>

namespace asyncore::messenger {

Header::Header(std::initializer_list<Item> items) {
  for (const auto& [key, value] : items) set(key, value);
}

Header Header::from_items(std::vector<Item> items) {
  // A hash set keeps this linear: a 64 KiB header can hold ~20000 items.
  std::unordered_set<std::string_view> seen;
  seen.reserve(items.size());
  for (const auto& item : items) {
    if (!seen.insert(item.first).second) {
      throw std::invalid_argument("duplicate header key '" + item.first + "'");
    }
  }
  Header header;
  header.items_ = std::move(items);
  return header;
}

void Header::set(std::string_view key, std::string value) {
  auto it = std::find_if(items_.begin(), items_.end(), [&](const Item& item) { return item.first == key; });
  if (it != items_.end()) {
    it->second = std::move(value);
  } else {
    items_.emplace_back(std::string(key), std::move(value));
  }
}

void Header::set_int(std::string_view key, std::int64_t value) { set(key, std::to_string(value)); }

const std::string* Header::find(std::string_view key) const {
  for (const auto& item : items_) {
    if (item.first == key) return &item.second;
  }
  return nullptr;
}

std::string Header::get(std::string_view key, std::string_view fallback) const {
  const std::string* value = find(key);
  return value ? *value : std::string(fallback);
}

std::optional<std::int64_t> Header::get_int(std::string_view key) const {
  const std::string* value = find(key);
  if (!value || value->empty()) return std::nullopt;
  std::int64_t result = 0;
  const char* first = value->data();
  const char* last = first + value->size();
  auto [end, error] = std::from_chars(first, last, result);
  if (error != std::errc() || end != last) return std::nullopt;
  return result;
}

bool Header::erase(std::string_view key) {
  auto it = std::find_if(items_.begin(), items_.end(), [&](const Item& item) { return item.first == key; });
  if (it == items_.end()) return false;
  items_.erase(it);
  return true;
}

}  // namespace asyncore::messenger
