// spawn_child: starts a program for Process (no shell) with posix_spawn, which reports a failed
// exec (missing program, bad working directory) to the caller as an error code.
#pragma once
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include <asyncore/fd.h>

namespace asyncore {

struct SpawnRequest {
  std::vector<std::string> argv;  // argv[0] is looked up in the parent's PATH when it has no '/'
  std::string working_dir;        // empty: the parent's
  std::vector<std::pair<std::string, std::string>> extra_env;  // added to, or replacing in, environ
};

struct SpawnedChild {
  pid_t pid = -1;    // also the id of its new process group
  Fd stdout_reader;  // non-blocking, close-on-exec
  Fd stderr_reader;
};

// The child gets stdin from /dev/null, stdout and stderr on pipes, its own process group, an
// empty signal mask and every signal at its default action. Throws std::system_error (the
// spawn failed) or std::invalid_argument (empty argv, bad environment name).
SpawnedChild spawn_child(const SpawnRequest& request);

// The parent's environment with `extra` added (an entry for the same name is replaced).
std::vector<std::string> merged_environment(const std::vector<std::pair<std::string, std::string>>& extra);

}  // namespace asyncore
