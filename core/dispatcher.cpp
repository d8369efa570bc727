#include <asyncore/dispatcher.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cstring>
#include <system_error>

#include <asyncore/channel_map.h>

namespace asyncore {
namespace {

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

void set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw_errno(errno, "fcntl O_NONBLOCK");
}

constexpr double kAcceptRetrySeconds = 0.1;

}  // namespace

bool is_disconnect_error(int error) {
  switch (error) {
    case ECONNRESET:
    case ENOTCONN:
    case ESHUTDOWN:
    case ECONNABORTED:
    case EPIPE:
    case EBADF:
      return true;
    default:
      return false;
  }
}

Dispatcher::Dispatcher(ChannelMap* map) : map_(map ? map : &socket_map()) {}

Dispatcher::Dispatcher(Fd socket, ChannelMap* map) : map_(map ? map : &socket_map()) {
  set_nonblocking(socket.get());
  addr = Address::peer_of(socket.get());
  connected = !addr.empty();
  set_socket(std::move(socket));
}

Dispatcher::Dispatcher(Fd socket, const Address& peer, ChannelMap* map) : map_(map ? map : &socket_map()) {
  addr = peer;
  connected = !addr.empty();
  set_socket(std::move(socket));
}

Dispatcher::~Dispatcher() {
  if (socket_) map_->del_channel(*this);
}

void Dispatcher::create_socket(int family, int type) {
  int fd = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(errno, "socket");
  set_socket(Fd(fd));
}

void Dispatcher::set_socket(Fd socket) {
  if (socket_) close();
  socket_ = std::move(socket);
  eof_ = false;
  map_->add_channel(*this);
}

void Dispatcher::set_internal_socket(Fd socket) {
  interest_ = Interest::declared;  // the waker and signal pipe never change their answers
  socket_ = std::move(socket);
  map_->add_internal_channel(*this);
}

void Dispatcher::set_reuse_addr() {
  int one = 1;
  ::setsockopt(socket_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
}

void Dispatcher::set_reuse_port() {
  int one = 1;
  if (::setsockopt(socket_.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) throw_errno(errno, "SO_REUSEPORT");
}

void Dispatcher::bind(const Address& address) {
  auto raw = address.raw();
  if (::bind(socket_.get(), raw.get(), raw.length) != 0) throw_errno(errno, "bind " + address.to_string());
  addr = Address::local_of(socket_.get());
}

void Dispatcher::listen(int backlog) {
  if (::listen(socket_.get(), backlog) != 0) throw_errno(errno, "listen");
  accepting = true;
  recheck();
}

void Dispatcher::connect(const Address& address) {
  connected = false;
  connecting = true;
  auto raw = address.raw();
  int rc = ::connect(socket_.get(), raw.get(), raw.length);
  int error = rc == 0 ? 0 : errno;
  if (error == EINPROGRESS || error == EALREADY || error == EWOULDBLOCK) {
    addr = address;
    recheck();
    return;
  }
  if (error == 0 || error == EISCONN) {
    // Connected at once (Unix-domain sockets do). handle_connect() still comes from the loop's
    // next pass (the socket is writable), not from in here: connect() usually runs in a
    // constructor, where a derived class's handle_connect() is not reachable yet.
    addr = address;
    recheck();
    return;
  }
  connecting = false;
  throw_errno(error, "connect " + address.to_string());
}

std::optional<Accepted> Dispatcher::accept() {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int fd = ::accept4(socket_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) {
    if (accept_starved_) {
      accept_starved_ = false;
      log_info(describe() + ": accepting again");
    }
    return Accepted{Fd(fd), Address::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len)};
  }
  switch (errno) {
    case EAGAIN:
    case ECONNABORTED:
    case EINTR:
    case EPROTO:
      return std::nullopt;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      pause_accepting();
      return std::nullopt;
    default:
      throw_errno(errno, "accept");
  }
}

void Dispatcher::pause_accepting() {
  // Out of fds: stop asking for readability (a pending connection would wake us at once,
  // forever) and try again shortly; the connections we have keep being served meanwhile.
  if (accept_paused_) return;
  const int error = errno;  // before anything else can change it
  // One warning per episode: the retries every 100 ms while still out of fds stay quiet (a
  // server out of fds for an hour must not write 36,000 log lines), until accept() works again.
  if (!accept_starved_) {
    log_warning(describe() + ": accept: " + std::strerror(error) + "; pausing accepts, retrying every " +
                std::to_string(static_cast<int>(kAcceptRetrySeconds * 1000)) + " ms");
  }
  accept_starved_ = true;
  accept_paused_ = true;
  recheck();
  // The timer names the channel by fd and generation, so it is harmless if this dispatcher is
  // closed or destroyed before it fires.
  map_->call_later(kAcceptRetrySeconds, [map = map_, fd = socket_.get(), generation = map_->generation_of(socket_.get())] {
    if (Dispatcher* d = map->find(fd); d && map->generation_of(fd) == generation) {
      d->accept_paused_ = false;
      d->recheck();
    }
  });
}

size_t Dispatcher::send(std::string_view data) {
  size_t n = send_unchecked(data);
  if (socket_) map_->mark_dirty(socket_.get());
  return n;
}

size_t Dispatcher::send_failed() {
  int error = errno;
  if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR || error == ENOBUFS) return 0;
  if (is_disconnect_error(error)) {
    handle_close();
    return 0;
  }
  throw_errno(error, "send");
}

