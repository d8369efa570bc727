// FileDispatcher and LineReader on pipes, on a child's stdin, and on regular files, with each
// backend (epoll cannot poll regular files: the core treats them as always ready).
#include <asyncore/stream/file_dispatcher.h>

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <asyncore/asyncore.h>
#include <asyncore/stream/line_reader.h>
#include "test/dispatchers/chat/chat_fixtures.h"
#include "test/dispatchers/loop_helpers.h"
#include "test/support/testing.h"

using namespace asyncore;
using namespace dispatcher_tests;

namespace {

struct Pipe {
  Fd read_end, write_end;
};
Pipe make_pipe() {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  return {Fd(fds[0]), Fd(fds[1])};
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    REQUIRE(n > 0);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// What a LineReader reported.
struct Lines {
  std::vector<std::string> lines;
  std::vector<std::string> ends;  // on_end's argument, each time it was called
  LineReader::OnLine on_line() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
  LineReader::OnEnd on_end() {
    return [this](std::string_view problem) { ends.emplace_back(problem); };
  }
};

std::string numbered_lines(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += "line " + std::to_string(i) + "\n";
  return text;
}

// Counts the bytes it reads, `read_size` at a time.
class ByteCounter : public FileDispatcher {
 public:
  ByteCounter(Fd fd, ChannelMap* map, size_t read_size) : FileDispatcher(std::move(fd), map), read_size_(read_size) {}
  void handle_read() override {
    std::string chunk = recv(read_size_);
    data += chunk;
  }
  void handle_eof() override {
    ++eofs;
    close();
  }
  std::string data;
  int eofs = 0;

 private:
  size_t read_size_;
};

}  // namespace

TEST_CASE("LineReader on a pipe: CRLF, empty lines and a last line without newline") {
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    ChannelMap map;
    map.use_backend(backend);
    Pipe pipe = make_pipe();
    Lines got;
    LineReader reader(std::move(pipe.read_end), got.on_line(), got.on_end(), &map);
    write_all(pipe.write_end.get(), "first\r\n\nthi");
    REQUIRE(run_until(map, [&] { return got.lines.size() == 2; }));
    write_all(pipe.write_end.get(), "rd\nno newline at the end");
    pipe.write_end.reset();
    REQUIRE(run_until(map, [&] { return !got.ends.empty(); }));
    CHECK(got.lines == std::vector<std::string>{"first", "", "third", "no newline at the end"});
    CHECK(got.ends == std::vector<std::string>{""});
    CHECK_FALSE(reader.is_open());
    CHECK(reader.lines_read() == 4);
  }
}

TEST_CASE("a pipe whose writer left with much data still in it is read to the end") {
  // poll and epoll report such a pipe as hung up while data remains; nothing may be lost.
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    ChannelMap map;
    map.use_backend(backend);
    Pipe pipe = make_pipe();
    ::fcntl(pipe.write_end.get(), F_SETPIPE_SZ, 1024 * 1024);
    const int capacity = ::fcntl(pipe.write_end.get(), F_GETPIPE_SZ);
    REQUIRE(capacity >= 64 * 1024);
    const std::string data = pattern(static_cast<size_t>(capacity));
    write_all(pipe.write_end.get(), data);
    pipe.write_end.reset();
    ByteCounter counter(std::move(pipe.read_end), &map, 1000);
    REQUIRE(run_until(map, [&] { return !counter.is_open(); }));
    CHECK(counter.data.size() == data.size());
    CHECK(counter.data == data);
    CHECK(counter.eofs == 1);
  }
}

TEST_CASE("LineReader on a pipe whose writer left reads every line, and the last") {
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    ChannelMap map;
    map.use_backend(backend);
    Pipe pipe = make_pipe();
    ::fcntl(pipe.write_end.get(), F_SETPIPE_SZ, 1024 * 1024);
    const int capacity = ::fcntl(pipe.write_end.get(), F_GETPIPE_SZ);
    const int count = capacity / 16;  // "line NNNNN\n" is at most 11 bytes
    write_all(pipe.write_end.get(), numbered_lines(count) + "last");
    pipe.write_end.reset();
    Lines got;
    LineReader reader(std::move(pipe.read_end), got.on_line(), got.on_end(), &map);
    reader.read_size = 4096;
    REQUIRE(run_until(map, [&] { return !got.ends.empty(); }));
    REQUIRE(got.lines.size() == static_cast<size_t>(count) + 1);
    CHECK(got.lines[0] == "line 0");
    CHECK(got.lines[static_cast<size_t>(count) - 1] == "line " + std::to_string(count - 1));
    CHECK(got.lines.back() == "last");
    CHECK(got.ends == std::vector<std::string>{""});
  }
}

