/* mqtt-load: the MQTT side of the device benchmark (test/bench/mqtt-peer.sh). N clients play
 * devices on an MQTT broker the way device-emulator plays them on device-server: each connects
 * (CONNECT with keepalive, clean session), subscribes to its command topic d/<i>/c (QoS 1), then
 * heartbeats (PINGREQ) every --interval seconds, spread evenly over the interval. With
 * --round-trips R a controller client also runs R command round trips one after another: a QoS 1
 * publish to d/<i>/c, which the device acks (PUBACK) and answers with a QoS 1 publish to d/<i>/r,
 * which the controller (subscribed to d/+/r) receives and acks.
 *
 * Prints "all connected N in S s" once every client is subscribed, then at the end one line:
 * "summary clients=N pings=P pongs=Q round_trips=R us_per_round_trip=U failures=F".
 * Plain C, one epoll loop, no library: the load must cost little beside the broker it measures. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { IN_MAX = 512, WINDOW = 512 };
enum state { IDLE, CONNECTING, WAIT_CONNACK, WAIT_SUBACK, READY, GONE };

struct client {
  int fd;
  enum state state;
  int in_len;
  unsigned char in[IN_MAX];
};

static struct client *clients;  /* clients[0..n-1]: devices; clients[n]: the controller */
static int n_clients = 1, port = 1883, epfd, ready = 0, in_flight = 0, launched = 0;
static double interval = 5, duration = 0;
static long round_trips_wanted = 0, round_trips = 0, pings = 0, pongs = 0, failures = 0;
static struct in_addr host, source;
static int have_source = 0;
static volatile sig_atomic_t stop_requested = 0;
static uint16_t ctl_packet_id = 0;
static int rt_waiting = 0;  /* a round trip is under way: its answer not yet received */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void fail(struct client *c, const char *why) {
  if (c->state == GONE) return;
  if (failures < 5) fprintf(stderr, "mqtt-load: client %ld: %s\n", (long)(c - clients), why);
  ++failures;
  if (c->state != READY) --in_flight;
  else --ready;
  c->state = GONE;
  close(c->fd);
}

static void send_bytes(struct client *c, const unsigned char *bytes, size_t n) {
  /* Everything sent is a few dozen bytes: a short write on loopback means a broken client. */
  if (c->state == GONE) return;
  ssize_t sent = send(c->fd, bytes, n, MSG_NOSIGNAL);
  if (sent != (ssize_t)n) fail(c, "short send");
}

/* Fixed header byte, remaining length (one byte: every packet here is under 128 bytes), body. */
static size_t packet(unsigned char *out, unsigned char type, const unsigned char *body, size_t n) {
  out[0] = type;
  out[1] = (unsigned char)n;
  memcpy(out + 2, body, n);
  return n + 2;
}

static size_t put_string(unsigned char *out, const char *s) {
  size_t n = strlen(s);
  out[0] = (unsigned char)(n >> 8);
  out[1] = (unsigned char)n;
  memcpy(out + 2, s, n);
  return n + 2;
}

static void send_connect(struct client *c, const char *id) {
  unsigned char body[96], out[128];
  size_t n = put_string(body, "MQTT");
  int keepalive = (int)(3 * interval) < 10 ? 10 : (int)(3 * interval);
  body[n++] = 4;     /* protocol level: 3.1.1 */
  body[n++] = 0x02;  /* clean session */
  body[n++] = (unsigned char)(keepalive >> 8);
  body[n++] = (unsigned char)keepalive;
  n += put_string(body + n, id);
  send_bytes(c, out, packet(out, 0x10, body, n));
}

static void send_publish(struct client *c, const char *topic, uint16_t id, const char *payload) {
  unsigned char body[96], out[128];
  size_t n = put_string(body, topic);
  body[n++] = (unsigned char)(id >> 8);
  body[n++] = (unsigned char)id;
  size_t p = strlen(payload);
  memcpy(body + n, payload, p);
  send_bytes(c, out, packet(out, 0x32, body, n + p));  /* PUBLISH, QoS 1 */
}

static void send_puback(struct client *c, uint16_t id) {
  unsigned char out[4] = {0x40, 2, (unsigned char)(id >> 8), (unsigned char)id};
  send_bytes(c, out, sizeof out);
}