size_t Dispatcher::recv_short(ssize_t n, size_t size) {
  if (n == 0) {
    if (size == 0) return 0;
    eof_ = true;
    map_->mark_dirty(socket_.get());
    handle_eof();
    return 0;
  }
  int error = errno;
  if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR) return 0;
  if (is_disconnect_error(error)) {
    handle_close();
    return 0;
  }
  throw_errno(error, "recv");
}

std::string Dispatcher::recv(size_t buffer_size) {
  std::string data(buffer_size, '\0');
  data.resize(recv_into(data.data(), buffer_size));
  return data;
}

void Dispatcher::close() {
  connected = accepting = connecting = false;
  if (!socket_) return;
  map_->del_channel(*this);
  socket_.reset();
}

void Dispatcher::shutdown_write() {
  if (socket_) ::shutdown(socket_.get(), SHUT_WR);
}

void Dispatcher::recheck() {
  if (socket_) map_->mark_dirty(socket_.get());
}

void Dispatcher::set_interest(Interest mode) {
  interest_ = mode;
  // The map enrols a polled dispatcher when it next applies this re-check, and drops a declared
  // one from its polled list when it next walks it.
  if (socket_) map_->push_dirty(socket_.get());
}

void Dispatcher::flush_before_wait() {
  if (socket_) map_->request_flush(socket_.get());
}

void Dispatcher::handle_other_read_event() {
  if (accepting) {
    handle_accept();
  } else if (!connected) {
    if (connecting) {
      // A failed connect is readable too (with epoll, poll and select): it must not look like
      // a successful one. As Python's handle_connect_event, check SO_ERROR first.
      check_connect_error();
      handle_connect_event();
      if (!is_open()) return;
    }
    handle_read();
  } else {
    handle_read();
  }
}

void Dispatcher::handle_connect_event() {
  connected = true;
  connecting = false;
  recheck();
  handle_connect();
}

void Dispatcher::handle_write_event() {
  if (accepting) return;  // listening sockets are never writable
  if (!connected && connecting) {
    check_connect_error();
    handle_connect_event();
    if (!is_open()) return;
  }
  handle_write();
}

void Dispatcher::check_connect_error() {
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  if (error == 0) return;
  // Reading SO_ERROR clears it: stop treating the socket as connecting, so that a later event
  // in the same pass cannot mistake it for a connect that succeeded.
  connecting = false;
  recheck();
  throw_errno(error, "connect " + addr.to_string());
}

void Dispatcher::handle_expt_event() {
  int error = 0;
  socklen_t len = sizeof error;
  ::getsockopt(socket_.get(), SOL_SOCKET, SO_ERROR, &error, &len);
  if (error != 0) handle_close();
  else handle_expt();
}

void Dispatcher::handle_read() { log_info("unhandled read event", LogLevel::debug); }
void Dispatcher::handle_write() { log_info("unhandled write event", LogLevel::debug); }
void Dispatcher::handle_expt() { log_info("unhandled incoming priority event", LogLevel::debug); }
void Dispatcher::handle_connect() { log_info("unhandled connect event", LogLevel::debug); }

void Dispatcher::handle_accept() {
  for (int i = 0; i < accept_batch && accepting && is_open(); ++i) {
    auto pair = accept();
    if (!pair) break;
    handle_accepted(std::move(pair->socket), pair->address);
  }
}

void Dispatcher::handle_accepted(Fd, const Address&) {
  log_info("unhandled accepted event", LogLevel::debug);  // the Fd closes here, as sock.close()
}

void Dispatcher::handle_close() {
  log_info("unhandled close event", LogLevel::debug);
  close();
}

void Dispatcher::handle_error(const std::exception& error) {
  log_error(type_name(typeid(error)) + ": " + error.what() + " in " + describe());
  handle_close();
}

std::string Dispatcher::describe() const {
  return type_name(typeid(*this)) + " fd=" + std::to_string(socket_.get()) + " peer=" + addr.to_string();
}

void Dispatcher::log_info(std::string_view message, LogLevel level) const {
  if (log_enabled(level)) log(level, type_name(typeid(*this)) + ": " + std::string(message));
}

void adopt_dispatcher(const std::shared_ptr<Dispatcher>& dispatcher) { dispatcher->map().adopt(dispatcher); }

}  // namespace asyncore
