// LD_PRELOAD fault injector: makes socket and file I/O fail the ways a real kernel may (short
// counts, EINTR, EAGAIN, ECONNRESET, ENOSPC, EMFILE), at random but reproducibly, so the tests can
// check that a program survives them. Only sockets get network faults and only regular files get
// file faults; fds 0-2, pipes, eventfds and anything else pass through untouched (the loop's own
// wake-up and signal pipes, and the `listening` lines the tests read).
//
// Environment:
//   FAULT_SEED   decision stream seed (default 1); the same seed gives the same i-th decision
//   FAULT_RATE   probability that an eligible call fails (default 0.05)
//   FAULT_KINDS  comma list among short,eintr,eagain,econnreset,enospc,emfile (default: all)
//   FAULT_CALLS  comma list of the calls that may fail, e.g. send,recv,fdatasync (default: all)
//   FAULT_LOG    file that gets the counts at exit ("<call> <kind> <n>" lines, then "total N")
//   FAULT_CHILDREN=1  keep LD_PRELOAD for child processes (default: they run without the shim)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

enum kind { K_SHORT, K_EINTR, K_EAGAIN, K_ECONNRESET, K_ENOSPC, K_EMFILE, K_COUNT };
static const char* const kind_names[K_COUNT] = {"short", "eintr", "eagain", "econnreset", "enospc", "emfile"};

enum call {
  C_SEND, C_SENDTO, C_SENDMSG, C_RECV, C_RECVFROM, C_READ, C_WRITE, C_WRITEV, C_PWRITE,
  C_ACCEPT, C_ACCEPT4, C_CONNECT, C_FSYNC, C_FDATASYNC, C_COUNT
};
static const char* const call_names[C_COUNT] = {"send", "sendto", "sendmsg", "recv", "recvfrom", "read", "write", "writev",
                                                "pwrite", "accept", "accept4", "connect", "fsync", "fdatasync"};

static uint64_t seed = 1;
static double rate = 0.05;
static unsigned enabled_kinds = (1u << K_COUNT) - 1;
static unsigned enabled_calls = (1u << C_COUNT) - 1;
static const char* log_path;
static pid_t owner_pid;
static uint64_t decisions;                       // atomic: the position in the decision stream
static uint64_t counts[C_COUNT][K_COUNT];        // atomic
static uint64_t eligible[C_COUNT];               // atomic: calls that could have failed

#define REAL(name) static __typeof__(name)* real_##name; if (!real_##name) real_##name = (__typeof__(name)*)dlsym(RTLD_NEXT, #name)

static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Stateless in the seed and a shared counter, so threads need no lock.
static uint64_t next_random(void) {
  return splitmix64(seed ^ splitmix64(__atomic_fetch_add(&decisions, 1, __ATOMIC_RELAXED)));
}

enum fd_class { FD_OTHER, FD_SOCKET, FD_FILE };

static enum fd_class classify(int fd) {
  if (fd <= 2) return FD_OTHER;
  struct stat st;
  if (fstat(fd, &st) != 0) return FD_OTHER;
  if (S_ISSOCK(st.st_mode)) return FD_SOCKET;
  if (!S_ISREG(st.st_mode)) return FD_OTHER;
  // eventfd, timerfd and friends live on anon_inodefs and may report a regular-file mode.
  struct statfs fs;
  if (fstatfs(fd, &fs) == 0 && fs.f_type == 0x09041934) return FD_OTHER;
  return FD_FILE;
}

static int nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & O_NONBLOCK);
}

