#include "apps/barrage/stt_value.h"

#include <stdexcept>

namespace asyncore::barrage {

Map::Map(std::initializer_list<Field> fields) : fields_(fields) {}

Map& Map::add(std::string key, Value value) {
  fields_.push_back(Field{std::move(key), std::move(value)});
  return *this;
}

const Value* Map::find(std::string_view key) const {
  for (const Field& field : fields_) {
    if (field.key == key) return &field.value;
  }
  return nullptr;
}

std::vector<Field>::const_iterator Map::begin() const { return fields_.begin(); }
std::vector<Field>::const_iterator Map::end() const { return fields_.end(); }

bool operator==(const Map& a, const Map& b) { return a.fields_ == b.fields_; }

bool operator==(const Value& a, const Value& b) { return a.data_ == b.data_; }

std::string_view Value::kind() const {
  static constexpr std::string_view kinds[] = {"text", "a map", "a list"};
  return kinds[data_.index()];
}

const std::string& Value::text() const {
  if (!is_text()) throw std::logic_error("STT value is " + std::string(kind()) + ", not text");
  return std::get<std::string>(data_);
}

const Map& Value::map() const {
  if (!is_map()) throw std::logic_error("STT value is " + std::string(kind()) + ", not a map");
  return std::get<Map>(data_);
}

const List& Value::list() const {
  if (!is_list()) throw std::logic_error("STT value is " + std::string(kind()) + ", not a list");
  return std::get<List>(data_);
}

}  // namespace asyncore::barrage
