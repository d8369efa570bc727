// Client: one Douyu barrage session on the loop, no threads. One connection dispatcher at a
// time; the heartbeat and the login deadline are loop timers; everything the server says comes
// back through callbacks, so a program can embed clients next to its own dispatchers.
//
//   barrage::ClientOptions options;
//   options.room = "58839";
//   barrage::Client client(options);
//   client.on_chat = [](const barrage::ChatMessage& m) { print(m.nickname, m.text); };
//   client.on_error = [](const barrage::ClientError& e) { report(e.code, e.text); };
//   client.start();
//   socket_map().run();
//
// States: idle -> connecting -> logging_in -> joining -> running -> logging_out -> closed, and
// `waiting` between a lost connection and the next attempt when reconnecting is enabled.
// Callbacks run on the loop; they may call logout() but must not destroy the client.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "apps/barrage/packet.h"
#include "apps/barrage/stt.h"
#include <asyncore/asyncore.h>
#include <asyncore/twisted/backoff.h>
#include <asyncore/stream/client_stream.h>

namespace asyncore::barrage {

enum class ClientState { idle, connecting, logging_in, joining, running, logging_out, waiting, closed };
const char* state_name(ClientState state);

// Server error codes (type@=error/code@=N/).
inline constexpr int error_transmission = 51;
inline constexpr int error_server_closing = 52;
inline constexpr int error_bad_room = 204;

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8601;
  std::string room;                // sent as is: the server answers 204 when it is not a room
  double heartbeat = 45.0;         // seconds between mrkl; 0 sends none
  double login_timeout = 10.0;     // seconds to wait for loginres
  bool reconnect = false;          // on 51, 52 or a lost connection
  BackoffPolicy backoff;           // the toolkit's reconnect policy (Twisted's defaults)
  size_t max_packet = default_max_packet_length;
};

// A chat message: views into the decoded fields, valid during the callback.
struct ChatMessage {
  std::string_view room;
  std::string_view nickname;  // nn
  std::string_view text;      // txt
  std::string_view uid;
  std::string_view level;
  const Fields& fields;       // every field, in order
};

// code: the server's code for type@=error, 0 for what the client saw itself (a refused or lost
// connection, a login timeout, a framing error).
struct ClientError {
  int code = 0;
  std::string text;
  bool from_server() const { return code != 0; }
};

class Client {
 public:
  explicit Client(ClientOptions options, ChannelMap* map = nullptr);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void start();   // connects; from idle or closed
  void logout();  // sends logout and closes; no reconnect follows
  void close();   // closes without a word to the server

  ClientState state() const { return state_; }
  const ClientOptions& options() const { return options_; }
  uint64_t messages_received() const { return messages_; }
  uint64_t heartbeats_sent() const { return heartbeats_; }
  int connections() const { return connections_; }  // successful TCP connects so far

  std::function<void(ClientState)> on_state;
  std::function<void(std::string_view type, const Fields& fields)> on_message;  // every message
  std::function<void(const ChatMessage&)> on_chat;
  std::function<void(const ClientError&)> on_error;

 private:
  using Connection = ClientStream<Client>;
  friend Connection;

  void set_state(ClientState state);
  void connect_now();
  void connected();
  void received(std::string_view bytes);
  bool complete_carried(std::string_view& bytes);
  void handle_packet(std::string_view text);
  void handle_server_error();
  void lost(const std::string& reason, int code = 0);
  void fail(int code, const std::string& text);
  void heartbeat();
  void drop_connection();
  void cancel_timers();
  void send_text(std::string_view text);
  void report(int code, const std::string& text);

  ClientOptions options_;
  ChannelMap* map_;
  ClientState state_ = ClientState::idle;
  std::shared_ptr<Connection> connection_;
  uint64_t connection_serial_ = 0;  // tells a callback that its connection was replaced
  std::string carry_;  // the start of a packet that has not fully arrived
  uint64_t stream_offset_ = 0;  // of carry_'s first byte (for error messages)
  Fields fields_;
  Backoff backoff_;
  ScopedTimer heartbeat_timer_, login_timer_, retry_timer_;
  uint64_t messages_ = 0;
  uint64_t heartbeats_ = 0;
  int connections_ = 0;
};

}  // namespace asyncore::barrage