static int is_stream(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

// Picks a fault among `allowed` (a bit set of kinds) for this call, or -1 for none.
static int decide(enum call c, unsigned allowed) {
  allowed &= enabled_kinds;
  if (!allowed || !(enabled_calls & (1u << c))) return -1;
  __atomic_fetch_add(&eligible[c], 1, __ATOMIC_RELAXED);
  uint64_t r = next_random();
  if ((double)(r >> 11) / 9007199254740992.0 >= rate) return -1;
  int n = __builtin_popcount(allowed);
  int pick = (int)(next_random() % (uint64_t)n);
  for (int k = 0; k < K_COUNT; ++k) {
    if (!(allowed & (1u << k))) continue;
    if (pick-- == 0) {
      __atomic_fetch_add(&counts[c][k], 1, __ATOMIC_RELAXED);
      return k;
    }
  }
  return -1;
}

#define BIT(k) (1u << (k))

// The faults a network data call on `fd` may get.
static unsigned socket_kinds(int fd, int dontwait) {
  unsigned allowed = BIT(K_SHORT) | BIT(K_EINTR);
  if (dontwait || nonblocking(fd)) allowed |= BIT(K_EAGAIN);
  if (is_stream(fd)) allowed |= BIT(K_ECONNRESET);
  return allowed;
}

static size_t shorter(size_t len) { return len > 1 ? 1 + (size_t)(next_random() % (len - 1)) : len; }

// A reset is real for the peer too: shut the socket so the program cannot keep using it.
static ssize_t fail_reset(int fd) {
  shutdown(fd, SHUT_RDWR);
  errno = ECONNRESET;
  return -1;
}

static ssize_t fail_with(int error) {
  errno = error;
  return -1;
}

// Applies `k` to a socket data call; returns 1 with *result set when the call is answered here,
// 0 when the caller should go on (with *len possibly shortened).
static int socket_fault(int fd, int k, size_t* len, ssize_t* result) {
  switch (k) {
    case K_SHORT: *len = shorter(*len); return 0;
    case K_EINTR: *result = fail_with(EINTR); return 1;
    case K_EAGAIN: *result = fail_with(EAGAIN); return 1;
    case K_ECONNRESET: *result = fail_reset(fd); return 1;
    default: return 0;
  }
}

static int file_fault(int k, size_t* len, ssize_t* result) {
  switch (k) {
    case K_SHORT: *len = shorter(*len); return 0;
    case K_EINTR: *result = fail_with(EINTR); return 1;
    case K_ENOSPC: *result = fail_with(ENOSPC); return 1;
    default: return 0;
  }
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
  REAL(send);
  if (classify(fd) == FD_SOCKET) {
    ssize_t result;
    if (socket_fault(fd, decide(C_SEND, socket_kinds(fd, flags & MSG_DONTWAIT)), &len, &result)) return result;
  }
  return real_send(fd, buf, len, flags);
}

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const struct sockaddr* to, socklen_t tolen) {
  REAL(sendto);
  if (classify(fd) == FD_SOCKET) {
    ssize_t result;
    unsigned allowed = socket_kinds(fd, flags & MSG_DONTWAIT);
    if (!is_stream(fd)) allowed &= ~BIT(K_SHORT);  // a datagram is sent whole or not at all
    if (socket_fault(fd, decide(C_SENDTO, allowed), &len, &result)) return result;
  }
  return real_sendto(fd, buf, len, flags, to, tolen);
}

// Keeps the first `len` bytes of an iovec array in `out` (at most `count` entries); returns the count.
static int trim_iov(const struct iovec* iov, int count, size_t len, struct iovec* out) {
  int n = 0;
  for (; n < count && len > 0; ++n) {
    out[n] = iov[n];
    if (out[n].iov_len > len) out[n].iov_len = len;
    len -= out[n].iov_len;
  }
  return n;
}