static void start_round_trip(void) {
  struct client *ctl = &clients[n_clients];
  char topic[32];
  snprintf(topic, sizeof topic, "d/%ld/c", round_trips % n_clients);
  ctl_packet_id = (uint16_t)(ctl_packet_id == 65535 ? 1 : ctl_packet_id + 1);
  rt_waiting = 1;
  send_publish(ctl, topic, ctl_packet_id, "{\"type\":104,\"text\":\"bench\"}");
}

static void launch(int i) {
  struct client *c = &clients[i];
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = host};
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  c->state = CONNECTING;
  ++in_flight;
  if (c->fd < 0) {
    c->fd = -1;
    fail(c, "socket");
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (have_source) {
    /* The port is picked at connect() for the whole 4-tuple, as device-emulator --source does. */
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr = source};
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(c->fd, (struct sockaddr *)&from, sizeof from) != 0) {
      fail(c, strerror(errno));
      return;
    }
  }
  if (connect(c->fd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS) {
    fail(c, strerror(errno));
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void launch_more(void) {
  while (in_flight < WINDOW && launched <= n_clients) launch(launched++);
}

/* One complete packet from the broker. */
static void handle_packet(struct client *c, int i, const unsigned char *p, size_t body_len) {
  const unsigned char *body = p;
  unsigned char type = (unsigned char)(c->in[0] >> 4);
  if (type == 2 && c->state == WAIT_CONNACK) {  /* CONNACK */
    if (body_len < 2 || body[1] != 0) return fail(c, "connection refused");
    unsigned char sub[64], out[80];
    char filter[32];
    if (i == n_clients) snprintf(filter, sizeof filter, "d/+/r");
    else snprintf(filter, sizeof filter, "d/%d/c", i);
    sub[0] = 0;
    sub[1] = 1;
    size_t n = 2 + put_string(sub + 2, filter);
    sub[n++] = 1;  /* QoS 1 */
    c->state = WAIT_SUBACK;
    send_bytes(c, out, packet(out, 0x82, sub, n));
  } else if (type == 9 && c->state == WAIT_SUBACK) {  /* SUBACK */
    if (body_len < 3 || body[2] > 2) return fail(c, "subscription refused");
    c->state = READY;
    --in_flight;
    ++ready;
    launch_more();
  } else if (type == 13) {  /* PINGRESP */
    ++pongs;
  } else if (type == 3) {  /* PUBLISH */
    size_t topic_len = (size_t)body[0] << 8 | body[1];
    unsigned char qos = (unsigned char)((c->in[0] >> 1) & 3);
    if (2 + topic_len + (qos ? 2 : 0) > body_len) return fail(c, "bad PUBLISH");
    uint16_t id = qos ? (uint16_t)(body[2 + topic_len] << 8 | body[3 + topic_len]) : 0;
    if (qos) send_puback(c, id);
    if (i == n_clients) {  /* the controller: a device's answer */
      if (rt_waiting) {
        rt_waiting = 0;
        ++round_trips;
        if (round_trips < round_trips_wanted) start_round_trip();
      }
    } else {  /* a device: a command; answer it as the device would */
      char topic[32];
      snprintf(topic, sizeof topic, "d/%d/r", i);
      send_publish(c, topic, id ? id : 1, "{\"type\":104,\"status\":200}");
    }
  }
  /* PUBACKs for our own publishes need nothing. */
}

static void handle_input(struct client *c, int i) {
  for (;;) {
    const size_t room = IN_MAX - (size_t)c->in_len;
    ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
    if (n == 0) return fail(c, "closed by the broker");
    if (n < 0) {
      if (errno != EAGAIN) fail(c, "recv");
      return;
    }
    c->in_len += (int)n;
    for (;;) {
      /* Remaining length: a varint of up to 4 bytes. */
      size_t len = 0, used = 1;
      int shift = 0, complete = 0;
      while ((int)used < c->in_len && used <= 4) {
        unsigned char b = c->in[used++];
        len |= (size_t)(b & 127) << shift;
        shift += 7;
        if (!(b & 128)) {
          complete = 1;
          break;
        }
      }
      if (!complete) break;
      if (used + len > IN_MAX) return fail(c, "packet too large");
      if ((size_t)c->in_len < used + len) break;
      handle_packet(c, i, c->in + used, len);
      if (c->state == GONE) return;
      memmove(c->in, c->in + used + len, (size_t)c->in_len - used - len);
      c->in_len -= (int)(used + len);
    }
    if ((size_t)n < room) return;  /* drained: no second recv just to hear EAGAIN */
  }
}

static int parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help")) {
      printf("usage: mqtt-load --port P [--host A] [--source A] [--clients N] [--interval S] [--duration S] "
             "[--round-trips R]\n");
      exit(0);
    }
    if (!v) break;
    ++i;
    if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--host")) { if (inet_pton(AF_INET, v, &host) != 1) return -1; }
    else if (!strcmp(a, "--source")) { if (inet_pton(AF_INET, v, &source) != 1) return -1; have_source = 1; }
    else if (!strcmp(a, "--clients")) n_clients = atoi(v);
    else if (!strcmp(a, "--interval")) interval = atof(v);
    else if (!strcmp(a, "--duration")) duration = atof(v);
    else if (!strcmp(a, "--round-trips")) round_trips_wanted = atol(v);
    else return -1;
  }
  return port > 0 && port < 65536 && n_clients > 0 && interval > 0 && duration >= 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  inet_pton(AF_INET, "127.0.0.1", &host);
  if (parse_args(argc, argv) != 0) {
    fprintf(stderr, "mqtt-load: bad arguments (see --help)\n");
    return 2;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  clients = calloc((size_t)n_clients + 1, sizeof *clients);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (!clients || epfd < 0) return 1;
  const double start = now();
  launch_more();
  double beat_start = 0, rt_start = 0, rt_end = 0;
  long beat = 0;  /* heartbeats due so far, client beat % n_clients next */
  struct epoll_event events[256];
  while (!stop_requested) {
    int timeout = 100;
    if (beat_start > 0) {
      const double t = now() - beat_start;
      if (duration > 0 && t >= duration && (round_trips >= round_trips_wanted || failures)) break;
      /* Heartbeat k is due at k * interval / n: every client once per interval, evenly spread. */
      for (long due = (long)(t * n_clients / interval); beat < due; ++beat) {
        struct client *c = &clients[beat % n_clients];
        if (c->state != READY) continue;
        static const unsigned char ping[2] = {0xC0, 0};
        send_bytes(c, ping, sizeof ping);
        ++pings;
      }
      timeout = (int)(1000.0 * ((double)(beat + 1) * interval / n_clients - t)) + 1;
      if (timeout > 100) timeout = 100;
      if (duration == 0 && round_trips_wanted > 0 && round_trips >= round_trips_wanted) break;
    }
    int n = epoll_wait(epfd, events, 256, timeout);
    for (int e = 0; e < n; ++e) {
      const int i = (int)events[e].data.u32;
      struct client *c = &clients[i];
      if (c->state == GONE) continue;
      if (c->state == CONNECTING && (events[e].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int error = 0;
        socklen_t len = sizeof error;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error) {
          fail(c, strerror(error));
          continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->state = WAIT_CONNACK;
        char id[32];
        if (i == n_clients) snprintf(id, sizeof id, "ctl");
        else snprintf(id, sizeof id, "d%d", i);
        send_connect(c, id);
      }
      if (events[e].events & EPOLLIN) handle_input(c, i);
    }
    if (beat_start == 0 && ready + (int)failures >= n_clients + 1 && launched > n_clients) {
      if (failures) break;
      printf("all connected %d in %.2f s\n", n_clients, now() - start);
      fflush(stdout);
      beat_start = now();
      if (round_trips_wanted > 0) {
        rt_start = now();
        start_round_trip();
      }
    }
    if (rt_end == 0 && round_trips_wanted > 0 && round_trips >= round_trips_wanted) rt_end = now();
  }
  if (rt_end == 0) rt_end = now();
  const unsigned char disconnect[2] = {0xE0, 0};
  for (int i = 0; i <= n_clients; ++i) {
    if (clients[i].state == READY) send_bytes(&clients[i], disconnect, sizeof disconnect);
    if (clients[i].state != GONE && clients[i].state != IDLE) close(clients[i].fd);
  }
  printf("summary clients=%d pings=%ld pongs=%ld round_trips=%ld us_per_round_trip=%.1f failures=%ld\n", n_clients, pings,
         pongs, round_trips, round_trips ? 1e6 * (rt_end - rt_start) / (double)round_trips : 0.0, failures);
  return failures ? 1 : 0;
}
