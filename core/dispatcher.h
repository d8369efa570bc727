// Dispatcher: asyncore.dispatcher in C++. One socket (or pipe) in a channel map; subclasses
// override readable / writable / handle_* exactly as in Python.
//
// Where this differs from Python's asyncore on purpose (see README, "Where this differs from
// Python's asyncore"):
// - writable() is false by default (asyncore says true and spins); a connect in progress is
//   always watched for writability whatever writable() says.
// - readable()/writable() are asked before every wait, as in asyncore (Interest::polled, the
//   default). The library's streams declare their interest instead (Interest::declared): asked
//   only after their own events, sends and recheck() calls, so idle ones cost nothing per pass.
// - recv() at end of stream calls handle_eof() (default: handle_close()), so a half-closed peer
//   can still be written to.
// - handle_accept() accepts a bounded batch per pass; EMFILE pauses accepting briefly.
// - connect() never calls handle_connect() itself, even when the connection completes at once
//   (Unix-domain sockets): the loop does, in its next pass.
// - errors carry the exception: handle_error(const std::exception&).
#pragma once
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <asyncore/address.h>
#include <asyncore/fd.h>
#include <asyncore/log.h>

namespace asyncore {

class ChannelMap;
ChannelMap& socket_map();  // the default map, as asyncore.socket_map

struct Accepted {
  Fd socket;
  Address address;
};

class Dispatcher : public std::enable_shared_from_this<Dispatcher> {
 public:
  explicit Dispatcher(ChannelMap* map = nullptr);
  // Adopts a socket (typically from accept): made non-blocking, registered, and `connected`
  // when it has a peer.
  explicit Dispatcher(Fd socket, ChannelMap* map = nullptr);
  // Adopts a socket straight from accept() (already non-blocking, peer known): no system calls.
  Dispatcher(Fd socket, const Address& peer, ChannelMap* map = nullptr);
  virtual ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // --- the asyncore API --------------------------------------------------------------------
  void create_socket(int family = AF_INET, int type = SOCK_STREAM);
  void set_socket(Fd socket);
  void set_reuse_addr();
  // SO_REUSEPORT: several processes listen on one port and the kernel spreads connections.
  void set_reuse_port();
  void bind(const Address& address);
  void listen(int backlog);
  void connect(const Address& address);
  std::optional<Accepted> accept();  // nullopt when nothing is waiting (or fds ran out)
  // Sends what it can; returns the count (0: try later). A vanished peer leads to handle_close().
  virtual size_t send(std::string_view data);
  // Receives up to n bytes; "" means nothing now, or end of stream (handle_eof() was called),
  // or a vanished peer (handle_close() was called).
  std::string recv(size_t buffer_size);
  size_t recv_into(char* buffer, size_t size) {  // the same without allocating
    // Inline: it is on every message's path; end of stream and errors go out of line.
    ssize_t n = ::recv(socket_.get(), buffer, size, 0);
    return n > 0 ? static_cast<size_t>(n) : recv_short(n, size);
  }
  void close();  // idempotent; safe from any callback

  virtual bool readable() { return true; }
  virtual bool writable() { return false; }
  virtual void handle_read();
  virtual void handle_write();
  virtual void handle_expt();
  virtual void handle_connect();
  virtual void handle_accept();
  virtual void handle_accepted(Fd socket, const Address& address);
  virtual void handle_eof() { handle_close(); }
  virtual void handle_close();
  virtual void handle_error(const std::exception& error);

  // The event entry points the loop calls (asyncore's handle_*_event).
  void handle_read_event() {
    if (connected && !accepting) [[likely]] handle_read();  // the common case, inline
    else handle_other_read_event();
  }
  void handle_write_event();
  void handle_expt_event();
  void handle_connect_event();

  // --- state -------------------------------------------------------------------------------
  bool connected = false;
  bool accepting = false;
  bool connecting = false;
  bool closing = false;  // for subclasses (async_chat's close_when_done; streams set it only there)
  // Listener tuning: connections accepted per readiness event. Declared here, beside the flags,
  // where it fills their padding: every held connection carries a Dispatcher.
  int accept_batch = 64;
  Address addr;          // the peer (or the bound address of a listener)

