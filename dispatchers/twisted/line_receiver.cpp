#include <asyncore/twisted/line_receiver.h>

#include <stdexcept>

#include <asyncore/log.h>

namespace asyncore {

LineReceiver::LineReceiver(std::string delimiter, size_t max_length) : parser_(std::move(delimiter), max_length) {}

void LineReceiver::data_received(std::string_view data) {
  parser_.feed(data);
  deliver();
}

void LineReceiver::deliver() {
  if (delivering_) return;  // the loop below is already running and will see the new state
  delivering_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{delivering_};
  while (!(transport && transport->disconnecting())) {
    auto item = parser_.next();
    if (!item) break;
    switch (item->kind) {
      case LineParser::Item::Kind::line: line_received(item->data); break;
      case LineParser::Item::Kind::raw: raw_data_received(item->data); break;
      case LineParser::Item::Kind::too_long: line_length_exceeded(item->data); break;
    }
  }
}

void LineReceiver::raw_data_received(std::string_view) {
  throw std::logic_error(type_name(typeid(*this)) + " uses raw mode but does not override raw_data_received");
}

void LineReceiver::line_length_exceeded(std::string_view data) {
  log_warning(type_name(typeid(*this)) + ": line over " + std::to_string(max_length()) + " bytes (" +
              std::to_string(data.size()) + " buffered) from " + (transport ? transport->get_peer().to_string() : "-") +
              "; closing");
  if (transport) transport->lose_connection();
}

void LineReceiver::set_raw_mode() { parser_.set_raw_mode(); }

void LineReceiver::set_line_mode(std::string_view extra) {
  parser_.set_line_mode();
  if (!extra.empty()) parser_.feed(extra);
  deliver();
}

void LineReceiver::send_line(std::string_view line) {
  if (transport) transport->write_sequence({line, parser_.delimiter()});
}

}  // namespace asyncore
