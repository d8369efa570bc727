/* pubsub-fanout: the peer rows of the barrage fan-out benchmark (test/bench/bench-barrage-nodes.sh):
 * a broker's own pub/sub fan-out to N subscribers. N subscribers subscribe to one channel (Redis:
 * SUBSCRIBE over RESP2; MQTT: CONNECT then SUBSCRIBE at QoS 0), then one publisher publishes M
 * messages of --size bytes, never more than --window ahead of the slowest subscriber (so no
 * broker output limit is hit). Every message a subscriber receives has the same length, so its
 * messages are counted from its bytes.
 *
 * Prints one line: "subscribers=N messages=M deliveries=D seconds=S deliveries_per_s=X" (seconds:
 * first publish to last delivery). Exit 0 when every subscriber got every message.
 * Plain C, one epoll loop, no library: the load must cost little beside the broker it measures. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int mqtt = 0, port = 0, n_subs = 100, window = 64, size = 300;
static long messages = 1000;
static double timeout = 120;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int connect_to(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("pubsub-fanout: connect");
    exit(2);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      perror("pubsub-fanout: write");
      exit(2);
    }
    p += w;
    n -= (size_t)w;
  }
}

/* MQTT remaining length. */
static size_t put_varint(unsigned char *out, size_t v) {
  size_t n = 0;
  do {
    unsigned char b = v % 128;
    v /= 128;
    out[n++] = b | (v ? 0x80 : 0);
  } while (v);
  return n;
}

/* What a subscriber receives before the first message, what each message takes, and what the
 * publisher sends per message. */
static size_t setup_len, message_len;
static char *publish_bytes;
static size_t publish_len;

static void subscribe(int fd) {
  if (!mqtt) {
    const char *s = "*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n";
    send_all(fd, s, strlen(s));
    return;
  }
  /* CONNECT (MQTT 3.1.1, clean session, keepalive 600, client id empty) then SUBSCRIBE c QoS 0. */
  static const unsigned char connect_packet[] = {0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0x02, 0x58, 0, 0};
  static const unsigned char subscribe_packet[] = {0x82, 6, 0, 1, 0, 1, 'c', 0};
  send_all(fd, (const char *)connect_packet, sizeof connect_packet);
  send_all(fd, (const char *)subscribe_packet, sizeof subscribe_packet);
}

static void prepare(void) {
  char *payload = malloc((size_t)size);
  memset(payload, 'x', (size_t)size);
  if (!mqtt) {
    setup_len = strlen("*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
    char head[64];
    int h = snprintf(head, sizeof head, "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$%d\r\n", size);
    message_len = (size_t)h + (size_t)size + 2;
    int p = snprintf(head, sizeof head, "*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$%d\r\n", size);
    publish_len = (size_t)p + (size_t)size + 2;
    publish_bytes = malloc(publish_len);
    memcpy(publish_bytes, head, (size_t)p);
    memcpy(publish_bytes + p, payload, (size_t)size);
    memcpy(publish_bytes + p + size, "\r\n", 2);
  } else {
    setup_len = 4 + 5; /* CONNACK, SUBACK */
    unsigned char head[8];
    head[0] = 0x30;
    size_t h = 1 + put_varint(head + 1, 2 + 1 + (size_t)size);
    message_len = h + 3 + (size_t)size;
    publish_len = message_len;
    publish_bytes = malloc(publish_len);
    memcpy(publish_bytes, head, h);
    memcpy(publish_bytes + h, "\0\1c", 3);
    memcpy(publish_bytes + h + 3, payload, (size_t)size);
  }
  free(payload);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--mqtt")) { mqtt = 1; continue; }
    if (!strcmp(a, "--redis")) { mqtt = 0; continue; }
    if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--subscribers")) n_subs = atoi(v);
    else if (!strcmp(a, "--messages")) messages = atol(v);
    else if (!strcmp(a, "--size")) size = atoi(v);
    else if (!strcmp(a, "--window")) window = atoi(v);
    else if (!strcmp(a, "--timeout")) timeout = atof(v);
    else {
      fprintf(stderr,
              "usage: pubsub-fanout --redis|--mqtt --port P [--subscribers N] [--messages M] [--size BYTES] "
              "[--window W] [--timeout S]\n");
      return 2;
    }
    ++i;
  }
  if (port <= 0 || n_subs <= 0 || messages <= 0 || size <= 0 || window <= 0) {
    fprintf(stderr, "pubsub-fanout: --port, --subscribers, --messages, --size and --window must be positive\n");
    return 2;
  }
  prepare();
  int epfd = epoll_create1(0);
  int *fds = calloc((size_t)n_subs, sizeof *fds);
  long long *got = calloc((size_t)n_subs, sizeof *got); /* bytes received */
  for (int i = 0; i < n_subs; ++i) {
    fds[i] = connect_to();
    subscribe(fds[i]);
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = (unsigned)i};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i], &e);
  }
  int pub = connect_to();
  if (mqtt) {
    static const unsigned char connect_packet[] = {0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0x02, 0x58, 0, 0};
    send_all(pub, (const char *)connect_packet, sizeof connect_packet);
  }
  struct epoll_event pe = {.events = EPOLLIN, .data.u32 = (unsigned)n_subs};
  epoll_ctl(epfd, EPOLL_CTL_ADD, pub, &pe);

  const long long want = (long long)setup_len + (long long)messages * (long long)message_len;
  long published = 0, done = 0, ready = 0;
  double start = 0, last = 0, deadline = now() + timeout;
  static char buffer[1 << 16];
  struct epoll_event events[256];
  while (done < n_subs && now() < deadline) {
    if (ready == n_subs) {
      /* The slowest subscriber's messages, then publish up to the window ahead of it. */
      long long slowest = want;
      for (int i = 0; i < n_subs; ++i) if (got[i] < slowest) slowest = got[i];
      long behind = (long)((slowest - (long long)setup_len) / (long long)message_len);
      while (published < messages && published - behind < window) {
        if (start == 0) start = now();
        send_all(pub, publish_bytes, publish_len);
        ++published;
      }
    }
    int n = epoll_wait(epfd, events, 256, 100);
    for (int k = 0; k < n; ++k) {
      unsigned i = events[k].data.u32;
      if (i == (unsigned)n_subs) { /* the publisher's acks (Redis' counts): read and dropped */
        if (read(pub, buffer, sizeof buffer) <= 0) { fprintf(stderr, "pubsub-fanout: publisher connection lost\n"); return 1; }
        continue;
      }
      ssize_t r = read(fds[i], buffer, sizeof buffer);
      if (r <= 0) { fprintf(stderr, "pubsub-fanout: subscriber %u lost\n", i); return 1; }
      long long before = got[i];
      got[i] += r;
      if (before < (long long)setup_len && got[i] >= (long long)setup_len) ++ready;
      if (before < want && got[i] >= want) {
        ++done;
        last = now();
      }
    }
  }
  long long deliveries = 0;
  for (int i = 0; i < n_subs; ++i) {
    long long m = (got[i] - (long long)setup_len) / (long long)message_len;
    deliveries += m > 0 ? m : 0;
  }
  double seconds = last > start ? last - start : 0;
  printf("subscribers=%d messages=%ld deliveries=%lld seconds=%.3f deliveries_per_s=%.0f\n", n_subs, messages, deliveries,
         seconds, seconds > 0 ? (double)deliveries / seconds : 0);
  return done == n_subs ? 0 : 1;
}
