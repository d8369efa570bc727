"""A peer for the echo benchmark: the same echo server on Python's asyncore (CPython 3.11)."""
import asyncore
import signal
import socket
import sys


class EchoHandler(asyncore.dispatcher_with_send):
    def handle_read(self):
        data = self.recv(65536)
        if data:
            self.send(data)


class EchoServer(asyncore.dispatcher):
    def __init__(self, port):
        super().__init__()
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind(("127.0.0.1", port))
        self.listen(1024)

    def handle_accepted(self, sock, addr):
        EchoHandler(sock)


def main():
    port = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] == "--port" else 0
    server = EchoServer(port)
    print("listening echo 127.0.0.1:%d" % server.socket.getsockname()[1], flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncore.loop(timeout=1.0, use_poll=True)


main()
