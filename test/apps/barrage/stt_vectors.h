// Reads douyu-stt-serialize-vectors.json: a tiny JSON reader for that file's
// shape (objects, arrays, strings, integers) turning each "input" into an STT
// value. An object {"pairs": [[k, v], ...]} is an ordered map that may repeat
// keys; any other object is a map in file order; arrays are lists.
#pragma once
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/barrage/stt_value.h"

namespace stt_vectors {

using asyncore::barrage::List;
using asyncore::barrage::Map;
using asyncore::barrage::Value;

struct Vector {
  std::string name;
  bool input_is_list = false;
  Value input;
  std::string serialized;
};

class JsonReader {
 public:
  explicit JsonReader(std::string text) : text_(std::move(text)) {}

  // One JSON value; objects come back as Map, arrays as List, numbers as decimal text.
  Value read_value() {
    skip_space();
    char c = peek();
    if (c == '{') return read_object();
    if (c == '[') return Value(read_array());
    if (c == '"') return Value(read_string());
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return Value(read_integer());
    fail("unexpected character");
  }

  void expect_end() {
    skip_space();
    if (position_ != text_.size()) fail("trailing data");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("vectors JSON: " + what + " at byte " + std::to_string(position_));
  }
  char peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }
  void skip_space() {
    while (position_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[position_]))) ++position_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++position_;
  }
  bool consume(char c) {
    skip_space();
    if (peek() != c) return false;
    ++position_;
    return true;
  }

  Value read_object() {
    expect('{');
    Map map;
    if (!consume('}')) {
      do {
        skip_space();
        std::string key = read_string();
        expect(':');
        map.add(std::move(key), read_value());
      } while (consume(','));
      expect('}');
    }
    if (map.size() == 1 && map.fields()[0].key == "pairs" && map.fields()[0].value.is_list()) {
      return Value(pairs_to_map(map.fields()[0].value.list()));
    }
    return Value(std::move(map));
  }

  Map pairs_to_map(const List& pairs) const {
    Map map;
    for (const Value& pair : pairs) {
      if (!pair.is_list() || pair.list().size() != 2 || !pair.list()[0].is_text()) {
        throw std::runtime_error("vectors JSON: a \"pairs\" entry is not [key, value]");
      }
      map.add(pair.list()[0].text(), pair.list()[1]);
    }
    return map;
  }

  List read_array() {
    expect('[');
    List list;
    if (consume(']')) return list;
    do {
      list.push_back(read_value());
    } while (consume(','));
    expect(']');
    return list;
  }

  std::string read_integer() {
    size_t begin = position_;
    if (peek() == '-') ++position_;
    while (std::isdigit(static_cast<unsigned char>(peek()))) ++position_;
    if (peek() == '.' || peek() == 'e' || peek() == 'E') fail("only integers are expected");
    return text_.substr(begin, position_ - begin);
  }

  std::string read_string() {
    expect('"');
    std::string out;
    while (true) {
      if (position_ >= text_.size()) fail("unterminated string");
      char c = text_[position_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      char escaped = peek();
      ++position_;
      switch (escaped) {
        case '"': case '\\': case '/': out += escaped; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': append_utf8(out, read_code_point()); break;
        default: fail("unknown string escape");
      }
    }
  }

  unsigned read_hex4() {
    if (position_ + 4 > text_.size()) fail("short \\u escape");
    unsigned value = std::stoul(text_.substr(position_, 4), nullptr, 16);
    position_ += 4;
    return value;
  }

  unsigned read_code_point() {
    unsigned unit = read_hex4();
    if (unit >= 0xD800 && unit < 0xDC00 && text_.compare(position_, 2, "\\u") == 0) {
      position_ += 2;
      unsigned low = read_hex4();
      return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    return unit;
  }

  static void append_utf8(std::string& out, unsigned code_point) {
    if (code_point < 0x80) {
      out += static_cast<char>(code_point);
    } else if (code_point < 0x800) {
      out += static_cast<char>(0xC0 | (code_point >> 6));
      out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else if (code_point < 0x10000) {
      out += static_cast<char>(0xE0 | (code_point >> 12));
      out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code_point & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code_point >> 18));
      out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code_point & 0x3F));
    }
  }

  std::string text_;
  size_t position_ = 0;
};

inline std::vector<Vector> load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  std::stringstream contents;
  contents << file.rdbuf();
  JsonReader reader(contents.str());
  Value root = reader.read_value();
  reader.expect_end();

  std::vector<Vector> vectors;
  for (const Value& entry : root.map().find("serialize")->list()) {
    const Map& fields = entry.map();
    Vector vector;
    vector.name = fields.find("name")->text();
    vector.input = *fields.find("input");
    vector.input_is_list = vector.input.is_list();
    vector.serialized = fields.find("serialized")->text();
    vectors.push_back(std::move(vector));
  }
  return vectors;
}

}  // namespace stt_vectors
