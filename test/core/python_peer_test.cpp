// Interop with the reference implementation: Python 3.11's own asyncore as the peer.
// 1. The C++ echo-server (each backend) driven by clients written with Python's asyncore
//    (dispatcher_with_send; half-close after sending; read to EOF).
// 2. The C++ echo-client against an echo server written with Python's asyncore.
#include <signal.h>

#include "test/core/core_testing.h"

using namespace coretest;
using testing::Child;

namespace {

const char* kPythonClients = R"PY(
import asyncore, socket, sys, time
port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

class Client(asyncore.dispatcher_with_send):
    def __init__(self, n):
        super().__init__()
        self.n = n
        self.payload = (bytes(range(n, 251)) + bytes(range(0, n))) * (size // 251) + bytes(size % 251)
        self.got = bytearray()
        self.done = False
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.connect(('127.0.0.1', port))
        self.send(self.payload)
        self.shut = False
    def handle_connect(self):
        pass
    def handle_write(self):
        self.initiate_send()
        if not self.out_buffer and not self.shut:
            self.socket.shutdown(socket.SHUT_WR)
            self.shut = True
    def writable(self):
        return (not self.connected) or len(self.out_buffer) > 0 or not self.shut
    def handle_read(self):
        data = self.recv(65536)
        self.got += data
    def handle_close(self):
        # asyncore calls handle_close on POLLHUP, which comes (after our shutdown and the
        # server's FIN) while echoed bytes may still be unread: read them first.
        while True:
            try:
                data = self.socket.recv(65536)
            except OSError:
                break
            if not data:
                break
            self.got += data
        self.done = True
        self.close()
    def handle_error(self):
        print('error', self.n, sys.exc_info()[1], flush=True)
        self.close()

clients = [Client(n) for n in range(count)]
deadline = time.monotonic() + 40
while asyncore.socket_map and time.monotonic() < deadline:
    asyncore.loop(timeout=0.05, use_poll=True, count=1)
ok = 0
for c in clients:
    good = c.done and bytes(c.got) == c.payload
    print('client', c.n, 'ok' if good else 'BAD', len(c.got), flush=True)
    ok += good
print('done', ok, flush=True)
sys.exit(0 if ok == count else 1)
)PY";

const char* kPythonServer = R"PY(
import asyncore, socket, sys

class Handler(asyncore.dispatcher_with_send):
    def handle_read(self):
        data = self.recv(8192)
        if data:
            self.send(data)

class Server(asyncore.dispatcher):
    def __init__(self):
        super().__init__()
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind(('127.0.0.1', 0))
        self.listen(5)
        print('listening echo 127.0.0.1:%d' % self.socket.getsockname()[1], flush=True)
    def handle_accepted(self, sock, addr):
        Handler(sock)

Server()
asyncore.loop(timeout=0.1, count=300)
)PY";

bool python_has_asyncore() {
  try {
    auto r = testing::run({"python3", "-W", "ignore", "-c", "import asyncore"}, testing::Seconds(20));
    return r.code == 0;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

TEST_CASE("the C++ echo-server, driven by Python asyncore clients") {
  REQUIRE_MESSAGE(python_has_asyncore(), "python3 with asyncore (3.11) is needed");
  for (BackendKind kind : kAllBackends) {
    INFO(std::string(backend_name(kind)));
    Child server({testing::bin_path("echo-server"), "--port", "0", "--backend", backend_name(kind)});
    int port = server.listening_port("echo");
    auto r = testing::run({"python3", "-W", "ignore", "-c", kPythonClients, std::to_string(port), "8", "300000"},
                          testing::Seconds(60));
    INFO(r.out << r.err);
    CHECK(r.code == 0);
    CHECK(r.out.find("done 8") != std::string::npos);
    CHECK(server.running());
    server.signal(SIGTERM);
    CHECK(server.wait() == 0);
  }
}

TEST_CASE("the C++ echo-client against a Python asyncore echo server") {
  REQUIRE_MESSAGE(python_has_asyncore(), "python3 with asyncore (3.11) is needed");
  Child server({"python3", "-W", "ignore", "-c", kPythonServer});
  int port = server.listening_port("echo", testing::Seconds(20));
  std::string message = "hello from C++ to Python's asyncore";
  auto r = testing::run({testing::bin_path("echo-client"), "--port", std::to_string(port), "--message", message});
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(r.out == message + "\n");  // run() hands back stdout as lines
  std::string big(200000, 'z');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('A' + i % 50);
  r = testing::run({testing::bin_path("echo-client"), "--port", std::to_string(port)}, testing::Seconds(30), big);
  CHECK(r.code == 0);
  CHECK(r.out.size() == big.size() + 1);
  CHECK((r.out == big + "\n"));
}
