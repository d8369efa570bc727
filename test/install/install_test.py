"""`make install PREFIX=...` gives headers, the library and a pkg-config file that another program
builds against with `pkg-config --cflags --libs asyncore` (and runs: a timer fires on the loop)."""
import os
import shutil
import subprocess
import sys
import tempfile

PROGRAM = r'''
#include "core/asyncore.h"
#include "dispatchers/buffered_stream.h"
using namespace asyncore;
int main() {
  bool fired = false;
  call_later(0.01, [&] { fired = true; });
  loop(1.0);
  return fired ? 0 : 1;
}
'''


def main():
    if shutil.which("pkg-config") is None:
        print("install_test: pkg-config is not installed; apt-get install pkg-config", file=sys.stderr)
        return 1
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # Run from `make SANITIZE=... test`, the outer make's variables arrive through MAKEFLAGS;
    # the install under test is the plain product, so they are dropped.
    plain = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "SANITIZE")}
    with tempfile.TemporaryDirectory() as prefix:
        subprocess.run(["make", "-s", "-C", repo, "install", "PREFIX=" + prefix], check=True,
                       stdout=subprocess.DEVNULL, env=plain)
        for path in ["include/asyncore/core/asyncore.h", "include/asyncore/dispatchers/redis/client.h", "lib/libasyncore.a", "lib/pkgconfig/asyncore.pc"]:
            if not os.path.exists(os.path.join(prefix, path)):
                print("install_test: missing " + path, file=sys.stderr)
                return 1
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "asyncore"], env=env, check=True,
                               capture_output=True, text=True).stdout.split()
        source = os.path.join(prefix, "user.cpp")
        binary = os.path.join(prefix, "user")
        with open(source, "w") as f:
            f.write(PROGRAM)
        subprocess.run(["g++", source] + flags + ["-o", binary], check=True)
        result = subprocess.run([binary], timeout=10)
        if result.returncode != 0:
            print("install_test: the program built against the installed library failed", file=sys.stderr)
            return 1
    print("install_test: ok")
    return 0


sys.exit(main())
