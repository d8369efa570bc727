"""The sync relay's original asyncore client against the real sync-server.

The client class below is the one of the relay's source document, unchanged but for the bytes
CPython 3 wants: a dispatcher_with_send whose out_buffer is the bare command (no newline), which
never half-closes and reads its answer with one recv(1024). sync-server runs such a command once
the client has been quiet for its quiet gap (--quiet-gap, 0.2 s). Checked: sync, status, a
`jobs 5` that fits the one recv(1024), quit (answered, then the server exits 0), with a
newline-speaking client served beside it.
"""
import asyncore
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SERVER = os.path.join(os.environ.get("BUILD_DIR", os.path.join(REPO, "build")), "bin", "sync-server")
PORT = None


def fail(message):
    print("seed_client_test: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


# --- the seed's client, as written (host and port as arguments) ---------------------------
class Client(asyncore.dispatcher_with_send):
    def __init__(self, host, port, message):
        asyncore.dispatcher.__init__(self)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.connect((host, port))
        self.out_buffer = message
        self.response = ''

    def handle_close(self):
        self.close()

    def handle_read(self):
        self.response = self.recv(1024)
        self.close()


def send(command):
    c = Client('127.0.0.1', PORT, command)
    asyncore.loop()
    return c.response
# ------------------------------------------------------------------------------------------


def seed_command(command):
    """One command through the seed client, bounded: asyncore.loop() has no deadline of its own."""
    signal.alarm(10)
    try:
        response = send(command.encode())
    finally:
        signal.alarm(0)
    if not response.endswith(b"\n"):
        fail("reply to %r is not one whole line within one recv(1024): %r" % (command, response))
    return json.loads(response)


def line_client(command):
    """A well-behaved client beside it: a newline-terminated command, answered within 1 s."""
    with socket.create_connection(("127.0.0.1", PORT), timeout=1) as s:
        s.sendall(command.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                fail("line client: connection closed")
            data += chunk
        return json.loads(data)


def on_alarm(signum, frame):
    fail("the seed client got no reply within 10 s")


def main():
    global PORT
    signal.signal(signal.SIGALRM, on_alarm)
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "sync.conf")
        with open(config, "w") as f:
            f.write("echo 10 /bin/echo {type}:{id}\n")
        log = open(os.path.join(tmp, "server.log"), "w")
        server = subprocess.Popen([SERVER, "--port", "0", "--http-port", "0", "--data-dir", os.path.join(tmp, "data"),
                                   "--config", config], stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            for line in server.stdout:
                if line.startswith("listening command "):
                    PORT = int(line.rsplit(":", 1)[1])
                    break
            if PORT is None:
                fail("no listening line")
            jobs = []
            for i in range(6):
                reply = seed_command("sync echo s%d" % i)
                if not reply.get("ok") or reply.get("state") != "queued":
                    fail("sync: %r" % reply)
                jobs.append(reply["job"])
                if not line_client("jobs 1").get("ok"):
                    fail("the line client beside it was not served")
            deadline = time.monotonic() + 20
            while seed_command("status %d" % jobs[-1]).get("state") != "succeeded":
                if time.monotonic() > deadline:
                    fail("job %d did not succeed" % jobs[-1])
                time.sleep(0.1)
            listed = seed_command("jobs 5")
            if [j["job"] for j in listed["jobs"]] != list(reversed(jobs))[:5]:
                fail("jobs 5: %r" % listed)
            if seed_command("quit") != {"ok": True}:
                fail("quit was not answered")
            if server.wait(10) != 0:
                fail("the server did not exit 0 after quit")
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
            log.close()
    print("seed_client_test: ok")


main()
