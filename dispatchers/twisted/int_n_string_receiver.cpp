#include <asyncore/twisted/int_n_string_receiver.h>

#include <string>

#include <asyncore/log.h>

namespace asyncore {

IntNStringReceiver::IntNStringReceiver(IntNFormat format) : parser_(format) {}

void IntNStringReceiver::data_received(std::string_view data) {
  parser_.feed(data);
  while (!(transport && transport->disconnecting())) {
    auto item = parser_.next();
    if (!item) break;
    switch (item->kind) {
      case IntNStringParser::Item::Kind::string: string_received(item->data); break;
      case IntNStringParser::Item::Kind::too_long: length_limit_exceeded(item->length); break;
      case IntNStringParser::Item::Kind::bad_length: bad_length(item->length); break;
    }
  }
}

void IntNStringReceiver::length_limit_exceeded(uint64_t length) {
  log_warning(type_name(typeid(*this)) + ": string of " + std::to_string(length) + " bytes over the limit of " +
              std::to_string(format().max_length) + " from " + (transport ? transport->get_peer().to_string() : "-") + "; closing");
  if (transport) transport->lose_connection();
}

void IntNStringReceiver::bad_length(uint64_t length) {
  log_warning(type_name(typeid(*this)) + ": length " + std::to_string(length) + " is shorter than its own " +
              std::to_string(format().prefix_bytes) + "-byte prefix from " +
              (transport ? transport->get_peer().to_string() : "-") + "; closing");
  if (transport) transport->lose_connection();
}

void IntNStringReceiver::send_string(std::string_view data) {
  if (transport) transport->write(IntNStringParser::encode(data, format()));
}

}  // namespace asyncore
