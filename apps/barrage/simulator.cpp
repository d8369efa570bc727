#include "apps/barrage/simulator.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include "apps/barrage/session.h"

namespace asyncore::barrage {

Simulator::Simulator(ServerOptions options, ChannelMap* map, bool reuse_port)
    : map_(map ? *map : socket_map()), options_(std::move(options)),
      source_(options_.script, options_.mode == SendMode::large), rooms_(options_, source_, map_),
      partial_input_(options_.max_partial_input),
      partial_log_(map_, LogLevel::warning, "clients closed for the partial input budget", 10.0),
      client_log_(map_, LogLevel::warning, "malformed, refused or idle clients", 10.0) {
  listener_ = make_server(Address::resolve(options_.host, options_.port),
                          [this](Fd socket, const Address& peer) { accepted(std::move(socket), peer); },
                          ListenerOptions{.name = "barrage listener",
                                          .caps = options_.caps,
                                          .backlog = 4096,
                                          .accept_batch = 256,  // thousands of clients arrive together in the fan-out benchmark
                                          .reuse_port = reuse_port},
                          &map_);
}

Simulator::~Simulator() {
  for (Session* session : sessions_) session->detach();
  sessions_.clear();
  listener_->server_close();
}

void Simulator::accepted(Fd socket, const Address& peer) {
  auto session = make<Session>(std::move(socket), *this);
  session->start();
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
  partial_log_.flush();
  client_log_.flush();
  listener_->server_close();
  rooms_.stop();
  std::vector<Session*> everyone(sessions_.begin(), sessions_.end());
  for (Session* session : everyone) session->say_goodbye();
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

}  // namespace asyncore::barrage
