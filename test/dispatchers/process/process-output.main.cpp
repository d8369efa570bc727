// A child for process_test: prints in patterns that a shell script cannot (fast, unbuffered,
// interleaved), ignores SIGTERM, or reports the fds and signal state it inherited.
//   process-output lines N        "out I" on stdout and "err I" on stderr, I = 0..N-1, buffered
//   process-output interleaved N  the same, one write(2) per line, alternating streams
//   process-output ignore-term    ignores SIGTERM, prints "ready", sleeps 60 s
//   process-output fds            prints its open fds ("0 1 2")
//   process-output signals        prints the SigBlk and SigIgn lines of /proc/self/status
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

namespace {

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) std::exit(10);
    done += static_cast<size_t>(n);
  }
}

int lines(long count) {
  static char out_buffer[1 << 16], err_buffer[1 << 16];
  std::setvbuf(stdout, out_buffer, _IOFBF, sizeof out_buffer);
  std::setvbuf(stderr, err_buffer, _IOFBF, sizeof err_buffer);
  for (long i = 0; i < count; ++i) {
    std::fprintf(stdout, "out %ld\n", i);
    std::fprintf(stderr, "err %ld\n", i);
  }
  return std::fflush(stdout) == 0 && std::fflush(stderr) == 0 ? 0 : 11;
}

int interleaved(long count) {
  for (long i = 0; i < count; ++i) {
    write_all(1, "out " + std::to_string(i) + "\n");
    write_all(2, "err " + std::to_string(i) + "\n");
  }
  return 0;
}

int ignore_term() {
  ::signal(SIGTERM, SIG_IGN);
  write_all(1, "ready\n");
  ::sleep(60);
  return 0;
}

int fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return 12;
  std::set<int> open;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') open.insert(std::atoi(entry->d_name));
  }
  open.erase(::dirfd(dir));
  ::closedir(dir);
  std::string text;
  for (int fd : open) text += (text.empty() ? "" : " ") + std::to_string(fd);
  write_all(1, text + "\n");
  return 0;
}

int signals() {
  std::ifstream status("/proc/self/status");
  std::string line, text;
  while (std::getline(status, line)) {
    if (line.rfind("SigBlk:", 0) == 0 || line.rfind("SigIgn:", 0) == 0) text += line + "\n";
  }
  write_all(1, text);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  long count = argc > 2 ? std::atol(argv[2]) : 0;
  if (mode == "lines") return lines(count);
  if (mode == "interleaved") return interleaved(count);
  if (mode == "ignore-term") return ignore_term();
  if (mode == "fds") return fds();
  if (mode == "signals") return signals();
  std::fprintf(stderr, "usage: process-output lines N | interleaved N | ignore-term | fds | signals\n");
  return 2;
}