static size_t iov_total(const struct iovec* iov, int count) {
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  return total;
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  REAL(sendmsg);
  if (classify(fd) == FD_SOCKET && msg->msg_iovlen <= 1024) {
    size_t total = iov_total(msg->msg_iov, (int)msg->msg_iovlen), len = total;
    ssize_t result;
    unsigned allowed = socket_kinds(fd, flags & MSG_DONTWAIT);
    if (!is_stream(fd)) allowed &= ~BIT(K_SHORT);
    if (socket_fault(fd, decide(C_SENDMSG, allowed), &len, &result)) return result;
    if (len < total) {
      struct iovec trimmed[1024];
      struct msghdr copy = *msg;
      copy.msg_iov = trimmed;
      copy.msg_iovlen = (size_t)trim_iov(msg->msg_iov, (int)msg->msg_iovlen, len, trimmed);
      return real_sendmsg(fd, &copy, flags);
    }
  }
  return real_sendmsg(fd, msg, flags);
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  REAL(recv);
  if (classify(fd) == FD_SOCKET) {
    ssize_t result;
    if (socket_fault(fd, decide(C_RECV, socket_kinds(fd, flags & MSG_DONTWAIT)), &len, &result)) return result;
  }
  return real_recv(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void* buf, size_t len, int flags, struct sockaddr* from, socklen_t* fromlen) {
  REAL(recvfrom);
  if (classify(fd) == FD_SOCKET) {
    ssize_t result;
    unsigned allowed = socket_kinds(fd, flags & MSG_DONTWAIT);
    if (!is_stream(fd)) allowed &= ~BIT(K_SHORT);  // a short datagram read would truncate it
    if (socket_fault(fd, decide(C_RECVFROM, allowed), &len, &result)) return result;
  }
  return real_recvfrom(fd, buf, len, flags, from, fromlen);
}

ssize_t read(int fd, void* buf, size_t len) {
  REAL(read);
  if (classify(fd) == FD_SOCKET) {
    ssize_t result;
    if (socket_fault(fd, decide(C_READ, socket_kinds(fd, 0)), &len, &result)) return result;
  }
  return real_read(fd, buf, len);
}

ssize_t write(int fd, const void* buf, size_t len) {
  REAL(write);
  ssize_t result;
  switch (classify(fd)) {
    case FD_SOCKET:
      if (socket_fault(fd, decide(C_WRITE, socket_kinds(fd, 0)), &len, &result)) return result;
      break;
    case FD_FILE:
      if (file_fault(decide(C_WRITE, BIT(K_SHORT) | BIT(K_EINTR) | BIT(K_ENOSPC)), &len, &result)) return result;
      break;
    case FD_OTHER: break;
  }
  return real_write(fd, buf, len);
}

ssize_t writev(int fd, const struct iovec* iov, int count) {
  REAL(writev);
  enum fd_class c = classify(fd);
  if (c == FD_OTHER || count > 1024) return real_writev(fd, iov, count);
  size_t total = iov_total(iov, count), len = total;
  ssize_t result;
  int k = decide(C_WRITEV, c == FD_SOCKET ? socket_kinds(fd, 0) : BIT(K_SHORT) | BIT(K_EINTR) | BIT(K_ENOSPC));
  if (c == FD_SOCKET ? socket_fault(fd, k, &len, &result) : file_fault(k, &len, &result)) return result;
  if (len < total) {
    struct iovec trimmed[1024];
    return real_writev(fd, trimmed, trim_iov(iov, count, len, trimmed));
  }
  return real_writev(fd, iov, count);
}

ssize_t pwrite(int fd, const void* buf, size_t len, off_t offset) {
  REAL(pwrite);
  if (classify(fd) == FD_FILE) {
    ssize_t result;
    if (file_fault(decide(C_PWRITE, BIT(K_SHORT) | BIT(K_EINTR) | BIT(K_ENOSPC)), &len, &result)) return result;
  }
  return real_pwrite(fd, buf, len, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t len, off_t offset) { return pwrite(fd, buf, len, offset); }

// accept: EINTR, EAGAIN and EMFILE leave the connection queued for a later try, as the kernel does.
static int accept_fault(enum call c, int fd) {
  if (classify(fd) != FD_SOCKET) return -1;
  unsigned allowed = BIT(K_EINTR) | BIT(K_EMFILE) | (nonblocking(fd) ? BIT(K_EAGAIN) : 0);
  switch (decide(c, allowed)) {
    case K_EINTR: return EINTR;
    case K_EAGAIN: return EAGAIN;
    case K_EMFILE: return EMFILE;
    default: return -1;
  }
}

int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  REAL(accept);
  int error = accept_fault(C_ACCEPT, fd);
  if (error >= 0) return (int)fail_with(error);
  return real_accept(fd, addr, len);
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  REAL(accept4);
  int error = accept_fault(C_ACCEPT4, fd);
  if (error >= 0) return (int)fail_with(error);
  return real_accept4(fd, addr, len, flags);
}

int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  REAL(connect);
  if (classify(fd) != FD_SOCKET) return real_connect(fd, addr, len);
  int k = decide(C_CONNECT, BIT(K_EINTR) | (nonblocking(fd) ? BIT(K_EAGAIN) : 0));
  if (k == K_EAGAIN) return (int)fail_with(EAGAIN);  // no free local port / full backlog: nothing started
  int rc = real_connect(fd, addr, len);
  // The kernel goes on connecting after a signal interrupts connect(); so does this.
  if (k == K_EINTR && (rc == 0 || errno == EINPROGRESS)) return (int)fail_with(EINTR);
  return rc;
}

