// File transfer between two msg-peer processes: 50 MiB intact (also with a receiver frozen by
// SIGSTOP mid-transfer, while the sender's memory stays bounded), an interrupted transfer leaves
// no file, and a raw sender cannot escape the inbox or get a bad file accepted.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "apps/messenger/file_protocol.h"
#include "apps/messenger/sha256.h"
#include "test/apps/messenger/peer_process.h"

using messenger_testing::Hub;
using messenger_testing::Peer;
using namespace asyncore::messenger;

namespace {

constexpr std::size_t kBigFile = 50 * 1024 * 1024;

// Writes `size` pseudo-random bytes and returns their SHA-256.
std::string write_random_file(const std::string& path, std::size_t size) {
  std::mt19937_64 random(7);
  std::ofstream out(path, std::ios::binary);
  Sha256 hash;
  std::string block(1 << 20, '\0');
  for (std::size_t done = 0; done < size; done += block.size()) {
    for (std::size_t i = 0; i + 8 <= block.size(); i += 8) {
      std::uint64_t v = random();
      std::memcpy(block.data() + i, &v, 8);
    }
    std::string_view piece(block.data(), std::min(block.size(), size - done));
    out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    hash.update(piece);
  }
  return hash.hex_finish();
}

std::string sha256sum(const std::string& path) {
  auto result = testing::run({"sha256sum", path});
  REQUIRE(result.code == 0);
  return result.out.substr(0, 64);
}

// Peak resident memory of a process, in KiB (VmHWM).
long peak_rss_kib(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::size_t entries(const std::string& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

// Two peers that see each other.
struct Pair {
  testing::TempDir dir;
  Hub hub{0.1, 30};
  Peer alice{"alice", hub.port, dir.file("alice-inbox")};
  Peer bob{"bob", hub.port, dir.file("bob-inbox"), {"--accept-files-from", "all"}};
  Pair() {
    for (Peer* p : {&alice, &bob}) {
      p->line_where([&](const std::string& l) { return l == "directory " + alice.entry() + " " + bob.entry(); });
    }
  }
};

}  // namespace

TEST_CASE("a 50 MiB file arrives intact even when the receiver freezes mid-transfer") {
  Pair pair;
  const std::string source = pair.dir.file("big.bin");
  const std::string sha = write_random_file(source, kBigFile);
  pair.alice.command("send bob " + source);
  // Freeze the receiver once the transfer is under way, then let it go on.
  CHECK(testing::eventually([&] { return entries(pair.dir.file("bob-inbox")) > 0; }, testing::Seconds(10)));
  pair.bob.child.signal(SIGSTOP);
  CHECK_FALSE(std::filesystem::exists(pair.dir.file("bob-inbox/big.bin")));  // really mid-transfer
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  pair.bob.child.signal(SIGCONT);
  const std::string expected = " big.bin " + std::to_string(kBigFile) + " " + sha;
  // The sender shows progress on the way, a line per tenth, before its "ok send".
  const std::string progress = pair.alice.line_starting("progress send bob " + source + " ", 60);
  CAPTURE(progress);
  CHECK(progress.ends_with("/" + std::to_string(kBigFile) + " bytes (10%)"));
  CHECK(pair.alice.line_starting("ok send", 60) == "ok send bob" + expected);
  // ... and so does the receiver, for each tenth that arrived (chunks are 1 MiB).
  constexpr std::size_t kMiB = 1024 * 1024;
  CHECK(pair.bob.line_starting("progress recv alice big.bin ", 60) ==
        "progress recv alice big.bin " + std::to_string((kBigFile / 10 + kMiB - 1) / kMiB * kMiB) + "/" +
            std::to_string(kBigFile) + " bytes (10%)");
  CHECK(pair.bob.line_starting("file ", 60) == "file alice" + expected);
  CHECK(sha256sum(pair.dir.file("bob-inbox/big.bin")) == sha);
  CHECK(entries(pair.dir.file("bob-inbox")) == 1);  // no temporary file left
  // Flow control: the sender never held the file in memory. (AddressSanitizer's quarantine keeps
  // freed chunks around, so the figure means nothing in a sanitizer build.)
  long peak = peak_rss_kib(pair.alice.child.pid());
  CAPTURE(peak);
  MESSAGE("sender peak RSS KiB: " << peak);
  CHECK(peak > 0);
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(peak < 32 * 1024);
#endif
}

TEST_CASE("killing the sender mid-transfer leaves no file under the final name") {
  Pair pair;
  const std::string source = pair.dir.file("cut.bin");
  write_random_file(source, 20 * 1024 * 1024);
  pair.bob.child.signal(SIGSTOP);  // so the transfer cannot finish before the kill
  pair.alice.command("send bob " + source);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  pair.alice.child.signal(SIGKILL);
  pair.bob.child.signal(SIGCONT);
  // Bob sees the connection end, drops the partial file, and carries on.
  CHECK(testing::eventually([&] { return entries(pair.dir.file("bob-inbox")) == 0; }, testing::Seconds(10)));
  CHECK_FALSE(std::filesystem::exists(pair.dir.file("bob-inbox/cut.bin")));
  pair.bob.command("peers");
  CHECK(pair.bob.line_starting("ok peers").rfind("ok peers", 0) == 0);
}

TEST_CASE("a raw sender cannot leave the inbox or get a bad file accepted") {
  Pair pair;
  testing::Client raw(pair.bob.port);
  auto chunk = [](const std::string& name, std::string_view body, const std::string& sha) {
    Header h{{"TP", "File"}, {"From", "mallory"}, {"Name", name}};
    h.set_int("Size", static_cast<std::int64_t>(body.size()));
    h.set_int("Offset", 0);
    h.set("SHA256", sha);
    return encode_frame(h, body);
  };
  raw.send_all(chunk("../escaped.txt", "x", Sha256::hex("x")));
  CHECK(pair.bob.line_starting("refused").rfind("refused mallory ../escaped.txt: ", 0) == 0);
  raw.send_all(chunk("/tmp/abs.txt", "x", Sha256::hex("x")));
  CHECK(pair.bob.line_starting("refused").find("path separator") != std::string::npos);
  raw.send_all(chunk("forged.txt", "content", Sha256::hex("other content")));
  CHECK(pair.bob.line_starting("refused").find("SHA-256 mismatch") != std::string::npos);
  raw.send_all(chunk("fine.txt", "content", Sha256::hex("content")));
  CHECK(pair.bob.line_starting("file ") == "file mallory fine.txt 7 " + Sha256::hex("content"));
  CHECK_FALSE(std::filesystem::exists(pair.dir.file("escaped.txt")));
  CHECK(entries(pair.dir.file("bob-inbox")) == 1);
  CHECK(pair.bob.child.stderr_text().find("refused file") != std::string::npos);
  // A text message on the same connection still works: refusals did not close it.
  raw.send_all(encode_frame(Header{{"TP", "Msg"}, {"From", "mallory"}}, "still connected"));
  CHECK(pair.bob.line_starting("msg ") == "msg mallory still connected");
}

namespace {

// The first chunk of a file: Offset 0, announcing `size` bytes.
std::string first_chunk(const std::string& from, const std::string& name, std::int64_t size, std::string_view body) {
  Header h{{"TP", "File"}, {"From", from}, {"Name", name}};
  h.set_int("Size", size);
  h.set_int("Offset", 0);
  if (static_cast<std::int64_t>(body.size()) == size) h.set("SHA256", Sha256::hex(body));
  return encode_frame(h, body);
}

std::size_t part_files(const std::string& inbox) {
  std::size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator(inbox)) n += e.path().extension() == ".part" ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("unsolicited files: who may send, how large, how many at once, and free disk are bounded") {
  testing::TempDir dir;
  Hub hub{0.1, 30};
  Peer alice{"alice", hub.port, dir.file("alice-inbox")};  // the default: no files from anyone
  Peer bob{"bob", hub.port, dir.file("bob-inbox"),
           {"--accept-files-from", "alice", "--max-file-size", "1048576", "--max-transfers-per-peer", "2",
            "--max-transfers", "3"}};
  for (Peer* p : {&alice, &bob}) {
    p->line_where([&](const std::string& l) { return l == "directory " + alice.entry() + " " + bob.entry(); });
  }
  auto refusal = [&](Peer& p) { return p.line_starting("refused "); };
  // Nobody asked alice for files.
  testing::Client to_alice(alice.port);
  to_alice.send_all(first_chunk("bob", "gift.txt", 4, "gift"));
  CHECK(refusal(alice) == "refused bob gift.txt: this peer accepts no files (--accept-files-from)");
  // bob takes files from alice only, and only from where the hub lists alice.
  testing::Client mallory(bob.port);
  mallory.send_all(first_chunk("mallory", "m.txt", 4, "mmmm"));
  CHECK(refusal(bob) == "refused mallory m.txt: files from this sender are not accepted (--accept-files-from)");
  testing::Client elsewhere(bob.port, "127.0.0.1", "127.0.0.2");
  elsewhere.send_all(first_chunk("alice", "a.txt", 4, "aaaa"));
  CHECK(refusal(bob) == "refused alice a.txt: the sender is not at the address the hub lists for alice");
  // Sizes past --max-file-size are refused before a byte is written.
  testing::Client huge(bob.port);
  huge.send_all(first_chunk("alice", "huge.bin", std::int64_t{1} << 50, std::string(1024, 'h')));
  CHECK(refusal(bob).find("Size 1125899906842624 is above the 1048576 bytes this peer accepts (--max-file-size)") !=
        std::string::npos);
  // 500 half-open transfers on one connection: two are kept, the rest refused.
  testing::Client half_open(bob.port);
  const long fds_before = testing::open_fds(bob.child.pid());
  for (int i = 0; i < 500; ++i) half_open.send_all(first_chunk("alice", "f" + std::to_string(i), 1000, "0123456789"));
  bob.line_starting("refused alice f499: ");
  CHECK(part_files(dir.file("bob-inbox")) == 2);
  CHECK(testing::open_fds(bob.child.pid()) - fds_before <= 3);  // the connection and two files
  // ... and a second connection gets one more, the total cap.
  testing::Client second(bob.port);
  second.send_all(first_chunk("alice", "g0", 1000, "0123456789"));
  second.send_all(first_chunk("alice", "g1", 1000, "0123456789"));
  CHECK(refusal(bob) == "refused alice g1: 3 transfers already in progress");
  CHECK(part_files(dir.file("bob-inbox")) == 3);
  // Meanwhile bob answers alice's messages at once, and alice's real file gets through once room is made.
  alice.command("msg bob hello");
  CHECK(bob.line_starting("msg ", 1) == "msg alice hello");
  half_open.close();
  CHECK(testing::eventually([&] { return part_files(dir.file("bob-inbox")) == 1; }));
  std::ofstream(dir.file("note.txt")) << "a note";
  alice.command("send bob " + dir.file("note.txt"));
  CHECK(bob.line_starting("file ") == "file alice note.txt 6 " + Sha256::hex("a note"));
  const std::string log = bob.child.stderr_text();
  CHECK(std::count(log.begin(), log.end(), '\n') < 10);  // 500 refusals: one logged in full
}

TEST_CASE("msg-peer refuses a file the disk cannot take with --min-free-disk to spare") {
  testing::TempDir dir;
  Hub hub{0.1, 30};
  Peer bob{"bob", hub.port, dir.file("bob-inbox"), {"--accept-files-from", "all", "--min-free-disk", "999999999999999999"}};
  testing::Client raw(bob.port);
  raw.send_all(first_chunk("alice", "x.txt", 4, "xxxx"));
  CHECK(bob.line_starting("refused ").find("refused alice x.txt: not enough free disk: ") == 0);
  CHECK(std::filesystem::is_empty(dir.file("bob-inbox")));
}

TEST_CASE("sending a missing file or to an unknown peer reports an error") {
  Pair pair;
  pair.alice.command("send bob " + pair.dir.file("missing.bin"));
  CHECK(pair.alice.line_starting("error send").find("No such file") != std::string::npos);
  pair.alice.command("send nobody /etc/hostname");
  CHECK(pair.alice.line_starting("error send") == "error send nobody /etc/hostname: unknown peer (not in the directory)");
}
