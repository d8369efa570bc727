// The command port's line protocol and its bad input: each gets the contract's reply and the
// server keeps serving everyone else.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include "test/apps/sync/sync_testing.h"

using namespace sync_testing;

namespace {

std::string error_of(const json::Value& reply) {
  CHECK(reply["ok"].as_bool() == false);
  CHECK(reply.size() == 2);  // exactly {"ok":false,"error":...}
  return reply["error"].as_string();
}

// The server still answers a fresh connection.
void still_serving(int port) {
  json::Value reply = command(port, "jobs");
  CHECK(reply["ok"].as_bool() == true);
}

}  // namespace

TEST_CASE("several commands on one connection get one reply line each, in order") {
  testing::TempDir dir;
  Server server(dir);
  testing::Client client(server.port);
  client.send_all("sync echo a1\nstatus 1\njobs 5\nbogus\nlog 1\r\n");
  std::vector<json::Value> replies;
  for (int i = 0; i < 5; ++i) replies.push_back(json::parse(client.recv_until("\n")));
  CHECK(json::dump(replies[0]) == R"({"ok":true,"job":1,"state":"queued"})");
  CHECK(replies[1]["job"].as_int() == 1);
  CHECK(replies[1]["type"].as_string() == "echo");
  for (const char* field : {"ok", "job", "type", "id", "state", "progress", "created", "started", "ended", "exit"}) {
    CHECK_MESSAGE(replies[1].get(field) != nullptr, field);
  }
  CHECK(replies[2]["jobs"].size() == 1);
  CHECK(error_of(replies[3]).find("unknown command") != std::string::npos);
  CHECK(replies[4]["job"].as_int() == 1);  // a CRLF line is still one command
  CHECK(replies[4].get("next") != nullptr);
}

TEST_CASE("a last command without a newline still runs when the client half-closes") {
  testing::TempDir dir;
  Server server(dir);
  testing::Client client(server.port);
  client.send_all("sync echo h1\nsync echo h2");
  client.shutdown_write();
  std::string all = client.recv_to_eof();
  CHECK(all == "{\"ok\":true,\"job\":1,\"state\":\"queued\"}\n{\"ok\":true,\"job\":2,\"state\":\"queued\"}\n");
  CHECK(wait_final(server.port, 2)["state"].as_string() == "succeeded");
}

TEST_CASE("a command without a newline runs once the client pauses (--quiet-gap); its late newline is no second command") {
  testing::TempDir dir;
  Server server(dir);
  testing::Client client(server.port);
  client.send_all("sync echo q1");  // as asyncore's dispatcher_with_send sends it, and then waits
  CHECK(json::dump(json::parse(client.recv_until("\n"))) == R"({"ok":true,"job":1,"state":"queued"})");
  client.send_all("\r\n");  // a client that sends the line end late
  client.send_all("status 99\n");
  CHECK(error_of(json::parse(client.recv_until("\n"))) == "no job 99");
  client.send_all("\n");  // an empty line otherwise is still an error
  CHECK(error_of(json::parse(client.recv_until("\n"))) == "empty command");
}

TEST_CASE("bad commands get an error reply and the connection goes on") {
  testing::TempDir dir;
  Server server(dir);
  testing::Client client(server.port);
  CHECK(error_of(command(client, "frobnicate 1")).find("frobnicate") != std::string::npos);
  CHECK(!error_of(command(client, "")).empty());
  for (std::string bad : {"status x", "status 0", "status -1", "status 99999999999999999999", "cancel 1.5", "log abc"}) {
    CAPTURE(bad);
    CHECK(error_of(command(client, bad)).find("bad job number") != std::string::npos);
  }
  CHECK(error_of(command(client, "status 42")) == "no job 42");
  CHECK(error_of(command(client, "log 42")) == "no job 42");
  CHECK(error_of(command(client, "cancel 42")) == "no job 42");
  CHECK(!error_of(command(client, "log 1 x")).empty());
  CHECK(!error_of(command(client, "jobs 0")).empty());
  CHECK(!error_of(command(client, "jobs many")).empty());
  CHECK(!error_of(command(client, "sync echo")).empty());           // exactly two words
  CHECK(!error_of(command(client, "sync echo a b")).empty());
  CHECK(error_of(command(client, "sync nosuchtype a")).find("unknown type") != std::string::npos);
  CHECK(command(client, "jobs")["jobs"].size() == 0);  // none of that made a job
}