TEST_CASE("LineReader on a regular file, with each backend") {
  testing::TempDir dir;
  const std::string path = dir.file("lines.txt");
  std::ofstream(path) << numbered_lines(10000) << "tail";
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    ChannelMap map;
    map.use_backend(backend);
    Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(file);
    Lines got;
    LineReader reader(std::move(file), got.on_line(), got.on_end(), &map);
    reader.read_size = 1000;  // many reads, each one a pass of the loop
    REQUIRE(run_until(map, [&] { return !got.ends.empty(); }));
    REQUIRE(got.lines.size() == 10001);
    CHECK(got.lines[9999] == "line 9999");
    CHECK(got.lines[10000] == "tail");
    CHECK(got.ends == std::vector<std::string>{""});
  }
}

TEST_CASE("FileDispatcher writes a regular file, with each backend") {
  // Writes its queue whenever the loop says the file is writable (always, for a file).
  class FileWriter : public FileDispatcher {
   public:
    using FileDispatcher::FileDispatcher;
    bool writable() override { return offset < queued.size(); }
    void handle_write() override {
      offset += send(std::string_view(queued).substr(offset, 777));
      if (offset == queued.size()) close();
    }
    std::string queued;
    size_t offset = 0;
  };
  testing::TempDir dir;
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    const std::string path = dir.file(backend_label + ".out");
    ChannelMap map;
    map.use_backend(backend);
    Fd file(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    REQUIRE(file);
    FileWriter writer(std::move(file), &map);
    CHECK_FALSE(writer.readable());  // write-only: never polled for input
    writer.queued = pattern(100000);
    writer.recheck();
    REQUIRE(run_until(map, [&] { return !writer.is_open(); }));
    std::ifstream in(path, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    CHECK(content.str() == writer.queued);
  }
}

TEST_CASE("FileDispatcher on a pipe's write end: a full pipe takes nothing, a gone reader closes") {
  ChannelMap map;
  Pipe pipe = make_pipe();
  class Writer : public FileDispatcher {
   public:
    using FileDispatcher::FileDispatcher;
    void handle_close() override {
      ++closes;
      FileDispatcher::handle_close();
    }
    int closes = 0;
  } writer(std::move(pipe.write_end), &map);
  CHECK_FALSE(writer.readable());
  const std::string block(65536, 'w');
  size_t total = 0;
  size_t sent;
  while ((sent = writer.send(block)) > 0) total += sent;
  CHECK(total > 0);
  CHECK(writer.is_open());  // full, not broken: send() said "try later"
  pipe.read_end.reset();
  CHECK(writer.send(block) == 0);  // EPIPE (SIGPIPE is ignored by the map)
  CHECK(writer.closes == 1);
  CHECK_FALSE(writer.is_open());
}

TEST_CASE("FileDispatcher(int) works on a duplicate and leaves the caller's fd open") {
  ChannelMap map;
  Pipe pipe = make_pipe();
  {
    ByteCounter probe(Fd(::fcntl(pipe.read_end.get(), F_DUPFD_CLOEXEC, 0)), &map, 100);
    Lines got;
    LineReader reader(pipe.read_end.get(), got.on_line(), got.on_end(), &map);
    CHECK(reader.fileno() != pipe.read_end.get());
    CHECK((::fcntl(pipe.read_end.get(), F_GETFL) & O_NONBLOCK) != 0);  // shared by every duplicate
    probe.close();
    write_all(pipe.write_end.get(), "x\n");
    REQUIRE(run_until(map, [&] { return got.lines.size() == 1; }));
    reader.close();
  }
  CHECK(::fcntl(pipe.read_end.get(), F_GETFD) != -1);
}

TEST_CASE("an overlong line ends the LineReader with a reason naming the line") {
  ChannelMap map;
  Pipe pipe = make_pipe();
  Lines got;
  LineReader reader(std::move(pipe.read_end), got.on_line(), got.on_end(), &map);
  reader.max_line_length = 10;
  write_all(pipe.write_end.get(), "0123456789\r\n0123456789A\nnever\n");
  REQUIRE(run_until(map, [&] { return !got.ends.empty(); }));
  CHECK(got.lines == std::vector<std::string>{"0123456789"});
  CHECK(got.ends == std::vector<std::string>{"line 2 is longer than 10 bytes"});
  CHECK_FALSE(reader.is_open());
}

TEST_CASE("an overlong line split over many reads is skipped by an override that goes on") {
  class Skipping : public LineReader {
   public:
    using LineReader::LineReader;
    void handle_overlong_line() override { ++skipped; }
    int skipped = 0;
  };
  ChannelMap map;
  Pipe pipe = make_pipe();
  Lines got;
  Skipping reader(std::move(pipe.read_end), got.on_line(), got.on_end(), &map);
  reader.max_line_length = 8;
  write_all(pipe.write_end.get(), "ok\n");
  for (int i = 0; i < 5; ++i) {
    write_all(pipe.write_end.get(), "xxxxx");
    REQUIRE(run_until(map, [&] { return unread_bytes(reader.fileno()) == 0; }));  // one read each
  }
  write_all(pipe.write_end.get(), "\nafter\n");
  pipe.write_end.reset();
  REQUIRE(run_until(map, [&] { return !got.ends.empty(); }));
  CHECK(got.lines == std::vector<std::string>{"ok", "after"});
  CHECK(reader.skipped == 1);
  CHECK(got.ends == std::vector<std::string>{""});
}

TEST_CASE("LineReader on the stdin of a child program, with each backend") {
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    testing::Child child({testing::test_bin_path("stdin-lines"), "--backend", backend_label});
    child.write_stdin("hello\nwor");
    CHECK(child.read_line() == "line 1 hello");
    child.write_stdin("ld\r\n\n");
    CHECK(child.read_line() == "line 2 world");
    CHECK(child.read_line() == "line 3 ");
    child.write_stdin("unterminated");
    child.close_stdin();
    CHECK(child.read_line() == "line 4 unterminated");
    CHECK(child.read_line() == "end ok");
    CHECK(child.wait() == 0);
  }
}

