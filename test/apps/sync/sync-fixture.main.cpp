// The sync programs the sync-server tests configure, one behaviour per mode:
//   steps N          N log lines "line I of N", each followed by "PROGRESS I/N"; "PROGRESS 50"
//                    half way; one line on stderr; exit 0
//   fail CODE        a log line, then exit CODE
//   hang PIDFILE     starts a grandchild, prints both pids ("pids P C", also written to PIDFILE),
//                    then sleeps forever (as does the grandchild)
//   stubborn PIDFILE the same, but both ignore SIGTERM (only SIGKILL ends them)
//   record FILE ID S appends "start ID T" to FILE, sleeps S seconds, appends "end ID T"
//                    (T: CLOCK_MONOTONIC nanoseconds)
//   slow N S         a line every S seconds, N of them, with PROGRESS I/N
//   gate FILE N      N lines "before I", then waits until FILE exists, then N lines "after I"
//                    padded to 200 bytes with 'x'; exit 0
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

void pause_seconds(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

long long monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

void append_line(const char* file, const std::string& line) {
  int fd = ::open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) std::exit(70);
  std::string text = line + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) std::exit(71);
  ::close(fd);
}

int hang(const char* pid_file, bool ignore_term) {
  if (ignore_term) ::signal(SIGTERM, SIG_IGN);  // inherited by the grandchild
  const pid_t child = ::fork();
  if (child == 0) {
    for (;;) ::pause();
  }
  const std::string pids = "pids " + std::to_string(::getpid()) + " " + std::to_string(child);
  append_line(pid_file, pids);
  std::printf("%s\n", pids.c_str());
  std::fflush(stdout);
  for (;;) ::pause();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "steps" && argc == 3) {
    const int n = std::atoi(argv[2]);
    for (int i = 1; i <= n; ++i) {
      std::printf("line %d of %d\n", i, n);
      if (i == n / 2) std::printf("PROGRESS 50\n");
      std::printf("PROGRESS %d/%d\n", i, n);
      std::fflush(stdout);
      pause_seconds(0.01);
    }
    std::fprintf(stderr, "a note on stderr\n");
    return 0;
  }
  if (mode == "fail" && argc == 3) {
    std::printf("about to fail\n");
    std::fflush(stdout);
    return std::atoi(argv[2]);
  }
  if ((mode == "hang" || mode == "stubborn") && argc == 3) return hang(argv[2], mode == "stubborn");
  if (mode == "record" && argc == 5) {
    append_line(argv[2], std::string("start ") + argv[3] + " " + std::to_string(monotonic_ns()));
    pause_seconds(std::atof(argv[4]));
    append_line(argv[2], std::string("end ") + argv[3] + " " + std::to_string(monotonic_ns()));
    std::printf("recorded %s\n", argv[3]);
    return 0;
  }
  if (mode == "slow" && argc == 4) {
    const int n = std::atoi(argv[2]);
    for (int i = 1; i <= n; ++i) {
      std::printf("slow line %d\nPROGRESS %d/%d\n", i, i, n);
      std::fflush(stdout);
      pause_seconds(std::atof(argv[3]));
    }
    return 0;
  }
  if (mode == "gate" && argc == 4) {
    const int n = std::atoi(argv[3]);
    for (int i = 1; i <= n; ++i) std::printf("before %d\n", i);
    std::fflush(stdout);
    struct stat st {};
    while (::stat(argv[2], &st) != 0) pause_seconds(0.01);  // the job's timeout bounds this
    for (int i = 1; i <= n; ++i) {
      std::string line = "after " + std::to_string(i) + " ";
      line.resize(200, 'x');
      std::printf("%s\n", line.c_str());
    }
    return 0;
  }
  std::fprintf(stderr, "usage: sync-fixture steps N | fail CODE | hang|stubborn PIDFILE | record FILE ID S | slow N S | "
                       "gate FILE N\n");
  return 64;
}
