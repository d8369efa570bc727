// device-server and a journal damaged in the middle: it refuses to start, naming the file and
// the offset, instead of truncating 49 acknowledged commands away; journal-check --fix keeps a
// backup and drops only the damaged record.
#include <filesystem>
#include <fstream>
#include <iterator>

#include "test/apps/device/device_harness.h"

using namespace device_test;

TEST_CASE("one flipped byte mid-journal: refused with file and offset; journal-check --fix keeps the other 49 commands") {
  testing::TempDir dir;
  const std::string imei = "862000000000001";
  std::ofstream(dir.file("registry")) << imei << " tok\n";
  const std::vector<std::string> flags = {"--registry", dir.file("registry")};
  {
    Server server = Server::start(dir.file("data"), flags);
    for (int i = 0; i < 50; ++i) {
      const std::string body = R"({"type":104,"text":"cmd)" + std::to_string(i) + R"("})";
      REQUIRE(post_command(server.admin, imei, "queue", body).body["result"] == "QUEUED");
    }
    CHECK(server.stop() == 0);
  }
  const std::string journal = dir.file("data/device.journal");
  std::string bytes;
  {
    std::ifstream in(journal, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t at = bytes.find("cmd25");
  REQUIRE(at != std::string::npos);
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  std::ofstream(journal, std::ios::binary | std::ios::trunc) << bytes;

  std::vector<std::string> argv = {testing::bin_path("device-server"), "--port", "0", "--admin-port", "0",
                                   "--data-dir", dir.file("data")};
  argv.insert(argv.end(), flags.begin(), flags.end());
  testing::RunResult refused = testing::run(argv);
  CHECK(refused.code == 1);
  CHECK(refused.err.find(journal) != std::string::npos);
  CHECK(refused.err.find("at offset ") != std::string::npos);
  CHECK(refused.err.find("journal-check --fix") != std::string::npos);

  testing::RunResult check = testing::run({testing::bin_path("journal-check"), journal});
  CHECK(check.code == 1);
  testing::RunResult fixed = testing::run({testing::bin_path("journal-check"), "--fix", journal});
  CHECK(fixed.code == 0);
  CHECK(fixed.out.find("fixed: ") != std::string::npos);
  std::size_t backups = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("data"))) {
    if (entry.path().filename().string().starts_with("device.journal.corrupt-")) {
      ++backups;
      CHECK(std::filesystem::file_size(entry.path()) == bytes.size());  // the damaged original, whole
    }
  }
  CHECK(backups == 1);

  Server server = Server::start(dir.file("data"), flags);
  CHECK(metric(server.admin, "device_queued_commands") == 49);
  CHECK(server.stop() == 0);
}