TEST_CASE("the stdin helper reports an overlong line and exits with an error") {
  testing::Child child({testing::test_bin_path("stdin-lines"), "--max-line", "5"});
  child.write_stdin("12345\n123456\n");
  CHECK(child.read_line() == "line 1 12345");
  CHECK(child.read_line() == "end line 2 is longer than 5 bytes");
  CHECK(child.wait() == 2);
}

TEST_CASE("a regular file kept open after its end is simply no longer watched, with each backend") {
  // epoll cannot watch regular files; dropping the interest of one must not be an error.
  class KeepOpen : public ByteCounter {
   public:
    using ByteCounter::ByteCounter;
    void handle_eof() override { ++eofs; }  // stays open
    void handle_error(const std::exception& error) override {
      errors.emplace_back(error.what());
      close();
    }
    std::vector<std::string> errors;
  };
  testing::TempDir dir;
  const std::string path = dir.file("short.txt");
  std::ofstream(path) << "abc";
  for (BackendKind backend : kAllBackends) {
    const std::string backend_label = backend_name(backend);
    CAPTURE(backend_label);
    LogCapture log;
    ChannelMap map;
    map.use_backend(backend);
    KeepOpen reader(Fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), &map, 100);
    REQUIRE(run_until(map, [&] { return reader.eofs == 1; }));
    for (int i = 0; i < 5; ++i) map.poll_once(0.01);
    CHECK(reader.data == "abc");
    CHECK(reader.eofs == 1);
    CHECK(reader.errors.empty());
    CHECK(reader.is_open());
    reader.close();
    CHECK(log.all() == "");
  }
}
