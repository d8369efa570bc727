// IntNStringParser: the framing of Twisted's IntNStringReceiver without the socket: each string
// is preceded by its length as an 8, 16 or 32-bit unsigned integer, big or little endian, the
// prefix itself counted in the length or not.
//
// next() hands back one complete string at a time. A length over max_length (Kind::too_long) or,
// with a counted prefix, a length smaller than the prefix itself (Kind::bad_length) cannot be
// skipped safely, so the parser then stops: failed() is true and it ignores further input.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace asyncore {

struct IntNFormat {
  unsigned prefix_bytes = 4;                 // 1, 2 or 4
  std::endian byte_order = std::endian::big;  // Twisted's "!" formats are big endian
  bool prefix_counted = false;               // the length includes the prefix's own bytes
  size_t max_length = 99999;                 // longest string accepted (Twisted's MAX_LENGTH)

  // Throws std::invalid_argument naming the bad field.
  void validate() const;
  // The largest string the prefix can describe.
  uint64_t max_encodable() const;
};

class IntNStringParser {
 public:
  struct Item {
    enum class Kind { string, too_long, bad_length };
    Kind kind;
    std::string data;  // the string (Kind::string)
    uint64_t length;   // the string's length as the prefix gave it (without a counted prefix)
    bool operator==(const Item&) const = default;
  };

  explicit IntNStringParser(IntNFormat format = {});

  void feed(std::string_view data);
  std::optional<Item> next();
  bool failed() const { return failed_; }
  size_t buffered() const { return buffer_.size() - begin_; }
  const IntNFormat& format() const { return format_; }

  // The prefix and `payload`; throws std::length_error if the prefix cannot hold its length.
  static std::string encode(std::string_view payload, const IntNFormat& format);

 private:
  uint64_t read_prefix(const char* bytes) const;
  IntNFormat format_;
  std::string buffer_;
  size_t begin_ = 0;
  bool failed_ = false;
};

}  // namespace asyncore
