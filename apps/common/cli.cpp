#include "apps/common/cli.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include <asyncore/log.h>

namespace asyncore {
namespace {

long parse_long(std::string_view text) {
  long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) throw std::invalid_argument("not an integer");
  return value;
}

double parse_double(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) throw std::invalid_argument("not a number");
  return value;
}

}  // namespace

Cli::Cli(std::string program, std::string synopsis, std::string description)
    : program_(std::move(program)), synopsis_(std::move(synopsis)), description_(std::move(description)) {
  options_.push_back({"--quiet", "", "log only warnings and errors", [](std::string_view) { set_log_level(LogLevel::warning); }});
  options_.push_back({"--verbose", "", "log debug details too", [](std::string_view) { set_log_level(LogLevel::debug); }});
}

void Cli::flag(std::string name, bool* target, std::string help) {
  options_.push_back({std::move(name), "", std::move(help), [target](std::string_view) { *target = true; }});
}

void Cli::option(std::string name, std::string* target, std::string metavar, std::string help) {
  options_.push_back({std::move(name), std::move(metavar), std::move(help), [target](std::string_view v) { *target = std::string(v); }});
}

void Cli::option(std::string name, int* target, std::string metavar, std::string help, long min, long max) {
  options_.push_back({std::move(name), std::move(metavar), std::move(help), [target, min, max](std::string_view v) {
                        long value = parse_long(v);
                        if (value < min || value > max) {
                          throw std::out_of_range("must be " + std::to_string(min) + ".." + std::to_string(max));
                        }
                        *target = static_cast<int>(value);
                      }});
}

void Cli::option(std::string name, double* target, std::string metavar, std::string help, double min, double max) {
  options_.push_back({std::move(name), std::move(metavar), std::move(help), [target, min, max](std::string_view v) {
                        double value = parse_double(v);
                        if (!(value >= min && value <= max)) {
                          throw std::out_of_range("must be between " + std::to_string(min) + " and " + std::to_string(max));
                        }
                        *target = value;
                      }});
}

void Cli::option(std::string name, std::string metavar, std::string help, std::function<void(std::string_view)> check) {
  options_.push_back({std::move(name), std::move(metavar), std::move(help), std::move(check)});
}

void Cli::positionals(std::string metavar, size_t min, size_t max) {
  positional_metavar_ = std::move(metavar);
  positional_min_ = min;
  positional_max_ = max;
}

std::string Cli::usage() const {
  std::string text = "usage: " + program_ + " " + synopsis_ + "\n";
  if (!description_.empty()) text += "\n" + description_ + "\n";
  text += "\noptions:\n";
  for (const Option& o : options_) {
    std::string left = "  " + o.name + (o.metavar.empty() ? "" : " " + o.metavar);
    if (left.size() < 26) left.resize(26, ' ');
    else left += "  ";
    text += left + o.help + "\n";
  }
  text += "  --help                  show this help and exit\n";
  return text;
}

void Cli::fail(std::string_view message) const {
  std::fprintf(stderr, "%s: %.*s\n", program_.c_str(), static_cast<int>(message.size()), message.data());
  std::exit(2);
}

std::vector<std::string> Cli::parse(int argc, char** argv) {
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage().c_str(), stdout);
      std::exit(0);
    }
    if (arg == "--") {
      for (++i; i < argc; ++i) rest.emplace_back(argv[i]);
      break;
    }
    if (arg.size() > 1 && arg[0] == '-' && !(arg.size() > 1 && (arg[1] >= '0' && arg[1] <= '9'))) {
      std::string_view name = arg, inline_value;
      bool has_inline = false;
      if (auto eq = arg.find('='); eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        inline_value = arg.substr(eq + 1);
        has_inline = true;
      }
      const Option* found = nullptr;
      for (const Option& o : options_) {
        if (o.name == name) found = &o;
      }
      if (!found) fail("unknown option '" + std::string(name) + "' (see --help)");
      std::string_view value;
      if (!found->metavar.empty()) {
        if (has_inline) value = inline_value;
        else if (i + 1 < argc) value = argv[++i];
        else fail("option " + found->name + " needs a value " + found->metavar);
      } else if (has_inline) {
        fail("option " + found->name + " takes no value");
      }
      try {
        found->apply(value);
      } catch (const std::exception& e) {
        fail("bad value '" + std::string(value) + "' for " + found->name + ": " + e.what());
      }
      continue;
    }
    rest.emplace_back(arg);
  }
  if (rest.size() < positional_min_ || rest.size() > positional_max_) {
    if (positional_max_ == 0) fail("unexpected argument '" + rest.front() + "' (see --help)");
    fail("expected " + (positional_min_ == positional_max_ ? std::to_string(positional_min_)
                                                           : std::to_string(positional_min_) + ".." + std::to_string(positional_max_)) +
         " " + positional_metavar_ + " argument(s), got " + std::to_string(rest.size()));
  }
  return rest;
}

void announce_listening(std::string_view what, const Address& address) {
  std::printf("listening %.*s %s:%u\n", static_cast<int>(what.size()), what.data(), address.host().c_str(), address.port());
  std::fflush(stdout);
}

}  // namespace asyncore
