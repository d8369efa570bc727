// redis::Client: a Redis connection on the loop, no threads. One socket at a time, replaced by
// the next attempt (Backoff) when it is lost; commands are pipelined and their replies matched
// in order.
//
//   redis::ClientOptions options;
//   options.address = "unix:/run/redis.sock";            // or "host:port"
//   options.password_file = "/etc/app/redis.password";   // read at every connect, never logged
//   redis::Client client(options);
//   client.start();
//   client.command({"SET", "k", "v"}, [](redis::Result& r) { if (!r.ok()) warn(r.error_text()); });
//
// At connect it says HELLO 3 (or nothing, for RESP2), AUTH, CLIENT SETNAME and SELECT as
// configured; commands given meanwhile are held and sent once that worked. Failure semantics:
// - a command written to a connection that is lost, or not answered within its timeout, fails
//   with Outcome::unknown ("may or may not have run") and is never sent again; a late reply to a
//   timed-out command is dropped;
// - a held command that times out, or is held when close() is called, fails with
//   Outcome::not_run;
// - past max_pending commands or max_output bytes, command() refuses at once (Outcome::refused).
// Callbacks run on the loop, also from inside command() (a refusal); they may call command(),
// subscribe() or close(), but must not destroy the client. Destroying it calls no callback.
//
// Kind::pubsub makes a subscriber: subscribe()/psubscribe() are remembered and sent again after
// every reconnect, messages arrive through on_message (RESP3 pushes, or RESP2 message arrays),
// and command() refuses anything else.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include <asyncore/channel_map.h>
#include <asyncore/twisted/backoff.h>
#include <asyncore/stream/client_stream.h>
#include <asyncore/redis/resp.h>

namespace asyncore::redis {

enum class Protocol { resp2, resp3 };
enum class Kind { commands, pubsub };
enum class State { idle, connecting, handshaking, ready, waiting, closed };
const char* state_name(State state);

struct ClientOptions {
  std::string address = "127.0.0.1:6379";  // "host:port", "[::1]:port", "unix:/path" or "/path"
  Protocol protocol = Protocol::resp3;
  Kind kind = Kind::commands;
  std::string username;       // with a password; empty: Redis' "default" user
  std::string password_file;  // first line is the password; empty: no AUTH
  std::string client_name;    // CLIENT SETNAME; empty: none
  int database = 0;           // SELECT when not 0
  double connect_timeout = 5;    // seconds for the connect and the handshake together
  double command_timeout = 5;    // seconds from command() to its reply; 0: none
  size_t max_pending = 100000;   // commands held or in flight (timed-out ones until answered)
  size_t max_output = 16 * 1024 * 1024;  // bytes held or queued to send
  ParserLimits limits;
  bool reconnect = true;
  BackoffPolicy backoff{.initial_delay = 0.05, .factor = 2, .jitter = 0.1, .max_delay = 5};
};

enum class Outcome {
  reply,    // the server answered (perhaps with an error reply)
  refused,  // not accepted: a bound, a closed client, a command a subscriber cannot send
  not_run,  // accepted but never sent
  unknown,  // sent, then the connection was lost or the reply came too late: may or may not have run
};
const char* outcome_name(Outcome outcome);

struct Result {
  Outcome outcome = Outcome::reply;
  Reply reply;        // with Outcome::reply
  std::string error;  // otherwise, why
  bool ok() const { return outcome == Outcome::reply && !reply.is_error(); }
  bool may_have_run() const { return outcome == Outcome::unknown || outcome == Outcome::reply; }
  std::string error_text() const { return outcome == Outcome::reply ? reply.str : error; }
};
using Callback = std::function<void(Result&)>;

struct Message {  // a published message
  std::string_view channel;
  std::string_view payload;
  std::string_view pattern;  // the pattern that matched (psubscribe), or ""
};

struct ClientStats {
  uint64_t commands = 0;    // accepted by command()
  uint64_t replies = 0;     // matched to a command
  uint64_t failures = 0;    // commands that failed without a reply (refused, not_run, unknown)
  uint64_t timeouts = 0;    // of those, by their timeout
  uint64_t connects = 0;    // handshakes completed
  uint64_t disconnects = 0; // connections lost or refused
  uint64_t messages = 0;    // pub/sub messages received
};

class Client {
 public:
  explicit Client(ClientOptions options, ChannelMap* map = nullptr);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void start();  // connects; from idle or closed
  // Fails every command (held: not_run, in flight: unknown), drops the connection, stops
  // reconnecting.
  void close();