// fsync faults do not call the real one: the data's fate is unknown, as after a real failure.
int fsync(int fd) {
  REAL(fsync);
  if (classify(fd) == FD_FILE) {
    int k = decide(C_FSYNC, BIT(K_EINTR) | BIT(K_ENOSPC));
    if (k == K_EINTR) return (int)fail_with(EINTR);
    if (k == K_ENOSPC) return (int)fail_with(ENOSPC);
  }
  return real_fsync(fd);
}

int fdatasync(int fd) {
  REAL(fdatasync);
  if (classify(fd) == FD_FILE) {
    int k = decide(C_FDATASYNC, BIT(K_EINTR) | BIT(K_ENOSPC));
    if (k == K_EINTR) return (int)fail_with(EINTR);
    if (k == K_ENOSPC) return (int)fail_with(ENOSPC);
  }
  return real_fdatasync(fd);
}

// A comma list of `names` as a bit set.
static unsigned parse_names(const char* variable, const char* text, const char* const* names, int count) {
  unsigned bits = 0;
  char copy[512];
  snprintf(copy, sizeof copy, "%s", text);
  char* save = NULL;
  for (char* word = strtok_r(copy, ", ", &save); word; word = strtok_r(NULL, ", ", &save)) {
    int found = 0;
    for (int i = 0; i < count; ++i) {
      if (strcasecmp(word, names[i]) == 0) bits |= 1u << i, found = 1;
    }
    if (!found) fprintf(stderr, "fault_shim: unknown name '%s' in %s\n", word, variable);
  }
  return bits;
}

__attribute__((constructor)) static void fault_init(void) {
  owner_pid = getpid();
  const char* text;
  if ((text = getenv("FAULT_SEED")) && *text) seed = strtoull(text, NULL, 10);
  if ((text = getenv("FAULT_RATE")) && *text) rate = strtod(text, NULL);
  if ((text = getenv("FAULT_KINDS")) && *text) enabled_kinds = parse_names("FAULT_KINDS", text, kind_names, K_COUNT);
  if ((text = getenv("FAULT_CALLS")) && *text) enabled_calls = parse_names("FAULT_CALLS", text, call_names, C_COUNT);
  if ((text = getenv("FAULT_LOG")) && *text) log_path = strdup(text);
  seed = splitmix64(seed);
  // Jobs a server spawns are not under test; keep them out unless asked.
  if (!((text = getenv("FAULT_CHILDREN")) && strcmp(text, "1") == 0)) unsetenv("LD_PRELOAD");
}

__attribute__((destructor)) static void fault_report(void) {
  if (!log_path || getpid() != owner_pid) return;  // a forked child does not report the parent's counts
  FILE* out = fopen(log_path, "w");
  if (!out) return;
  uint64_t total = 0, calls = 0;
  for (int c = 0; c < C_COUNT; ++c) {
    calls += eligible[c];
    for (int k = 0; k < K_COUNT; ++k) {
      if (!counts[c][k]) continue;
      fprintf(out, "%s %s %llu\n", call_names[c], kind_names[k], (unsigned long long)counts[c][k]);
      total += counts[c][k];
    }
  }
  fprintf(out, "eligible %llu\ntotal %llu\n", (unsigned long long)calls, (unsigned long long)total);
  // fclose writes through write(): the file is regular, so no fault may touch it now.
  rate = 0;
  fclose(out);
}
