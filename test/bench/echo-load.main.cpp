// echo-load: the echo benchmark's load generator. Raw epoll (not the library), so it measures
// the server and not itself. Every echoed byte is checked against what was sent.
//
//   echo-load --port P --connections C --depth D --size S --messages N
//       each connection keeps D messages of S bytes in flight until it has had N echoed;
//       prints messages/s, MB/s and latency percentiles.
//   echo-load --port P --connections C --size S --interval I --duration T [--tick MS] --hold
//       opens C connections that each send S bytes every I seconds for T seconds (or until
//       SIGTERM), waits up to 5 s for the echoes still in flight, and prints how many stayed
//       alive with every echo correct. After the last connect it prints "connected C" on stderr.
//       Due messages go out at the next wake-up, at most --tick milliseconds late (default 20),
//       so several together: on loopback the server pays for waking its peer, and a finer tick
//       (sends as spread as real devices') costs it more.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// SIGTERM ends a hold early (the benchmark stops its load processes together).
volatile sig_atomic_t g_stop = 0;
void on_term(int) { g_stop = 1; }

struct Options {
  int port = 0;
  int connections = 1;
  int depth = 1;
  size_t size = 64;
  long messages = 10000;
  bool hold = false;
  double interval = 5;
  double duration = 10;
  int tick_ms = 20;
};

inline unsigned char pattern(uint64_t offset, int conn) {
  return static_cast<unsigned char>((offset * 131 + static_cast<uint64_t>(conn) * 17 + (offset >> 9)) & 0xff);
}

struct Conn {
  int fd = -1;
  int id = 0;
  uint64_t sent = 0;      // stream bytes written
  uint64_t received = 0;  // stream bytes echoed and checked
  long done = 0;          // messages fully echoed
  long started = 0;       // messages begun
  std::deque<Clock::time_point> in_flight;
  std::string unsent;
  bool alive = true;
  bool wants_out = false;
  Clock::time_point next_send;
};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "echo-load: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "echo-load: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") o.port = std::atoi(next());
    else if (a == "--connections") o.connections = std::atoi(next());
    else if (a == "--depth") o.depth = std::atoi(next());
    else if (a == "--size") o.size = std::strtoul(next(), nullptr, 10);
    else if (a == "--messages") o.messages = std::atol(next());
    else if (a == "--hold") o.hold = true;
    else if (a == "--interval") o.interval = std::atof(next());
    else if (a == "--duration") o.duration = std::atof(next());
    else if (a == "--tick") o.tick_ms = std::atoi(next());
    else {
      std::fprintf(stderr, "echo-load: unknown option '%s'\n", a.c_str());
      std::exit(2);
    }
  }
  if (o.port <= 0 || o.connections <= 0 || o.depth <= 0 || o.size == 0 || o.tick_ms <= 0) {
    std::fprintf(stderr, "echo-load: --port, --connections, --depth, --size and --tick must be positive\n");
    std::exit(2);
  }
  return o;
}

