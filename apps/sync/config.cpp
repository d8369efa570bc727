#include "apps/sync/config.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "apps/sync/demo.h"
#include "apps/sync/names.h"

namespace asyncore::sync {
namespace {

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

}  // namespace

SyncPrograms parse_config(std::string_view text, std::string_view file_name) {
  SyncPrograms programs;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    auto fail = [&](const std::string& reason) {
      throw ConfigError(std::string(file_name) + ":" + std::to_string(line_number) + ": " + reason);
    };
    auto fields = words(line);
    if (fields.empty() || fields[0].starts_with('#')) continue;
    if (fields.size() < 3) fail("expected 'TYPE TIMEOUT_SECONDS PROGRAM ARG...'");
    if (!valid_name(fields[0])) fail("bad type '" + std::string(fields[0]) + "' (must match " + std::string(kNamePattern) + ")");
    double timeout = 0;
    auto [end, error] = std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), timeout);
    if (error != std::errc() || end != fields[1].data() + fields[1].size() || !std::isfinite(timeout) || timeout <= 0 ||
        timeout > 7 * 86400) {
      fail("bad timeout '" + std::string(fields[1]) + "' (seconds, more than 0, at most a week)");
    }
    if (programs.contains(fields[0])) fail("type '" + std::string(fields[0]) + "' is configured twice");
    SyncProgram program;
    program.timeout_seconds = timeout;
    for (std::size_t i = 2; i < fields.size(); ++i) program.argv.emplace_back(fields[i]);
    programs.emplace(std::string(fields[0]), std::move(program));
  }
  return programs;
}

SyncPrograms load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  SyncPrograms programs = parse_config(text.str(), path);
  if (programs.empty()) throw ConfigError(path + ": no record type is configured");
  return programs;
}

SyncPrograms demo_programs(const std::string& self) {
  SyncPrograms programs;
  programs.emplace("demo", SyncProgram{60, {self, std::string(kDemoFlag), "{type}", "{id}"}});
  return programs;
}

std::vector<std::string> expand_argv(const SyncProgram& program, std::string_view type, std::string_view id) {
  std::vector<std::string> argv = program.argv;
  for (std::string& arg : argv) {
    // Valid names hold no braces, so a substituted value is never expanded again.
    replace_all(arg, "{type}", type);
    replace_all(arg, "{id}", id);
  }
  return argv;
}

}  // namespace asyncore::sync
