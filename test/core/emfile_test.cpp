// Running out of fds on accept: the echo-server started with a low RLIMIT_NOFILE (through
// `sh -c "ulimit -n 24; exec echo-server"`) gets more clients than it has fds. It must log the
// pause, keep serving the connections it has, not spin (CPU time over 1 s well under 0.5 s), and
// accept the waiting clients once fds free up, logging one warning per episode rather than one
// per retry. Once per backend.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "test/core/core_testing.h"

using namespace coretest;
using testing::Child;
using testing::Client;

namespace {

// utime + stime of a process, in seconds.
double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  auto close = all.rfind(')');
  REQUIRE(close != std::string::npos);
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {  // fields 3.. after "pid (comm)"
    rest >> field;
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace

TEST_CASE("EMFILE on accept: pause logged, existing connections served, no spin, accepts resume") {
  // Sanitizer runtimes need fds of their own (UBSan's vptr check probes memory through a pipe),
  // so a sanitized server reports false errors exactly when it is out of fds.
#ifdef TEST_SANITIZED
  MESSAGE("skipped in a sanitizer build: the sanitizer runtime itself fails without fds");
  return;
#endif
  for (BackendKind kind : kAllBackends) {
    INFO(std::string(backend_name(kind)));
    Child server({"/bin/sh", "-c",
                  "ulimit -n 24 && exec \"$0\" --port 0 --backend \"$1\"", testing::bin_path("echo-server"),
                  backend_name(kind)});
    int port = server.listening_port("echo");

    constexpr int kClients = 30;
    std::vector<Client> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back(port);  // the kernel completes the handshake whether accepted or not
      clients.back().send_all("hello " + std::to_string(i));
    }
    // Some are served at once; the rest wait in the backlog while the server is out of fds.
    REQUIRE(testing::eventually([&] { return server.stderr_text().find("pausing accepts") != std::string::npos; }));
    int served = 0;
    for (int i = 0; i < kClients; ++i) {
      std::string expect = "hello " + std::to_string(i);
      try {
        if (clients[static_cast<size_t>(i)].recv_exact(expect.size(), testing::Seconds(i == 0 ? 5 : 0.3)) == expect) ++served;
        else break;
      } catch (const std::exception&) {
        break;
      }
    }
    CHECK(served >= 5);
    CHECK(served < kClients);
    // Existing connections keep being served while accepting is paused.
    CHECK(testing::echoes(clients[0], "still served"));

    // Not spinning: CPU time over one second. Nor flooding the log: the retries while still
    // out of fds are silent (one warning per episode).
    size_t warnings_before = testing::occurrences(server.stderr_text(), "pausing accepts");
    double before = cpu_seconds(server.pid());
    ::usleep(1000 * 1000);
    double used = cpu_seconds(server.pid()) - before;
    CHECK(testing::occurrences(server.stderr_text(), "pausing accepts") == warnings_before);
    MESSAGE(std::string(backend_name(kind)) << ": echo-server used " << used << " s CPU in 1 s while out of fds");
    CHECK(used < 0.25);

    // Free some fds: the waiting clients are accepted and answered.
    for (int i = 0; i < 12; ++i) clients[static_cast<size_t>(i)].close();
    for (int i = served; i < kClients; ++i) {
      std::string expect = "hello " + std::to_string(i);
      std::string got;
      try {
        got = clients[static_cast<size_t>(i)].recv_exact(expect.size(), testing::Seconds(10));
      } catch (const std::exception& e) {
        got = e.what();
      }
      CHECK(got == expect);
      clients[static_cast<size_t>(i)].close();  // make room for the next ones
    }
    CHECK(testing::occurrences(server.stderr_text(), "accepting again") >= 1);
    CHECK(server.running());
    server.signal(SIGTERM);
    CHECK(server.wait() == 0);
  }
}
