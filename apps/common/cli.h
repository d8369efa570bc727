// Cli: command-line flags as docs/conventions.md wants them: --help prints usage
// and exits 0; an unknown flag or a bad value prints one line naming it on stderr and exits 2.
// --quiet and --verbose set the log level for every program.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <asyncore/address.h>

namespace asyncore {

class Cli {
 public:
  Cli(std::string program, std::string synopsis, std::string description = {});

  void flag(std::string name, bool* target, std::string help);
  void option(std::string name, std::string* target, std::string metavar, std::string help);
  void option(std::string name, int* target, std::string metavar, std::string help, long min, long max);
  void option(std::string name, double* target, std::string metavar, std::string help, double min, double max);
  // A value checked by `check`, which throws std::exception with the reason when it is bad.
  void option(std::string name, std::string metavar, std::string help, std::function<void(std::string_view)> check);
  // Positional arguments are allowed (and returned by parse) only when this is called.
  void positionals(std::string metavar, size_t min, size_t max);

  // Parses argv; on --help or a bad argument it prints and exits (0 or 2).
  std::vector<std::string> parse(int argc, char** argv);
  [[noreturn]] void fail(std::string_view message) const;  // "<program>: <message>", exit 2
  std::string usage() const;

 private:
  struct Option {
    std::string name;
    std::string metavar;  // empty for a flag
    std::string help;
    std::function<void(std::string_view)> apply;
  };
  std::string program_, synopsis_, description_;
  std::vector<Option> options_;
  std::string positional_metavar_;
  size_t positional_min_ = 0, positional_max_ = 0;
};

// Prints "listening <what> <host>:<port>" on stdout and flushes it (CONVENTIONS.md).
void announce_listening(std::string_view what, const Address& address);

}  // namespace asyncore
