// CPython's asynchat as the reference peer: a Python async_chat client (tiny sends, so our
// server sees every command cut anywhere; a numeric terminator for a binary body) talks to
// a C++ AsyncChat server made with make_server. Both sides must agree on every record.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <asyncore/asyncore.h>
#include <asyncore/net/tcp_server.h>
#include "test/dispatchers/chat/chat_fixtures.h"
#include "test/dispatchers/loop_helpers.h"
#include "test/support/testing.h"

using namespace asyncore;
using namespace dispatcher_tests;

namespace {

// Prints one line per record it gets; checks the binary body against the same pattern as
// chat_fixtures.h's pattern().
const char* const kPythonClient = R"PY(
import asynchat, asyncore, socket, sys

port = int(sys.argv[1])

def pattern(n):
    return bytes((i * 7) % 256 for i in range(n))

class Client(asynchat.async_chat):
    ac_out_buffer_size = 7  # many tiny sends

    def __init__(self):
        asynchat.async_chat.__init__(self)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.connect(('127.0.0.1', port))
        self.set_terminator(b'\r\n')
        self.data = []
        self.body_size = None

    def handle_connect(self):
        self.push(b'ECHO hello world\r\nECHO \r\n')
        self.push(b'DATA 12\r\nhello\r\nworl')
        self.push(b'd')
        self.push_with_producer(asynchat.simple_producer(b'BIG 100000\r\nNOPE\r\n', 3))
        self.push(b'QUIT\r\n')

    def collect_incoming_data(self, data):
        self.data.append(data)

    def found_terminator(self):
        record = b''.join(self.data)
        self.data = []
        if self.body_size is not None:
            ok = record == pattern(self.body_size)
            print('body', len(record), 'ok' if ok else 'CORRUPT')
            self.body_size = None
            self.set_terminator(b'\r\n')
            return
        print('line', repr(record.decode('latin-1')))
        if record.startswith(b'SIZE '):
            self.body_size = int(record[5:])
            self.set_terminator(self.body_size)

    def handle_close(self):
        print('closed')
        self.close()

Client()
asyncore.loop(timeout=0.05, count=400)
sys.stdout.flush()
)PY";

}  // namespace

TEST_CASE("a Python asynchat client and a C++ AsyncChat server agree on every record") {
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    ChannelMap map;
    map.use_backend(backend);
    auto server = make_server<CommandChat>(Address::ipv4("127.0.0.1", 0), &map);
    testing::Child python({"python3", "-W", "ignore", "-c", kPythonClient, std::to_string(server->server_address.port())});
    REQUIRE(run_until(map, [&] { return !python.running(); }, 30));
    const std::string output = python.read_all();
    INFO("python stderr: " << python.stderr_text());
    CHECK(python.wait() == 0);
    CHECK(output ==
          "line 'hello world'\n"
          "line ''\n"
          "line 'GOT 12 hello|world'\n"
          "line 'SIZE 100000'\n"
          "body 100000 ok\n"
          "line 'ERR unknown command'\n"
          "line 'BYE'\n"
          "closed\n");
    server->server_close();
  }
}
