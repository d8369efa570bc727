#include <asyncore/stream/dispatcher_with_send.h>

namespace asyncore {

size_t DispatcherWithSend::send(std::string_view data) {
  if (out_buffer_.empty() && connected) {
    size_t sent = send_unchecked(data);  // the common case: no copy at all
    if (sent < data.size() && is_open()) out_buffer_.append(data.substr(sent));
  } else {
    out_buffer_.append(data);
    if (connected) initiate_send();
  }
  recheck();
  return data.size();
}

void DispatcherWithSend::initiate_send() {
  while (!out_buffer_.empty() && is_open()) {
    size_t sent = send_unchecked(out_buffer_.view().substr(0, 65536));
    if (sent == 0) break;
    out_buffer_.consume(sent);
  }
}

}  // namespace asyncore
