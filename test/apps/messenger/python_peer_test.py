"""A messenger peer written from the contract alone (socket + struct), against the real msg-hub.

Starts build/bin/msg-hub on port 0, reads its real port from stdout, reports as a peer, waits for
the Broadcast multicast that lists itself, sends a TP:Check probe (which must not count as a
report nor break the connection), and exits 0 on success, non-zero with a message otherwise.
"""
import os
import select
import socket
import struct
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HUB = os.path.join(os.environ.get("BUILD_DIR", os.path.join(REPO, "build")), "bin", "msg-hub")
DEADLINE = 20.0


def fail(message):
    print("python_peer_test: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def encode(header, body=b""):
    """[hlen: uint16 LE][header text "CL:<n>;K:V;..."][body]"""
    items = ["CL:%d" % len(body)] + ["%s:%s" % (k, v) for k, v in header.items()]
    text = ";".join(items).encode("utf-8")
    return struct.pack("<H", len(text)) + text + body


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def exact(self, n, deadline):
        while len(self.buffer) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                fail("timed out waiting for data from the hub")
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                continue
            chunk = self.sock.recv(65536)
            if not chunk:
                fail("the hub closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def frame(self, deadline):
        (hlen,) = struct.unpack("<H", self.exact(2, deadline))
        text = self.exact(hlen, deadline).decode("utf-8")
        header = {}
        for item in text.split(";"):
            key, value = item.split(":")
            if key in header:
                fail("duplicate key %r in %r" % (key, text))
            header[key] = value
        if list(header)[0] != "CL":
            fail("CL is not the first item: %r" % text)
        body = self.exact(int(header.pop("CL")), deadline)
        return header, body


def read_hub_port(hub, deadline):
    while time.monotonic() < deadline:
        ready, _, _ = select.select([hub.stdout], [], [], deadline - time.monotonic())
        if not ready:
            continue
        line = hub.stdout.readline().decode()
        if not line:
            fail("msg-hub exited before listening: " + hub.stderr.read().decode(errors="replace"))
        if line.startswith("listening hub "):
            return int(line.rsplit(":", 1)[1])
    fail("msg-hub did not print its port")


def main():
    if not os.access(HUB, os.X_OK):
        fail("%s is not built (run make first)" % HUB)
    hub = subprocess.Popen([HUB, "--port", "0", "--interval", "0.1", "--alive", "5"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + DEADLINE
        port = read_hub_port(hub, deadline)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        my_port = listener.getsockname()[1]

        # A probe-only connection is not a report: it must never receive the directory.
        lurker = socket.create_connection(("127.0.0.1", port), timeout=5)
        lurker.sendall(encode({"TP": "Check"}))

        peer = socket.create_connection(("127.0.0.1", port), timeout=5)
        reader = Reader(peer)
        peer.sendall(encode({"ID": "pypeer", "Port": str(my_port)}))
        expected = ("pypeer,127.0.0.1,%d" % my_port).encode()
        while True:
            header, body = reader.frame(deadline)
            if "Broadcast" in header:
                if header != {"Broadcast": ""}:
                    fail("unexpected Broadcast header %r" % header)
                if body == expected:
                    break
        # A probe is swallowed: the connection stays up and the multicasts keep coming.
        peer.sendall(encode({"TP": "Check"}))
        peer.sendall(encode({"ID": "pypeer", "Port": str(my_port)}))
        header, body = reader.frame(deadline)
        if "Broadcast" not in header or body != expected:
            fail("after the probe: %r %r" % (header, body))
        ready, _, _ = select.select([lurker], [], [], 0.3)
        if ready:
            fail("the probe-only connection received %r" % lurker.recv(100))
        peer.close()
        lurker.close()
        hub.terminate()
        if hub.wait(timeout=5) != 0:
            fail("msg-hub exited with %s after SIGTERM" % hub.returncode)
        print("python_peer_test: ok (hub port %d, listed as %s)" % (port, expected.decode()))
        return 0
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait()


if __name__ == "__main__":
    sys.exit(main())
