// Reads douyu-stt-serialize-vectors.json with asyncore::json, turning each "input" into an STT
// value. An object {"pairs": [[k, v], ...]} is an ordered map that may repeat keys; any other
// object is a map in file order; arrays are lists; strings are text; integers are their decimal
// text. Anything else (true, false, null, non-integer numbers) is not expected in the file.
#pragma once
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/barrage/stt_value.h"
#include <asyncore/json/json.h>

namespace stt_vectors {

using asyncore::barrage::List;
using asyncore::barrage::Map;
using asyncore::barrage::Value;
namespace json = asyncore::json;

struct Vector {
  std::string name;
  bool input_is_list = false;
  Value input;
  std::string serialized;
};

inline Value to_stt(const json::Value& value) {
  if (value.is_string()) return Value(value.as_string());
  if (value.is_int()) return Value(std::to_string(value.as_int()));
  if (value.is_uint()) return Value(std::to_string(value.as_uint()));
  if (value.is_array()) {
    List list;
    for (const json::Value& item : value.as_array()) list.push_back(to_stt(item));
    return Value(std::move(list));
  }
  if (!value.is_object()) {
    throw std::runtime_error("vectors JSON: unexpected " + std::string(json::kind_name(value.kind())));
  }
  const json::Object& object = value.as_object();
  Map map;
  if (object.size() == 1 && object.members()[0].key == "pairs" && object.members()[0].value.is_array()) {
    for (const json::Value& pair : object.members()[0].value.as_array()) {
      if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[0].is_string()) {
        throw std::runtime_error("vectors JSON: a \"pairs\" entry is not [key, value]");
      }
      map.add(pair.as_array()[0].as_string(), to_stt(pair.as_array()[1]));
    }
  } else {
    for (const json::Member& member : object) map.add(member.key, to_stt(member.value));
  }
  return Value(std::move(map));
}

inline std::vector<Vector> load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  std::stringstream contents;
  contents << file.rdbuf();
  const json::Value root = json::parse(contents.str());

  std::vector<Vector> vectors;
  for (const json::Value& entry : root.as_object().at("serialize").as_array()) {
    const json::Object& fields = entry.as_object();
    Vector vector;
    vector.name = fields.at("name").as_string();
    vector.input = to_stt(fields.at("input"));
    vector.input_is_list = vector.input.is_list();
    vector.serialized = fields.at("serialized").as_string();
    vectors.push_back(std::move(vector));
  }
  return vectors;
}

}  // namespace stt_vectors
