// Typed, range-checked access to a message's fields. The first problem is kept ("battery must
// be an integer 0..100") so a handler can check everything, then answer 400 with that reason.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <asyncore/json/json.h>

namespace asyncore::device {

enum class Need { required, optional };

class FieldReader {
 public:
  explicit FieldReader(const json::Value& body) : body_(body) {}

  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max, Need need);
  std::optional<double> number(std::string_view key, double min, double max, Need need);
  std::optional<std::string_view> string(std::string_view key, Need need);
  // A string that must be one of `choices`; returns its index.
  std::optional<std::size_t> choice(std::string_view key, std::span<const std::string_view> choices, Need need);
  std::optional<bool> boolean(std::string_view key, Need need);
  bool array(std::string_view key, Need need);  // present and an array

  bool ok() const { return problem_.empty(); }
  const std::string& problem() const { return problem_; }

 private:
  const json::Value* lookup(std::string_view key, Need need);
  void fail(std::string_view key, std::string_view what);
  const json::Value& body_;
  std::string problem_;
};

}  // namespace asyncore::device
