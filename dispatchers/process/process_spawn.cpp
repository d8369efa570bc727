#include "dispatchers/process/process_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

#include <cerrno>
#include <set>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace asyncore {
namespace {

[[noreturn]] void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

// RAII for the two posix_spawn descriptor objects.
struct FileActions {
  posix_spawn_file_actions_t value;
  FileActions() {
    if (int rc = posix_spawn_file_actions_init(&value)) throw_errno(rc, "posix_spawn_file_actions_init");
  }
  ~FileActions() { posix_spawn_file_actions_destroy(&value); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
};

struct SpawnAttributes {
  posix_spawnattr_t value;
  SpawnAttributes() {
    if (int rc = posix_spawnattr_init(&value)) throw_errno(rc, "posix_spawnattr_init");
  }
  ~SpawnAttributes() { posix_spawnattr_destroy(&value); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
};

void check(int rc, const char* what) {
  if (rc != 0) throw_errno(rc, what);
}

// Moves fd above 0..2 so the child's dup2 onto stdin/stdout/stderr cannot clobber it (only
// possible when the parent itself runs with a standard stream closed).
Fd above_standard_streams(Fd fd) {
  if (fd.get() > 2) return fd;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) throw_errno(errno, "fcntl F_DUPFD_CLOEXEC");
  return Fd(moved);
}

struct Pipe {
  Fd reader, writer;
};

Pipe make_output_pipe() {
  int fds[2];
  // O_CLOEXEC on both ends: only the dup2 copies (fd 1 and 2) reach the child, and no other
  // child spawned meanwhile (by any thread) inherits them.
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno(errno, "pipe2");
  Pipe pipe{Fd(fds[0]), Fd(fds[1])};
  pipe.reader = above_standard_streams(std::move(pipe.reader));
  pipe.writer = above_standard_streams(std::move(pipe.writer));
  // Only our end is non-blocking: the child's stdout stays an ordinary blocking pipe.
  int flags = ::fcntl(pipe.reader.get(), F_GETFL);
  if (flags < 0 || ::fcntl(pipe.reader.get(), F_SETFL, flags | O_NONBLOCK) != 0) throw_errno(errno, "fcntl O_NONBLOCK");
  return pipe;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

std::vector<std::string> merged_environment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::set<std::string> replaced;
  for (const auto& [name, value] : extra) {
    if (name.empty() || name.find('=') != std::string::npos || name.find('\0') != std::string::npos) {
      throw std::invalid_argument("bad environment variable name: '" + name + "'");
    }
    replaced.insert(name);
  }
  std::vector<std::string> result;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    if (!replaced.count(std::string(text.substr(0, text.find('='))))) result.emplace_back(text);
  }
  for (const auto& [name, value] : extra) result.push_back(name + "=" + value);
  return result;
}

SpawnedChild spawn_child(const SpawnRequest& request) {
  if (request.argv.empty() || request.argv[0].empty()) throw std::invalid_argument("spawn: empty argv");
  std::vector<std::string> argv = request.argv;
  std::vector<std::string> env = merged_environment(request.extra_env);
  std::vector<char*> argv_pointers = pointers_to(argv);
  std::vector<char*> env_pointers = pointers_to(env);

  Pipe out = make_output_pipe();
  Pipe err = make_output_pipe();

  FileActions actions;
  check(posix_spawn_file_actions_addopen(&actions.value, 0, "/dev/null", O_RDONLY, 0), "addopen /dev/null");
  check(posix_spawn_file_actions_adddup2(&actions.value, out.writer.get(), 1), "adddup2 stdout");
  check(posix_spawn_file_actions_adddup2(&actions.value, err.writer.get(), 2), "adddup2 stderr");
  if (!request.working_dir.empty()) {
    check(posix_spawn_file_actions_addchdir_np(&actions.value, request.working_dir.c_str()), "addchdir");
  }

  SpawnAttributes attributes;
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  check(posix_spawnattr_setflags(&attributes.value, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
        "posix_spawnattr_setflags");
  check(posix_spawnattr_setpgroup(&attributes.value, 0), "posix_spawnattr_setpgroup");  // 0: a group of its own
  check(posix_spawnattr_setsigmask(&attributes.value, &empty), "posix_spawnattr_setsigmask");
  // Undoes what the parent ignores (SIGPIPE, which ChannelMap ignores, above all).
  check(posix_spawnattr_setsigdefault(&attributes.value, &all), "posix_spawnattr_setsigdefault");

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0].c_str(), &actions.value, &attributes.value, argv_pointers.data(), env_pointers.data());
  if (rc != 0) {
    std::string where = request.working_dir.empty() ? "" : " in " + request.working_dir;
    throw_errno(rc, "spawn " + request.argv[0] + where);
  }
  // The writers close here: the pipes reach EOF once the child (and its descendants) let go.
  return SpawnedChild{pid, std::move(out.reader), std::move(err.reader)};
}

}  // namespace asyncore
