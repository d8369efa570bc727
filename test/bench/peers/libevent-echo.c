/* A peer for the echo benchmark: the same echo server on libevent 2.1 bufferevents.
 * Built by test/bench/run-bench.sh (it links -levent), never by the product's Makefile. */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_read(struct bufferevent *bev, void *ctx) {
  (void)ctx;
  evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void on_event(struct bufferevent *bev, short events, void *ctx) {
  (void)ctx;
  if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa, int len, void *ctx) {
  (void)sa; (void)len; (void)ctx;
  struct event_base *base = evconnlistener_get_base(listener);
  struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_signal(evutil_socket_t sig, short events, void *base) {
  (void)sig; (void)events;
  event_base_loopbreak(base);
}

int main(int argc, char **argv) {
  int port = argc > 2 && strcmp(argv[1], "--port") == 0 ? atoi(argv[2]) : 0;
  struct event_base *base = event_base_new();
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(port);
  struct evconnlistener *listener = evconnlistener_new_bind(
      base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024, (struct sockaddr *)&sin, sizeof sin);
  if (!listener) { perror("listen"); return 1; }
  struct sockaddr_in bound;
  socklen_t blen = sizeof bound;
  getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&bound, &blen);
  printf("listening echo 127.0.0.1:%d\n", ntohs(bound.sin_port));
  fflush(stdout);
  struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
  event_add(term, NULL);
  event_base_dispatch(base);
  event_free(term);
  evconnlistener_free(listener);
  event_base_free(base);
  return 0;
}