TEST_CASE("a TYPE or ID outside [A-Za-z0-9_.:-]{1,128} is refused before any process starts") {
  testing::TempDir dir;
  Server server(dir);
  testing::Client client(server.port);
  const std::string long_name(129, 'a');
  for (std::string bad : std::vector<std::string>{"sync echo a/b", "sync echo ../x", "sync echo $(id)", "sync echo a;b", "sync e*o x",
                          "sync echo " + long_name, "sync echo \xC3\xA9t\xC3\xA9", "sync echo {id}"}) {
    CAPTURE(bad);
    std::string error = error_of(command(client, bad));
    CHECK(error.find("[A-Za-z0-9_.:-]{1,128}") != std::string::npos);
  }
  // The fixture would have written the pid file of a hang; the echo jobs would be listed.
  CHECK(command(client, "jobs")["jobs"].size() == 0);
  json::Value fine = command(client, "sync echo " + std::string(128, 'b'));
  CHECK(fine["ok"].as_bool());
  CHECK(command(client, "sync echo A-z_0.9:x")["ok"].as_bool());
}

TEST_CASE("an over-long line gets an error and the connection closes; others are unaffected") {
  testing::TempDir dir;
  Server server(dir);
  testing::Client bystander(server.port);
  CHECK(command(bystander, "jobs")["ok"].as_bool());

  // 4096 bytes with the '\n' is the most a line may have.
  testing::Client fits(server.port);
  const std::string longest = "jobs" + std::string(4091, ' ');
  REQUIRE(longest.size() + 1 == 4096);
  CHECK(command(fits, longest)["ok"].as_bool());

  for (size_t size : {size_t{4096}, size_t{5000}, size_t{200000}}) {
    CAPTURE(size);
    testing::Client client(server.port);
    client.send_all("jobs 1\n" + std::string(size, 'x') + "\nsync echo after\n");
    std::string all = client.recv_to_eof();
    const size_t newline = all.find('\n');
    REQUIRE(newline != std::string::npos);
    CHECK(json::parse(all.substr(0, newline))["ok"].as_bool());
    std::string rest = all.substr(newline + 1);
    REQUIRE(!rest.empty());
    CHECK(rest.back() == '\n');
    CHECK(error_of(json::parse(rest)).find("longer than 4096") != std::string::npos);
  }
  CHECK(command(bystander, "jobs")["jobs"].size() == 0);  // "sync echo after" never ran
  still_serving(server.port);
}

TEST_CASE("a line that is not UTF-8 gets an error and the connection goes on") {
  testing::TempDir dir;
  Server server(dir);
  testing::Client client(server.port);
  for (std::string bad : {"sync echo \xff", "status \xc3", "\xed\xa0\x80", "jobs \xc0\xaf"}) {
    CHECK(error_of(command(client, bad)).find("UTF-8") != std::string::npos);
  }
  CHECK(command(client, "jobs")["ok"].as_bool());
}

TEST_CASE("clients that vanish mid-command, or reset, do not disturb the server") {
  testing::TempDir dir;
  Server server(dir);
  {
    testing::Client client(server.port);
    client.send_all("sync ech");
    client.reset();  // RST with a partial command
  }
  {
    testing::Client client(server.port);
    client.send_all("status 1\nsync echo v");
    client.close();  // gone without reading its replies; the half-closed last command still runs
  }
  {
    testing::Client client(server.port);
    client.send_all(std::string(3000, 'z'));
    client.close();
  }
  testing::Client other(server.port);
  CHECK(testing::eventually([&] { return command(other, "jobs")["jobs"].size() == 1; }));
  json::Value jobs = command(other, "jobs");
  CHECK(jobs["jobs"][0]["id"].as_string() == "v");
  still_serving(server.port);
}

TEST_CASE("quit from a loopback peer answers, then the server stops gracefully") {
  testing::TempDir dir;
  Server server(dir);
  testing::Client client(server.port);
  CHECK(json::dump(command(client, "quit extra")) != R"({"ok":true})");
  CHECK(json::dump(command(client, "quit")) == R"({"ok":true})");
  CHECK(server.child->wait(testing::Seconds(10)) == 0);
  CHECK(testing::run({testing::bin_path("sync-client"), "--port", std::to_string(server.port), "jobs"}).code == 3);
}
