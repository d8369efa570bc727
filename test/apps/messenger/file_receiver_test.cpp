// The inbox side of TP:File: names, order, sizes and checksums are checked, and nothing but a
// verified file ever appears under its final name.
#include "apps/messenger/file_receiver.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/messenger/file_name.h"
#include "apps/messenger/file_protocol.h"
#include "apps/messenger/frame.h"
#include "test/support/testing.h"

using namespace asyncore::messenger;
using Kind = FileOutcome::Kind;

namespace {

Header chunk_header(std::string name, std::uint64_t size, std::uint64_t offset, std::string sha = {}) {
  Header h{{"TP", "File"}, {"From", "alice"}, {"Name", std::move(name)}};
  h.set_int("Size", static_cast<std::int64_t>(size));
  h.set_int("Offset", static_cast<std::int64_t>(offset));
  if (!sha.empty()) h.set("SHA256", std::move(sha));
  return h;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every entry of the folder (hidden ones too).
std::size_t entries(const std::string& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("file names are checked") {
  CHECK_FALSE(file_name_problem("report.pdf"));
  CHECK_FALSE(file_name_problem("报告 final.txt"));
  for (std::string bad : std::initializer_list<std::string>{"", ".", "..", "../x", "/etc/passwd", "a/b", "a\\b", ".hidden", std::string("a\0b", 3),
                          std::string("a\nb"), std::string(201, 'x')}) {
    CAPTURE(bad);
    CHECK(file_name_problem(bad));
  }
  CHECK(base_name("/tmp/dir/file.bin") == "file.bin");
  CHECK(base_name("file.bin") == "file.bin");
  CHECK(base_name("dir/") == "dir");
}

TEST_CASE("chunks in order with the right checksum make the file") {
  testing::TempDir dir;
  FileReceiver receiver(dir.file("inbox"));
  std::string data(2500, 'q');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i);
  auto a = receiver.receive("c", chunk_header("f.bin", data.size(), 0), data.substr(0, 1000));
  CHECK(a.kind == Kind::in_progress);
  CHECK_FALSE(std::filesystem::exists(dir.file("inbox/f.bin")));
  CHECK(entries(dir.file("inbox")) == 1);  // the temporary file
  CHECK(receiver.receive("c", chunk_header("f.bin", data.size(), 1000), data.substr(1000, 1000)).kind == Kind::in_progress);
  auto done = receiver.receive("c", chunk_header("f.bin", data.size(), 2000, Sha256::hex(data)), data.substr(2000));
  CHECK(done.kind == Kind::complete);
  CHECK(done.sha256 == Sha256::hex(data));
  CHECK(slurp(dir.file("inbox/f.bin")) == data);
  CHECK(entries(dir.file("inbox")) == 1);
  // An empty file is one empty chunk.
  CHECK(receiver.receive("c", chunk_header("empty", 0, 0, Sha256::hex("")), "").kind == Kind::complete);
  CHECK(std::filesystem::file_size(dir.file("inbox/empty")) == 0);
}

TEST_CASE("a wrong checksum, a gap, or a bad size leaves nothing") {
  testing::TempDir dir;
  FileReceiver receiver(dir.path());
  auto r = receiver.receive("c", chunk_header("x", 4, 0, Sha256::hex("nope")), "data");
  CHECK(r.kind == Kind::refused);
  CHECK(r.reason.find("SHA-256 mismatch") != std::string::npos);
  CHECK(receiver.receive("c", chunk_header("y", 4, 0), "da").kind == Kind::in_progress);
  CHECK(receiver.receive("c", chunk_header("y", 4, 3), "a").kind == Kind::refused);  // gap
  CHECK(receiver.receive("c", chunk_header("y", 4, 3, Sha256::hex("data")), "a").kind == Kind::ignored);  // after refusal
  CHECK(receiver.receive("c", chunk_header("z", 2, 0), "long").kind == Kind::refused);  // past Size
  CHECK(receiver.receive("c", chunk_header("w", 4, 2), "ta").kind == Kind::refused);   // no start
  CHECK(receiver.receive("c", chunk_header("v", 4, 0), "tail").kind == Kind::refused);  // last chunk without SHA256
  Header no_size{{"TP", "File"}, {"Name", "u"}, {"Offset", "0"}};
  CHECK(receiver.receive("c", no_size, "").kind == Kind::refused);
  std::string big(kMaxChunkBytes + 1, 'b');
  CHECK(receiver.receive("c", chunk_header("big", big.size(), 0), big).kind == Kind::refused);
  CHECK(entries(dir.path()) == 0);
}

TEST_CASE("names that would leave the inbox or follow a link are refused") {
  testing::TempDir dir;
  std::filesystem::create_directory(dir.file("inbox"));
  FileReceiver receiver(dir.file("inbox"));
  for (std::string name : std::initializer_list<std::string>{"../escape", "/tmp/abs", "sub/x", "..", ".hidden"}) {
    auto r = receiver.receive("c", chunk_header(name, 1, 0, Sha256::hex("e")), "e");
    CAPTURE(name);
    CHECK(r.kind == Kind::refused);
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("escape")));
  REQUIRE(::symlink(dir.file("target").c_str(), dir.file("inbox/link").c_str()) == 0);
  auto r = receiver.receive("c", chunk_header("link", 1, 0, Sha256::hex("e")), "e");
  CHECK(r.kind == Kind::refused);
  CHECK(r.reason.find("link") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("target")));
  CHECK(entries(dir.file("inbox")) == 1);  // just the link
}

TEST_CASE("a closed connection or a destroyed receiver removes partial files") {
  testing::TempDir dir;
  {
    FileReceiver receiver(dir.path());
    CHECK(receiver.receive("c1", chunk_header("a", 10, 0), "12345").kind == Kind::in_progress);
    CHECK(receiver.receive("c2", chunk_header("a", 10, 0), "12345").kind == Kind::in_progress);
    CHECK(entries(dir.path()) == 2);
    receiver.connection_closed("c1");
    CHECK(entries(dir.path()) == 1);
    CHECK(receiver.in_progress() == 1);
  }
  CHECK(entries(dir.path()) == 0);
}
