// Simulator: the Douyu barrage server as it is known to behave, for tests, demos and load. It
// accepts through a TcpServer, keeps the rooms in a RoomRegistry and knows every session, so it
// can say goodbye (error 52) to all of them when it stops.
#pragma once
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "apps/barrage/generator.h"
#include "apps/barrage/room_registry.h"
#include "apps/barrage/server_options.h"
#include <asyncore/asyncore.h>
#include <asyncore/net/input_budget.h>
#include <asyncore/net/tcp_server.h>
#include <asyncore/rate_limited_log.h>

namespace asyncore::barrage {

class Session;

class Simulator {
 public:
  // reuse_port: the port is shared with sibling worker processes (--workers).
  explicit Simulator(ServerOptions options, ChannelMap* map = nullptr, bool reuse_port = false);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Stops accepting and broadcasting, sends error 52 to every client and closes each once its
  // output is flushed.
  void shutdown();

  ChannelMap& map() { return map_; }
  const Address& address() const { return listener_->server_address; }
  const ServerOptions& options() const { return options_; }
  const MessageSource& source() const { return source_; }
  // Connections past options().caps are closed at accept, counted here and logged.
  const ConnectionLimits& limits() const { return listener_->limits(); }
  size_t session_count() const { return sessions_.size(); }
  uint64_t deliveries() const { return rooms_.deliveries(); }
  RoomRegistry& rooms() { return rooms_; }

  // The room id when `text` names a room this server serves.
  std::optional<long long> served_room(std::string_view text) const;

  // Sessions register themselves.
  void add(Session& session) { sessions_.insert(&session); }
  void forget(Session& session) { sessions_.erase(&session); }
  // A session's unfinished packet is now `now` bytes (it was `before`). Past
  // options().max_partial_input in all, the session holding the most is closed: one client
  // trickling huge packets cannot make the server hold memory for everyone's.
  void partial_input_changed(Session& session, size_t before, size_t now);
  size_t partial_input() const { return partial_input_.total(); }
  // Lines any client can trigger at will (malformed packets, refused rooms, idle kicks).
  RateLimitedLog& client_log() { return client_log_; }

 private:
  void accepted(Fd socket, const Address& peer);

  ChannelMap& map_;
  ServerOptions options_;
  MessageSource source_;
  RoomRegistry rooms_;
  std::unordered_set<Session*> sessions_;
  InputBudget<Session> partial_input_;
  RateLimitedLog partial_log_;
  RateLimitedLog client_log_;
  std::shared_ptr<TcpServer> listener_;
};

}  // namespace asyncore::barrage
