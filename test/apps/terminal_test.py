"""What a person sees on a terminal (a pseudo-terminal here): echo-client ends its output with a
newline there (into a pipe the bytes stay exact), and device-emulator's in-place status line is
cleared before any other line is printed, so no line is glued to it.
"""
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.environ.get("BUILD_DIR", os.path.join(REPO, "build")), "bin")


def fail(message):
    print("terminal_test: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def start_server(argv, what):
    """Starts a server on port 0 and returns (process, port) from its `listening` line."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.5)
        if ready:
            line = process.stdout.readline()
            m = re.match(r"listening %s \S+:(\d+)" % what, line)
            if m:
                return process, int(m.group(1))
    process.kill()
    fail("%s did not print its listening line" % argv[0])


def on_terminal(argv, timeout):
    """Runs argv with stdout and stderr on one pseudo-terminal; returns (status, raw bytes)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output


def echo_client():
    server, port = start_server([os.path.join(BIN, "echo-server"), "--port", "0"], "echo")
    try:
        client = [os.path.join(BIN, "echo-client"), "--port", str(port), "--message", "no newline here"]
        code, raw = on_terminal(client, 10)
        if code != 0 or raw != b"no newline here\r\n":  # the terminal writes "\n" as "\r\n"
            fail("echo-client on a terminal: exit %d, %r" % (code, raw))
        piped = subprocess.run(client, capture_output=True, timeout=10)
        if piped.returncode != 0 or piped.stdout != b"no newline here":
            fail("echo-client into a pipe: exit %d, %r" % (piped.returncode, piped.stdout))
    finally:
        server.terminate()
        server.wait(10)


def emulator_status_line():
    data = os.path.join(os.environ.get("TMPDIR", "/tmp"), "terminal_test-%d" % os.getpid())
    server, port = start_server([os.path.join(BIN, "device-server"), "--port", "0", "--admin-port", "0",
                                 "--auto-register", "--data-dir", data], "device")
    try:
        # Four devices at two a second: the status line (every second on a terminal) is showing
        # when "all logged in" is printed, then the summary at the end.
        emulator = [os.path.join(BIN, "device-emulator"), "--port", str(port), "--devices", "4",
                    "--connect-rate", "2", "--heartbeat", "10", "--report", "0", "--duration", "3.5"]
        code, raw = on_terminal(emulator, 20)
    finally:
        server.terminate()
        server.wait(10)
        subprocess.run(["rm", "-rf", data])
    text = raw.decode("utf-8", "replace")
    if code != 0:
        fail("device-emulator exited %d: %r" % (code, text))
    shown = [m.end() for m in re.finditer(r"devices \d+ online \d+ [^\r\n]*?reconnects \d+", text)]
    if len(shown) < 2:
        fail("fewer than two status lines on the terminal: %r" % text)
    for end in shown:
        if not (text.startswith("\r\x1b[K", end) or end == len(text)):
            fail("something was printed right after the status line: %r" % text[end - 60:end + 60])
    if not re.search(r"(^|\r\n|\r\x1b\[K)all logged in 4 devices in [\d.]+ s\r\n", text):
        fail("'all logged in' is not on a line of its own: %r" % text)
    if not re.search(r"\r\x1b\[Ksummary devices=4 ", text):
        fail("the summary does not follow a cleared status line: %r" % text)


echo_client()
emulator_status_line()
print("terminal_test: ok")
