// Simulator: the Douyu barrage server as it is known to behave, for tests, demos and load. The
// listener owns the rooms and knows every session, so it can say goodbye (error 52) to all of
// them when it stops.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "apps/barrage/generator.h"
#include "apps/barrage/room.h"
#include "apps/barrage/server_options.h"
#include <asyncore/asyncore.h>
#include <asyncore/net/input_budget.h>
#include <asyncore/rate_limited_log.h>

namespace asyncore::barrage {

class Session;

class Simulator final : public Dispatcher {
 public:
  explicit Simulator(ServerOptions options, ChannelMap* map = nullptr);
  ~Simulator() override;

  void handle_accepted(Fd socket, const Address& peer) override;
  // Stops accepting and broadcasting, sends error 52 to every client and closes each once its
  // output is flushed.
  void shutdown();

  const ServerOptions& options() const { return options_; }
  const MessageSource& source() const { return source_; }
  // Connections past options().caps are closed at accept, counted here and logged.
  const ConnectionLimits& limits() const { return limits_; }
  size_t session_count() const { return sessions_.size(); }
  uint64_t deliveries() const;

  // The room id when `text` names a room this server serves.
  std::optional<long long> served_room(std::string_view text) const;
  Room& room(long long id);

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
  ServerOptions options_;
  MessageSource source_;
  ConnectionLimits limits_;
  std::map<long long, std::unique_ptr<Room>> rooms_;
  std::unordered_set<Session*> sessions_;
  InputBudget<Session> partial_input_;
  RateLimitedLog partial_log_;
  RateLimitedLog client_log_;
  bool shutting_down_ = false;
};

}  // namespace asyncore::barrage