  int fileno() const { return socket_.get(); }
  bool is_open() const { return static_cast<bool>(socket_); }
  bool at_eof() const { return eof_; }  // the peer will send nothing more
  ChannelMap& map() const { return *map_; }
  // Asks the loop to call readable()/writable() again before it next waits. Needed only by
  // Interest::declared dispatchers; for polled ones it is a no-op in effect.
  void recheck();
  // How the loop learns readable()/writable():
  // - polled (the default, asyncore's meaning): asked before every wait, whatever changed their
  //   answer (a timer, another dispatcher, a thread). Two virtual calls per pass each.
  // - declared: asked only after this dispatcher's own events, its send(), connect()/listen(),
  //   and recheck(): the class calls recheck() whenever their answer changes for another reason.
  //   Costs nothing per pass while idle; every library stream uses it.
  // - rechecked: as declared, but not asked after a read event of a connected socket either: the
  //   class calls recheck() wherever their answer changes, in handle_read() too (BufferedStream
  //   does, so a subclass that adds no readable()/writable() state of its own may choose it).
  //   Saves the two virtual calls per message.
  enum class Interest : uint8_t { polled, declared, rechecked };
  Interest interest() const { return interest_; }
  void log_info(std::string_view message, LogLevel level = LogLevel::info) const;
  std::string describe() const;  // "<Class> fd=N peer=ADDR", for log lines

 protected:
  // send() without asking the loop for a re-check: for subclasses that keep their own output
  // queue and call recheck() whenever it changes. Inline: it is on every message's path.
  size_t send_unchecked(std::string_view data) {
    ssize_t n = ::send(socket_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    return n >= 0 ? static_cast<size_t>(n) : send_failed();
  }
  // The same for several buffers in one system call (writev, without SIGPIPE).
  size_t send_vector_unchecked(const iovec* buffers, size_t count) {
    msghdr message{};
    message.msg_iov = const_cast<iovec*>(buffers);  // msghdr's type; sendmsg only reads it
    message.msg_iovlen = count;
    ssize_t n = ::sendmsg(socket_.get(), &message, MSG_NOSIGNAL);
    return n >= 0 ? static_cast<size_t>(n) : send_failed();
  }
  // Shuts the write side (FIN) once the caller has nothing more to send.
  void shutdown_write();
  // For the loop's own channels (waker, signal pipe): registered, but keeps no loop alive.
  void set_internal_socket(Fd socket);
  // Chosen in the constructor, usually; takes effect before the loop next waits.
  void set_interest(Interest mode);
  // Corking (redis's clients_pending_write): handle_flush() runs once, just before the loop next
  // waits, however often this is called in the pass. Not called if the dispatcher closed.
  void flush_before_wait();
  virtual void handle_flush() {}

 private:
  friend class ChannelMap;
  void pause_accepting();
  size_t send_failed();                       // send_unchecked's EAGAIN and errors
  size_t recv_short(ssize_t n, size_t size);  // recv_into's end of stream, EAGAIN and errors
  void handle_other_read_event();             // accepting, or connecting
  void check_connect_error();  // throws the error of a finished, failed connect
  ChannelMap* map_;
  Fd socket_;
  bool eof_ = false;
  bool accept_paused_ = false;
  bool accept_starved_ = false;  // out of fds since the last accept that worked (logged once)
  Interest interest_ = Interest::polled;  // in the padding after the flags above
};

// Creates a dispatcher that the map owns once it has a socket, so it may be forgotten, as in
// Python: `make<EchoHandler>(std::move(sock));`. The returned pointer may be kept or dropped.
void adopt_dispatcher(const std::shared_ptr<Dispatcher>& dispatcher);
template <class T, class... Args>
std::shared_ptr<T> make(Args&&... args) {
  auto dispatcher = std::make_shared<T>(std::forward<Args>(args)...);
  adopt_dispatcher(dispatcher);
  return dispatcher;
}

// errno values that mean "the peer is gone" (asyncore's _DISCONNECTED).
bool is_disconnect_error(int error);

}  // namespace asyncore
