# The CPython 3.11 twin of asyncore_contract_test.cpp: the same probes run with Python's own
# asyncore (select, then poll), printing one "backend key=value" line per result. The C++ test
# runs this and checks its own loop gives the same values (or the documented difference).
import asyncore, os, socket, sys


def passes(m, n, use_poll):
    for _ in range(n):
        asyncore.loop(timeout=0.01, use_poll=use_poll, map=m, count=1)


class Queue(asyncore.dispatcher):
    """writable() is `queue not empty`: asyncore asks it before every wait."""
    def __init__(self, sock, m):
        super().__init__(sock, map=m)
        self.queue = []
    def writable(self):
        return bool(self.queue)
    def handle_write(self):
        self.send(self.queue.pop(0))
    def handle_read(self):
        self.recv(100)


class Broadcaster(asyncore.dispatcher):
    def __init__(self, sock, m, target):
        super().__init__(sock, map=m)
        self.target = target
    def writable(self):
        return False
    def handle_read(self):
        self.target.queue.append(self.recv(100))


class Flow(asyncore.dispatcher):
    def __init__(self, sock, m):
        super().__init__(sock, map=m)
        self.flow = True
        self.reads = 0
    def readable(self):
        return self.flow
    def writable(self):
        return False
    def handle_read(self):
        self.reads += 1
        self.recv(100)


class Asked(asyncore.dispatcher):
    def __init__(self, sock, m):
        super().__init__(sock, map=m)
        self.asks = 0
    def readable(self):
        self.asks += 1
        return True
    def writable(self):
        return False


class Logged(asyncore.dispatcher):
    def __init__(self, sock, m, n, log):
        super().__init__(sock, map=m)
        self.n, self.log = n, log
    def writable(self):
        return False
    def handle_read(self):
        try:
            data = self.recv(1)
        except BlockingIOError:
            data = b''
        self.log.append('read%d%s' % (self.n, '' if data else '-empty'))
        if self.n == 0:
            self.close()
            asyncore.loop(timeout=0, map=self._map, count=1)  # the "wait for the reply" helper
            self.log.append('back0')


class First(asyncore.dispatcher):
    """Records the first handler the loop calls, then closes."""
    def __init__(self, sock, m):
        super().__init__(sock, map=m)
        self.handlers = []
    def writable(self):
        return False
    def _note(self, name):
        self.handlers.append(name)
        self.close()
    def handle_read(self):
        self._note('read')
    def handle_write(self):
        self._note('write')
    def handle_expt(self):
        self._note('expt')
    def handle_close(self):
        self._note('close')
    def handle_error(self):
        self._note('error')


def probe(use_poll):
    out = {}
    # 1. writable() turned true outside the dispatcher's callbacks (a timer, another dispatcher).
    m = {}
    a, peer = socket.socketpair()
    q = Queue(a, m)
    passes(m, 3, use_poll)
    q.queue.append(b'hello')  # as a timer or the application would
    passes(m, 3, use_poll)
    peer.setblocking(False)
    out['writable_outside'] = peer.recv(100).decode()
    b, bpeer = socket.socketpair()
    Broadcaster(b, m, q)
    bpeer.send(b'ping')
    passes(m, 4, use_poll)
    out['broadcast'] = peer.recv(100).decode()
    for s in (peer, bpeer):
        s.close()
    asyncore.close_all(m)

    # 2. readable() turned false outside its callbacks: the peer's bytes are not read.
    m = {}
    a, peer = socket.socketpair()
    f = Flow(a, m)
    passes(m, 2, use_poll)
    f.flow = False
    peer.send(b'x')
    passes(m, 5, use_poll)
    out['readable_false_reads'] = f.reads
    f.flow = True
    passes(m, 3, use_poll)
    out['readable_true_reads'] = f.reads
    peer.close()
    asyncore.close_all(m)

    # 3. loop(count): `while map and count > 0`.
    for count in (0, -1, 1, 3):
        m = {}
        a, peer = socket.socketpair()
        d = Asked(a, m)
        asyncore.loop(timeout=0, use_poll=use_poll, map=m, count=count)
        out['count%d_passes' % count] = d.asks
        peer.close()
        asyncore.close_all(m)

    # 4. A nested pass from inside handle_read, by a dispatcher that closed itself.
    m = {}
    log = []
    peers = []
    for n in range(3):
        s, p = socket.socketpair()
        p.send(b'x')
        Logged(s, m, n, log)
        peers.append(p)
    asyncore.loop(timeout=0.5, use_poll=use_poll, map=m, count=1)
    out['nested_log'] = ','.join(log)
    for p in peers:
        p.close()
    asyncore.close_all(m)

    # 5. POLLERR alone: a connected UDP socket whose datagram was refused (ICMP unreachable).
    m = {}
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(('127.0.0.1', 0))
    port = closed.getsockname()[1]
    closed.close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect(('127.0.0.1', port))
    u.send(b'x')
    first = First(u, m)
    for _ in range(200):
        if first.handlers:
            break
        asyncore.loop(timeout=0.01, use_poll=use_poll, map=m, count=1)
    out['pollerr_first'] = ','.join(first.handlers)
    asyncore.close_all(m)

    # 6. POLLNVAL: an fd closed behind the map's back.
    m = {}
    a, peer = socket.socketpair()
    first = First(a, m)
    os.close(a.fileno())
    try:
        asyncore.loop(timeout=0.01, use_poll=use_poll, map=m, count=1)
        out['pollnval_first'] = ','.join(first.handlers)
    except OSError as e:
        out['pollnval_first'] = 'raises-' + (e.strerror or '').replace(' ', '-')
    peer.close()
    return out


for use_poll in (False, True):
    for key, value in probe(use_poll).items():
        print('%s %s=%s' % ('poll' if use_poll else 'select', key, value), flush=True)