class Load {
 public:
  explicit Load(const Options& o) : o_(o), conns_(static_cast<size_t>(o.connections)) {
    ep_ = epoll_create1(0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(o.port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto start = Clock::now();
    for (int i = 0; i < o.connections; ++i) {
      Conn& c = conns_[static_cast<size_t>(i)];
      c.id = i;
      c.fd = socket(AF_INET, SOCK_STREAM, 0);
      if (c.fd < 0) die("socket");
      if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
      int one = 1;
      setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      int flags = 1;
      ioctl_nonblock(c.fd, flags);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
      // Spread held connections' sends over the interval, as real devices would be.
      c.next_send = start + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(o.interval * i / o.connections));
    }
    if (o.hold) std::fprintf(stderr, "connected %d\n", o.connections);
  }

  static void ioctl_nonblock(int fd, int) {
    int fl = fcntl_flags(fd);
    (void)fl;
  }
  static int fcntl_flags(int fd);

  void send_message(Conn& c) {
    std::string msg(o_.size, '\0');
    for (size_t k = 0; k < o_.size; ++k) msg[k] = static_cast<char>(pattern(c.sent + k, c.id));
    c.sent += o_.size;
    c.started++;
    c.in_flight.push_back(Clock::now());
    if (c.unsent.empty()) {
      ssize_t w = write(c.fd, msg.data(), msg.size());
      if (w < 0) w = 0;
      if (static_cast<size_t>(w) < msg.size()) c.unsent.assign(msg, static_cast<size_t>(w));
    } else {
      c.unsent += msg;
    }
    want_out(c, !c.unsent.empty());
  }

  void want_out(Conn& c, bool out) {
    if (out == c.wants_out) return;
    c.wants_out = out;
    epoll_event ev{};
    ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
    ev.data.u32 = static_cast<uint32_t>(c.id);
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void on_readable(Conn& c) {
    char buf[65536];
    ssize_t r = read(c.fd, buf, sizeof buf);
    if (r == 0 || (r < 0 && errno != EAGAIN)) {
      fail(c, "closed by server");
      return;
    }
    if (r < 0) return;
    for (ssize_t k = 0; k < r; ++k) {
      if (static_cast<unsigned char>(buf[k]) != pattern(c.received + static_cast<uint64_t>(k), c.id)) {
        fail(c, "wrong byte echoed");
        return;
      }
    }
    c.received += static_cast<uint64_t>(r);
    auto now = Clock::now();
    while (c.received >= static_cast<uint64_t>(c.done + 1) * o_.size) {
      latencies_.push_back(std::chrono::duration<double, std::micro>(now - c.in_flight.front()).count());
      c.in_flight.pop_front();
      c.done++;
      if (!o_.hold && c.started < o_.messages) send_message(c);
    }
  }

  void wait_and_handle(int timeout_ms) {
    epoll_event events[512];
    int n = epoll_wait(ep_, events, 512, timeout_ms);
    for (int i = 0; i < n; ++i) {
      Conn& c = conns_[events[i].data.u32];
      if (!c.alive) continue;
      if (events[i].events & EPOLLOUT) {
        ssize_t w = write(c.fd, c.unsent.data(), c.unsent.size());
        if (w > 0) c.unsent.erase(0, static_cast<size_t>(w));
        want_out(c, !c.unsent.empty());
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
  }

  void fail(Conn& c, const char* why) {
    if (!c.alive) return;
    c.alive = false;
    failures_++;
    if (failures_ <= 5) std::fprintf(stderr, "echo-load: connection %d: %s\n", c.id, why);
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
  }

  int run() {
    auto start = Clock::now();
    if (!o_.hold) {
      for (auto& c : conns_) {
        for (int d = 0; d < o_.depth && c.started < o_.messages; ++d) send_message(c);
      }
    }
    auto end_at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.duration));
    for (;;) {
      auto now = Clock::now();
      if (o_.hold) {
        if (now >= end_at || g_stop) {
          drain();
          break;
        }
        for (auto& c : conns_) {
          if (c.alive && now >= c.next_send) {
            send_message(c);
            c.next_send += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.interval));
          }
        }
      } else if (finished()) {
        break;
      }
      wait_and_handle(o_.hold ? o_.tick_ms : 1000);
      if (!o_.hold && std::chrono::duration<double>(Clock::now() - start).count() > 600) {
        std::fprintf(stderr, "echo-load: gave up after 600 s\n");
        return 1;
      }
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    report(seconds);
    return failures_ == 0 ? 0 : 1;
  }

  // The end of a hold: no new messages; the echoes still in flight get up to 5 s to arrive, so a
  // message sent just before the end does not count its connection as dead.
  void drain() {
    auto give_up = Clock::now() + std::chrono::seconds(5);
    while (in_flight() > 0 && Clock::now() < give_up) wait_and_handle(20);
  }

  long in_flight() const {
    long n = 0;
    for (auto& c : conns_) n += c.alive && c.done < c.started;
    return n;
  }

  bool finished() const {
    for (auto& c : conns_) {
      if (c.alive && c.done < o_.messages) return false;
    }
    return true;
  }

  void report(double seconds) {
    long messages = 0, alive = 0;
    for (auto& c : conns_) {
      messages += c.done;
      alive += c.alive && c.done == c.started;
    }
    std::sort(latencies_.begin(), latencies_.end());
    auto pct = [&](double p) { return latencies_.empty() ? 0.0 : latencies_[static_cast<size_t>(p * static_cast<double>(latencies_.size() - 1))]; };
    std::printf("connections=%d alive=%ld messages=%ld seconds=%.3f msgs_per_s=%.0f MB_per_s=%.2f p50_us=%.1f p99_us=%.1f failures=%ld\n",
                o_.connections, alive, messages, seconds, static_cast<double>(messages) / seconds,
                static_cast<double>(messages) * static_cast<double>(o_.size) / seconds / 1e6, pct(0.50), pct(0.99), failures_);
  }

 private:
  Options o_;
  std::vector<Conn> conns_;
  int ep_;
  std::vector<double> latencies_;
  long failures_ = 0;
};

}  // namespace

#include <fcntl.h>
int Load::fcntl_flags(int fd) { return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
  Load load(o);
  return load.run();
}
