"""`make install PREFIX=...` gives the public headers as <asyncore/...>, the static and the shared
library and pkg-config files that another program builds against with pkg-config alone, static
(asyncore-static) and shared (asyncore); the programs run (a timer fires on the loop, a stream
is made). Internal headers are not installed, and `make uninstall` removes everything it put."""
import os
import shutil
import subprocess
import sys
import tempfile

PROGRAM = r'''
#include <asyncore/asyncore.h>
#include <asyncore/stream/buffered_stream.h>
#include <asyncore/http/http.h>
using namespace asyncore;
int main() {
  bool fired = false;
  call_later(0.01, [&] { fired = true; });
  loop(1.0);
  return fired ? 0 : 1;
}
'''

INTERNAL = ["backend.h", "waker.h", "signals.h", "stream/scratch_buffer.h", "journal/journal_format.h",
            "process/process_spawn.h", "process/pidfd.h", "process/process_pipe.h"]


def fail(message):
    print("install_test: " + message, file=sys.stderr)
    return 1


def build_and_run(prefix, package, name):
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", package], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    if any(f.startswith("-std=") for f in flags):
        return "pkg-config " + package + " forces a -std on users: " + " ".join(flags)
    source = os.path.join(prefix, name + ".cpp")
    binary = os.path.join(prefix, name)
    with open(source, "w") as f:
        f.write(PROGRAM)
    subprocess.run(["g++", "-std=c++20", source] + flags + ["-o", binary], check=True)
    run_env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(prefix, "lib"))
    libs = subprocess.run(["ldd", binary], env=run_env, capture_output=True, text=True).stdout
    shared = "libasyncore.so.1 => " + os.path.join(prefix, "lib") in libs
    if shared != (package == "asyncore"):
        return name + ": linked " + ("shared" if shared else "static") + " with pkg-config " + package + ":\n" + libs
    if subprocess.run([binary], env=run_env, timeout=10).returncode != 0:
        return name + ": the program built against the installed library failed"
    return None


def main():
    if shutil.which("pkg-config") is None:
        return fail("pkg-config is not installed; apt-get install pkg-config")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # Run from `make SANITIZE=... test`, the outer make's variables arrive through MAKEFLAGS;
    # the install under test is the plain product, so they are dropped.
    plain = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "SANITIZE")}
    with tempfile.TemporaryDirectory() as prefix:
        subprocess.run(["make", "-s", "-C", repo, "install", "PREFIX=" + prefix], check=True,
                       stdout=subprocess.DEVNULL, env=plain)
        for path in ["include/asyncore/asyncore.h", "include/asyncore/dispatcher.h",
                     "include/asyncore/stream/buffered_stream.h", "include/asyncore/redis/client.h", "lib/libasyncore.a", "lib/libasyncore.so.1",
                     "lib/libasyncore.so", "lib/pkgconfig/asyncore.pc", "lib/pkgconfig/asyncore-static.pc"]:
            if not os.path.exists(os.path.join(prefix, path)):
                return fail("missing " + path)
        for header in INTERNAL:
            if os.path.exists(os.path.join(prefix, "include", "asyncore", header)):
                return fail("an internal header was installed: " + header)
        for root, _, names in os.walk(os.path.join(prefix, "include")):
            for n in names:
                text = open(os.path.join(root, n), encoding="utf-8").read()
                if "epoll" in text and "epoll_event" in text:
                    return fail("a public header names epoll_event: " + os.path.join(root, n))
        soname = subprocess.run(["objdump", "-p", os.path.join(prefix, "lib", "libasyncore.so")],
                                capture_output=True, text=True).stdout
        if "SONAME               libasyncore.so.1" not in soname:
            return fail("the shared library has no soname libasyncore.so.1:\n" + soname)
        for package, name in (("asyncore-static", "user_static"), ("asyncore", "user_shared")):
            error = build_and_run(prefix, package, name)
            if error:
                return fail(error)
            os.remove(os.path.join(prefix, name))
            os.remove(os.path.join(prefix, name + ".cpp"))
        subprocess.run(["make", "-s", "-C", repo, "uninstall", "PREFIX=" + prefix], check=True,
                       stdout=subprocess.DEVNULL, env=plain)
        left = [os.path.relpath(os.path.join(r, n), prefix) for r, _, ns in os.walk(prefix) for n in ns]
        if left:
            return fail("uninstall left files behind: " + ", ".join(sorted(left)))
    print("install_test: ok")
    return 0


sys.exit(main())
