#include <asyncore/twisted/protocol.h>

#include <stdexcept>

#include <asyncore/log.h>

namespace asyncore {

void Transport::write_sequence(std::initializer_list<std::string_view> parts) {
  for (std::string_view part : parts) write(part);
}

void Transport::write_sequence(std::span<const std::string> parts) {
  for (const std::string& part : parts) write(part);
}

void Protocol::make_connection(std::shared_ptr<Transport> new_transport) {
  transport = std::move(new_transport);
  connected = true;
  connection_made();
}

std::shared_ptr<Protocol> Factory::build_protocol(const Address&) {
  if (!protocol) {
    throw std::logic_error(type_name(typeid(*this)) + "::build_protocol: set `protocol` or override build_protocol");
  }
  std::shared_ptr<Protocol> built = protocol();
  if (built) built->factory = this;
  return built;
}

void Factory::do_start() {
  if (ports_in_use_++ == 0) start_factory();
}

void Factory::do_stop() {
  if (ports_in_use_ == 0) return;  // unbalanced stop: nothing was started
  if (--ports_in_use_ == 0) stop_factory();
}

}  // namespace asyncore
