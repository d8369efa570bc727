#include "apps/barrage/simulator.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include "apps/barrage/session.h"

namespace asyncore::barrage {

Simulator::Simulator(ServerOptions options, ChannelMap* map)
    : Dispatcher(map), options_(std::move(options)), source_(options_.script, options_.mode == SendMode::large),
      limits_("barrage listener", this->map(), options_.caps),
      partial_input_(options_.max_partial_input),
      partial_log_(this->map(), LogLevel::warning, "clients closed for the partial input budget", 10.0),
      client_log_(this->map(), LogLevel::warning, "malformed, refused or idle clients", 10.0) {
  set_interest(Interest::declared);  // a listener's answers change only with a re-check
  Address address = Address::resolve(options_.host, options_.port);
  create_socket(address.family());
  set_reuse_addr();  // a restarted simulator takes its port back at once
  bind(address);
  listen(4096);
  accept_batch = 256;  // thousands of clients arrive together in the fan-out benchmark
}

Simulator::~Simulator() {
  for (Session* session : sessions_) session->detach();
  sessions_.clear();
}

void Simulator::handle_accepted(Fd socket, const Address& peer) {
  if (shutting_down_) return;
  if (!limits_.admit(peer)) return;  // the socket closes here
  const int fd = socket.get();
  auto session = make<Session>(std::move(socket), *this);
  session->start();
  limits_.track(fd, peer);
  log_debug("connection from " + peer.to_string());
}

void Simulator::partial_input_changed(Session& session, size_t before, size_t now) {
  partial_input_.changed(session, before, now, [this](Session& largest, size_t size) {
    if (partial_log_.admit()) {
      log_warning("closing " + largest.addr.to_string() + ": its unfinished packet (" + std::to_string(size) +
                  " bytes) is the largest while buffered partial input passed " +
                  std::to_string(options_.max_partial_input) + " bytes (--max-partial-input)");
    }
    largest.drop_partial();  // reports its share back through here
  });
}

void Simulator::shutdown() {
  shutting_down_ = true;
  partial_log_.flush();
  client_log_.flush();
  close();
  for (auto& [id, room] : rooms_) room->stop();
  std::vector<Session*> everyone(sessions_.begin(), sessions_.end());
  for (Session* session : everyone) session->say_goodbye();
}

uint64_t Simulator::deliveries() const {
  uint64_t total = 0;
  for (const auto& [id, room] : rooms_) total += room->deliveries();
  return total;
}

std::optional<long long> Simulator::served_room(std::string_view text) const {
  long long id = 0;
  if (text.empty() || text.size() > 18 || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::from_chars(text.data(), text.data() + text.size(), id);
  if (!options_.rooms.empty() && std::find(options_.rooms.begin(), options_.rooms.end(), id) == options_.rooms.end()) {
    return std::nullopt;
  }
  return id;
}

Room& Simulator::room(long long id) {
  auto& slot = rooms_[id];
  if (!slot) slot = std::make_unique<Room>(id, options_, source_, map());
  return *slot;
}

}  // namespace asyncore::barrage
