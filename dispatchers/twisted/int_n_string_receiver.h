// IntNStringReceiver: Twisted's length-prefixed string protocol, with the prefix width, byte
// order and whether the prefix counts itself chosen by an IntNFormat. Int8/16/32StringReceiver
// are Twisted's big-endian, uncounted presets. Strings stop being delivered once the transport
// is disconnecting.
#pragma once
#include <cstdint>
#include <string_view>

#include <asyncore/twisted/int_n_string_parser.h>
#include <asyncore/twisted/protocol.h>

namespace asyncore {

class IntNStringReceiver : public Protocol {
 public:
  explicit IntNStringReceiver(IntNFormat format = {});  // throws std::invalid_argument on a bad format

  void data_received(std::string_view data) override;

  virtual void string_received(std::string_view data) = 0;
  // A peer announced a string over max_length bytes. Default: lose the connection.
  virtual void length_limit_exceeded(uint64_t length);
  // With a counted prefix, a length smaller than the prefix. Default: lose the connection.
  virtual void bad_length(uint64_t length);

  // Throws std::length_error if the string is too long for the prefix.
  void send_string(std::string_view data);
  const IntNFormat& format() const { return parser_.format(); }

 private:
  IntNStringParser parser_;
};

class Int8StringReceiver : public IntNStringReceiver {
 public:
  Int8StringReceiver() : IntNStringReceiver({.prefix_bytes = 1}) {}
};
class Int16StringReceiver : public IntNStringReceiver {
 public:
  Int16StringReceiver() : IntNStringReceiver({.prefix_bytes = 2}) {}
};
class Int32StringReceiver : public IntNStringReceiver {
 public:
  Int32StringReceiver() : IntNStringReceiver({.prefix_bytes = 4}) {}
};

}  // namespace asyncore
