// stdin-lines: a test helper. Reads its stdin with a LineReader and prints, flushing each,
// "line <n> <text>" per line and "end ok" or "end <problem>" at the end. Exits 0 after a clean
// end of input, 2 after a problem, 64 on bad arguments.
//   stdin-lines [--backend select|poll|epoll] [--max-line N]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <asyncore/asyncore.h>
#include <asyncore/stream/line_reader.h>

using namespace asyncore;

namespace {

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr, "stdin-lines: %s\nusage: stdin-lines [--backend select|poll|epoll] [--max-line N]\n",
               problem.c_str());
  std::exit(64);
}

}  // namespace

int main(int argc, char** argv) {
  BackendKind backend = BackendKind::epoll;
  size_t max_line = 64 * 1024;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage("missing value after " + arg);
    const std::string value = argv[++i];
    try {
      if (arg == "--backend") backend = parse_backend(value);
      else if (arg == "--max-line") max_line = std::stoul(value);
      else usage("unknown option " + arg);
    } catch (const std::logic_error& e) {
      usage("bad value '" + value + "' for " + arg + ": " + e.what());
    }
  }

  ChannelMap& map = socket_map();
  map.use_backend(backend);
  int status = 0;
  size_t count = 0;
  auto reader = make<LineReader>(
      STDIN_FILENO,
      [&](std::string_view line) {
        std::printf("line %zu %.*s\n", ++count, static_cast<int>(line.size()), line.data());
        std::fflush(stdout);
      },
      [&](std::string_view problem) {
        std::printf("end %.*s\n", static_cast<int>(problem.empty() ? 2 : problem.size()),
                    problem.empty() ? "ok" : problem.data());
        std::fflush(stdout);
        status = problem.empty() ? 0 : 2;
      });
  reader->max_line_length = max_line;
  map.loop(1.0);
  return status;
}
