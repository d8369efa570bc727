// The baseline: the least a correct epoll echo server can do (level-triggered, one read and one
// write per message, a per-connection backlog only when the peer is slow). Deliberately not
// built on the library, so the benchmark measures what the library adds on top.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static volatile sig_atomic_t g_stop = 0;
static void on_term(int) { g_stop = 1; }

int main(int argc, char** argv) {
  int port = argc > 2 && std::strcmp(argv[1], "--port") == 0 ? std::atoi(argv[2]) : 0;
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 1024) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening echo 127.0.0.1:%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::vector<std::string> backlog;  // per fd: bytes the peer has not taken yet
  static char buffer[65536];
  epoll_event events[256];
  while (!g_stop) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        for (int c; (c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          if (static_cast<size_t>(c) >= backlog.size()) backlog.resize(static_cast<size_t>(c) + 1);
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      std::string& pending = backlog[static_cast<size_t>(fd)];
      if (events[i].events & EPOLLOUT) {
        ssize_t w = write(fd, pending.data(), pending.size());
        if (w > 0) pending.erase(0, static_cast<size_t>(w));
        if (pending.empty()) {
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = fd;
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
        }
        continue;
      }
      ssize_t r = read(fd, buffer, sizeof buffer);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        pending.clear();
        close(fd);
        continue;
      }
      ssize_t w = pending.empty() ? write(fd, buffer, static_cast<size_t>(r)) : 0;
      if (w < 0) w = 0;
      if (w < r) {
        bool was_empty = pending.empty();
        pending.append(buffer + w, static_cast<size_t>(r - w));
        if (was_empty) {
          epoll_event cev{};
          cev.events = EPOLLOUT;  // stop reading until the peer catches up
          cev.data.fd = fd;
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
        }
      }
    }
  }
  return 0;
}