  // Returns false when refused (the callback has then been called). timeout < 0: the client's.
  bool command(std::initializer_list<std::string_view> args, Callback callback, double timeout = -1) {
    return command(std::span<const std::string_view>(args.begin(), args.size()), std::move(callback), timeout);
  }
  bool command(std::span<const std::string_view> args, Callback callback, double timeout = -1);
  bool command(std::span<const std::string> args, Callback callback, double timeout = -1);

  // Kind::pubsub only (std::logic_error otherwise). Remembered across reconnects.
  void subscribe(std::string channel);
  void unsubscribe(const std::string& channel);
  void psubscribe(std::string pattern);
  void punsubscribe(const std::string& pattern);
  size_t subscriptions_confirmed() const { return confirmed_; }  // the server's count, this connection

  std::function<void(const Message&)> on_message;
  std::function<void(const Reply&)> on_push;          // every other push (subscribe confirmations, ...)
  std::function<void()> on_ready;                     // after each handshake (and resubscription)
  std::function<void(const std::string&)> on_disconnect;  // why a connection or attempt ended

  State state() const { return state_; }
  bool ready() const { return state_ == State::ready; }
  size_t in_flight() const { return in_flight_.size(); }
  size_t held() const { return held_.size(); }
  const ClientStats& stats() const { return stats_; }
  const ClientOptions& options() const { return options_; }

 private:
  using Connection = ClientStream<Client>;
  friend Connection;
  struct Pending {
    Callback callback;  // empty once failed by its timeout (the reply is then dropped)
    Clock::time_point deadline;  // max() for none
  };
  struct Held {
    std::string bytes;
    Pending pending;
  };

  template <class Args>
  bool submit(const Args& args, Callback& callback, double timeout);
  bool refuse(Callback& callback, std::string why);
  void connect_now();
  void connected();
  void handshake_step(Result& result, const std::string& what, uint64_t serial);
  void become_ready();
  void received(std::string_view bytes);
  void dispatch(Reply& reply);
  void handle_push(const Reply& push);
  void lost(const std::string& reason);
  void drop_connection();
  void fail_all(const std::string& reason, Outcome in_flight_outcome);
  void send_internal(std::span<const std::string_view> args, Callback callback);
  void send_internal(std::initializer_list<std::string_view> args, Callback callback) {
    send_internal(std::span<const std::string_view>(args.begin(), args.size()), std::move(callback));
  }
  void schedule_flush();
  void flush();
  size_t queued_bytes() const;
  void arm_timeouts(Clock::time_point deadline);
  void check_timeouts();
  void write_subscription(std::string_view verb, std::string_view name);
  void require_pubsub() const;
  void resubscribe();
  void set_state(State state);
  Clock::time_point deadline_for(double timeout) const;

  ClientOptions options_;
  ChannelMap* map_;
  State state_ = State::idle;
  std::shared_ptr<Connection> connection_;
  uint64_t serial_ = 0;  // tells a callback that its connection was replaced
  ReplyParser parser_;
  std::string batch_;  // commands of this pass, written together
  std::deque<Pending> in_flight_;  // written, in order
  std::deque<Held> held_;          // waiting for a ready connection
  size_t held_bytes_ = 0;
  size_t handshake_left_ = 0;
  std::set<std::string> channels_, patterns_;
  size_t confirmed_ = 0;
  bool outage_logged_ = false;
  Backoff backoff_;
  ScopedTimer connect_timer_, retry_timer_, timeout_timer_, flush_timer_;
  ClientStats stats_;
};

// Address of "host:port", "[v6]:port", "unix:/path" or "/path" (a host name is looked up,
// blocking). Throws std::invalid_argument saying what is wrong.
Address resolve_endpoint(std::string_view text);

// A Lua script. Its first run on a connection sends it whole (EVAL, which also caches it in
// Redis), later runs only its digest (EVALSHA), so commands keep the order they were given in
// (a NOSCRIPT answered late would put a re-sent EVAL behind commands sent after it). If the
// cache is lost under an open connection (SCRIPT FLUSH), the NOSCRIPT is answered by sending it
// again with EVAL (that one runs after the commands sent meanwhile) and the next run goes whole.
// Remembers one client's connection: used with several clients it sends EVAL more often.
class Script {
 public:
  explicit Script(std::string source);
  const std::string& sha1() const { return sha1_; }
  const std::string& source() const { return source_; }
  bool run(Client& client, std::span<const std::string> keys, std::span<const std::string> args, Callback callback,
           double timeout = -1) const;

 private:
  std::string source_;
  std::string sha1_;
  // The connection (client, handshake number) known to hold the script: a cache, not state.
  mutable const Client* cached_client_ = nullptr;
  mutable uint64_t cached_connection_ = 0;
};

}  // namespace asyncore::redis
