// LineReceiver: Twisted's line-oriented protocol. line_received() gets each line without its
// delimiter; set_raw_mode() sends everything after (even what is already buffered) to
// raw_data_received() until set_line_mode(). Lines stop being delivered once the transport is
// disconnecting.
#pragma once
#include <string>
#include <string_view>

#include <asyncore/twisted/line_parser.h>
#include <asyncore/twisted/protocol.h>

namespace asyncore {

class LineReceiver : public Protocol {
 public:
  static constexpr size_t kDefaultMaxLength = 16384;  // Twisted's MAX_LENGTH

  explicit LineReceiver(std::string delimiter = "\r\n", size_t max_length = kDefaultMaxLength);

  void data_received(std::string_view data) override;

  virtual void line_received(std::string_view line) = 0;
  // Default: throws std::logic_error (a subclass that uses raw mode must override it).
  virtual void raw_data_received(std::string_view data);
  // `data` is everything that was buffered. Default: lose the connection.
  virtual void line_length_exceeded(std::string_view data);

  void set_raw_mode();
  // Back to lines; `extra` is parsed as if it had just arrived.
  void set_line_mode(std::string_view extra = {});
  void send_line(std::string_view line);
  // Hands back and forgets what is buffered and not yet delivered.
  std::string clear_line_buffer() { return parser_.clear(); }

  const std::string& delimiter() const { return parser_.delimiter(); }
  size_t max_length() const { return parser_.max_length(); }
  void set_max_length(size_t max_length) { parser_.set_max_length(max_length); }
  bool line_mode() const { return parser_.line_mode(); }

 private:
  void deliver();
  LineParser parser_;
  bool delivering_ = false;  // set_line_mode from a callback must not recurse
};

}  // namespace asyncore
