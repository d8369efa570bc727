"""Every program's demo, run as `DEMO=all make demo` runs them (apps/demo.sh), must end by itself
with status 0 and show what its tour promises. A demo that hangs fails here after a bound.
"""
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.environ.get("BUILD_DIR", os.path.join(REPO, "build")), "bin")
DEMO = os.path.join(REPO, "apps", "demo.sh")

# What each tour must show, as regular expressions over its output (ANSI bold stripped).
EXPECTED = {
    "device": [r"^total 21, online 20$", r"heartbeat=10s", r'"result":"OK","ack":\{"type":101',
               r"^device_queued_commands 0$", r"^device_dropped_acks_total 0$", r"^device_sent_acks_total 1$",
               r"^process_open_fds \d+", r"^device-emulator exited 0$", r"^device-server exited 0$"],
    "sync": [r"^job 1 succeeded$", r'^\{"ok":true,"types":\["demo"\]\}$', r"^job 2: demo 2, succeeded, 100%$",
             r"cancelled at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by the command port, peer 127\.0\.0\.1:\d+$",
             r"^JOB +TYPE", r'^\{"status":"ok"\}$', r"^sync_jobs_running 0$",
             r"^stopping: 1 running job gets 10 s to finish$", r"^job 4: succeeded", r"^sync-server exited 0$"],
    "barrage": [r"^\[58839\] .+: .+ #0$", r'"el":\[\{"eid":', r"server error 204",
                r"complete=200 failed=0 received=10000 gaps=0 repeats=0", r"^barrage-server exited 0$"],
    "messenger": [r"^msg alice hello bob, this is alice$", r"^msg bob hello everyone$",
                  r"^ok send bob photo\.bin 3145728 [0-9a-f]{64}$", r"^msg-peer alice exited 0$",
                  r"^msg-peer bob exited 0$", r"^msg-hub exited 0$"],
    "echo": [r"^hello, asyncore\+\+$", r"^line two$", r"^third client refused", r"^echo-server exited 0$"],
}


def fail(message):
    print("demo_test: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    env = dict(os.environ, BIN_DIR=BIN, DEMO="all")
    try:
        run = subprocess.run([DEMO], env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        fail("DEMO=all did not end within 240 s")
    output = re.sub(r"\x1b\[[0-9;]*m", "", run.stdout)
    print(output)
    print(run.stderr, file=sys.stderr)
    if run.returncode != 0:
        fail("DEMO=all exited %d" % run.returncode)
    # Each tour's part of the output, by the banner apps/demo.sh prints before it.
    parts = dict(re.findall(r"^######## (\w+)\n(.*?)(?=^######## |\Z)", output, re.M | re.S))
    if sorted(parts) != sorted(EXPECTED):
        fail("tours run: %s" % sorted(parts))
    for name, patterns in EXPECTED.items():
        for pattern in patterns:
            if not re.search(pattern, parts[name], re.M):
                fail("the %s tour does not show %r" % (name, pattern))
    # The sync relay's stop line says nothing like "10.000000 s".
    if re.search(r"\d\.\d{6} s\b", output):
        fail("a duration printed with six decimals")

    # DEMO=cluster: three nodes on one Redis; a command crosses nodes, a killed node's devices are let go.
    try:
        cluster = subprocess.run([DEMO], env=dict(env, DEMO="cluster"), capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        fail("DEMO=cluster did not end within 120 s")
    shown = re.sub(r"\x1b\[[0-9;]*m", "", cluster.stdout)
    print(shown)
    print(cluster.stderr, file=sys.stderr)
    if cluster.returncode != 0:
        fail("DEMO=cluster exited %d" % cluster.returncode)
    for pattern in (r'^\{"result":"OK","ack":\{', r'^\{"result":"NO"\}', r"^node a exited 0", r"^devices still owned in redis: 0"):
        if not re.search(pattern, shown, re.M):
            fail("the cluster tour does not show %r" % pattern)

    unknown = subprocess.run([DEMO], env=dict(env, DEMO="nope"), capture_output=True, text=True, timeout=10)
    if unknown.returncode != 2 or "no demo for 'nope'" not in unknown.stderr:
        fail("DEMO=nope: exit %d, %r" % (unknown.returncode, unknown.stderr))
    print("demo_test: ok")


main()
