#include "apps/device/fields.h"

#include <asyncore/log.h>

#include <cmath>

namespace asyncore::device {
void FieldReader::fail(std::string_view key, std::string_view what) {
  if (problem_.empty()) problem_ = std::string(key) + " " + std::string(what);
}

const json::Value* FieldReader::lookup(std::string_view key, Need need) {
  const json::Value* value = body_.get(key);
  if (!value && need == Need::required) fail(key, "is required");
  return value;
}

std::optional<std::int64_t> FieldReader::integer(std::string_view key, std::int64_t min, std::int64_t max, Need need) {
  const json::Value* value = lookup(key, need);
  if (!value) return std::nullopt;
  if (!value->is_int() || value->as_int() < min || value->as_int() > max) {
    fail(key, "must be an integer " + std::to_string(min) + ".." + std::to_string(max));
    return std::nullopt;
  }
  return value->as_int();
}

std::optional<double> FieldReader::number(std::string_view key, double min, double max, Need need) {
  const json::Value* value = lookup(key, need);
  if (!value) return std::nullopt;
  if (!value->is_number() || !std::isfinite(value->as_double()) || value->as_double() < min || value->as_double() > max) {
    fail(key, "must be a number " + describe_number(min) + ".." + describe_number(max));
    return std::nullopt;
  }
  return value->as_double();
}

std::optional<std::string_view> FieldReader::string(std::string_view key, Need need) {
  const json::Value* value = lookup(key, need);
  if (!value) return std::nullopt;
  if (!value->is_string()) {
    fail(key, "must be a string");
    return std::nullopt;
  }
  return std::string_view(value->as_string());
}

std::optional<std::size_t> FieldReader::choice(std::string_view key, std::span<const std::string_view> choices, Need need) {
  std::optional<std::string_view> text = string(key, need);
  if (!text) return std::nullopt;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    if (choices[i] == *text) return i;
  }
  std::string list;
  for (std::string_view c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  fail(key, "must be one of " + list);
  return std::nullopt;
}

std::optional<bool> FieldReader::boolean(std::string_view key, Need need) {
  const json::Value* value = lookup(key, need);
  if (!value) return std::nullopt;
  if (!value->is_bool()) {
    fail(key, "must be true or false");
    return std::nullopt;
  }
  return value->as_bool();
}

bool FieldReader::array(std::string_view key, Need need) {
  const json::Value* value = lookup(key, need);
  if (!value) return false;
  if (!value->is_array()) {
    fail(key, "must be an array");
    return false;
  }
  return true;
}

}  // namespace asyncore::device
