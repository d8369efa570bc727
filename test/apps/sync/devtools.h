// A headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
// the browser reads NUL-terminated JSON commands on fd 3 and writes replies on fd 4), so a test
// can load a page and watch it in real time; --dump-dom with virtual time races ahead of a
// sync that runs in real time. Every wait is bounded; the destructor kills the browser's
// process group.
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <asyncore/json/json.h>
#include "test/support/testing.h"

extern char** environ;

namespace devtools {

namespace json = asyncore::json;

// The browser binary, installing Debian's chromium when it is missing and we are root.
// nullopt (with the reason in `why`) when there is none and it cannot be installed.
inline std::optional<std::string> find_chromium(std::string& why) {
  auto lookup = []() -> std::optional<std::string> {
    for (const char* dir : {"/usr/bin/", "/usr/local/bin/", "/bin/"}) {
      for (const char* name : {"chromium", "chromium-browser"}) {
        std::string path = std::string(dir) + name;
        if (::access(path.c_str(), X_OK) == 0) return path;
      }
    }
    return std::nullopt;
  };
  if (auto found = lookup()) return found;
  if (::geteuid() != 0) {
    why = "chromium is not installed and the test is not root (apt-get install -y chromium)";
    return std::nullopt;
  }
  auto install = testing::run({"apt-get", "install", "-y", "-q", "chromium"}, testing::Seconds(600));
  if (install.code != 0) {
    testing::run({"apt-get", "update", "-q"}, testing::Seconds(300));
    install = testing::run({"apt-get", "install", "-y", "-q", "chromium"}, testing::Seconds(600));
  }
  if (auto found = lookup()) return found;
  why = "chromium could not be installed: " + install.err.substr(0, 300);
  return std::nullopt;
}

class Browser {
 public:
  Browser(const std::string& chromium, const std::string& profile_dir, const std::string& log_file) {
    int to_browser[2], from_browser[2];
    if (::pipe2(to_browser, O_CLOEXEC) != 0 || ::pipe2(from_browser, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    std::vector<std::string> args{chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                                  "--disable-sync", "--user-data-dir=" + profile_dir, "--window-size=1000,800",
                                  "--remote-debugging-pipe", "about:blank"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_adddup2(&actions, to_browser[0], 3);
    posix_spawn_file_actions_adddup2(&actions, from_browser[1], 4);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);  // its own group: killed as a whole
    posix_spawnattr_setpgroup(&attr, 0);
    const int error = ::posix_spawn(&pid_, chromium.c_str(), &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(to_browser[0]);
    ::close(from_browser[1]);
    write_fd_ = to_browser[1];
    read_fd_ = from_browser[0];
    if (error != 0) {
      pid_ = -1;
      throw std::runtime_error("cannot start " + chromium);
    }
  }
  ~Browser() {
    if (write_fd_ >= 0) ::close(write_fd_);  // the browser exits when its pipe closes
    if (read_fd_ >= 0) ::close(read_fd_);
    if (pid_ > 0) {
      for (int i = 0; i < 50 && ::waitpid(pid_, nullptr, WNOHANG) == 0; ++i) ::usleep(20000);
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  // Sends a command and waits for its result (throws on an error reply or a timeout).
  json::Value call(const std::string& method, json::Object params = {}, const std::string& session = {},
                   testing::Seconds timeout = testing::Seconds(15)) {
    const int64_t id = ++last_id_;
    json::Object message{{"id", id}, {"method", method}, {"params", std::move(params)}};
    if (!session.empty()) message.append("sessionId", session);
    std::string text = json::dump(message);
    text.push_back('\0');
    for (size_t sent = 0; sent < text.size();) {
      const ssize_t n = ::write(write_fd_, text.data() + sent, text.size() - sent);
      if (n <= 0) throw std::runtime_error("the browser's pipe closed");
      sent += static_cast<size_t>(n);
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    for (;;) {
      json::Value reply = next_message(deadline);
      const json::Value* reply_id = reply.get("id");
      if (!reply_id || !reply_id->is_int() || reply_id->as_int() != id) continue;  // an event or another reply
      if (const json::Value* error = reply.get("error")) throw std::runtime_error(method + ": " + json::dump(*error));
      return reply["result"];
    }
  }

  // Opens a page and returns the session to talk to it.
  std::string open(const std::string& url) {
    const std::string target = call("Target.createTarget", json::Object{{"url", "about:blank"}})["targetId"].as_string();
    const std::string session =
        call("Target.attachToTarget", json::Object{{"targetId", target}, {"flatten", true}})["sessionId"].as_string();
    call("Page.enable", {}, session);
    call("Page.navigate", json::Object{{"url", url}}, session);
    return session;
  }

  // The value of a JavaScript expression in the page (returned by value).
  json::Value evaluate(const std::string& session, const std::string& expression) {
    json::Value result =
        call("Runtime.evaluate", json::Object{{"expression", expression}, {"returnByValue", true}}, session);
    if (result.get("exceptionDetails")) throw std::runtime_error("evaluate: " + json::dump(result["exceptionDetails"]));
    const json::Value* value = result["result"].get("value");
    return value ? *value : json::Value();
  }

  void screenshot(const std::string& session, const std::string& png_path) {
    json::Value shot = call("Page.captureScreenshot", json::Object{{"format", "png"}}, session);
    std::ofstream(png_path, std::ios::binary) << base64_decode(shot["data"].as_string());
  }

 private:
  json::Value next_message(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (size_t end = buffer_.find('\0'); end != std::string::npos) {
        std::string text = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return json::parse(text);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) throw std::runtime_error("the browser did not answer in time");
      pollfd p{read_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::read(read_fd_, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error("the browser closed its pipe");
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  static std::string base64_decode(const std::string& text) {
    std::string out;
    unsigned value = 0;
    int bits = 0;
    for (char c : text) {
      int digit;
      if (c >= 'A' && c <= 'Z') digit = c - 'A';
      else if (c >= 'a' && c <= 'z') digit = c - 'a' + 26;
      else if (c >= '0' && c <= '9') digit = c - '0' + 52;
      else if (c == '+') digit = 62;
      else if (c == '/') digit = 63;
      else continue;  // padding
      value = (value << 6) | static_cast<unsigned>(digit);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push_back(static_cast<char>((value >> bits) & 0xFF));
      }
    }
    return out;
  }

  pid_t pid_ = -1;
  int write_fd_ = -1;
  int read_fd_ = -1;
  int64_t last_id_ = 0;
  std::string buffer_;
};

}  // namespace devtools
