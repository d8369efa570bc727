// The relay's pure pieces: progress lines, record names, config lines (UTF-8: test/dispatchers/json/utf8_test.cpp).
#include <doctest/doctest.h>

#include "apps/sync/config.h"
#include "apps/sync/names.h"
#include "apps/sync/progress_line.h"

using namespace asyncore::sync;

TEST_CASE("PROGRESS P and PROGRESS I/M set the progress; anything else is a log line") {
  CHECK(parse_progress("PROGRESS 0") == 0);
  CHECK(parse_progress("PROGRESS 100") == 100);
  CHECK(parse_progress("PROGRESS 42\r") == 42);
  CHECK(parse_progress("PROGRESS 3/10") == 30);
  CHECK(parse_progress("PROGRESS 2/3") == 66);
  CHECK(parse_progress("PROGRESS 7/7") == 100);
  for (const char* line : {"PROGRESS 101", "PROGRESS -1", "PROGRESS", "PROGRESS ", "PROGRESS 5%", "PROGRESS 3/0",
                           "PROGRESS 4/3", "PROGRESS /3", "PROGRESS 1/", "progress 5", " PROGRESS 5", "PROGRESS 5 "}) {
    CAPTURE(line);
    CHECK(!parse_progress(line));
  }
}

TEST_CASE("names match [A-Za-z0-9_.:-]{1,128}") {
  CHECK(valid_name("a"));
  CHECK(valid_name("Order-2024_01.v2:7"));
  CHECK(valid_name(std::string(128, 'x')));
  CHECK(!valid_name(""));
  CHECK(!valid_name(std::string(129, 'x')));
  for (const char* bad : {"a b", "a/b", "a\\b", "{id}", "$x", "a\n", "é", "a;b", "*"}) CHECK_MESSAGE(!valid_name(bad), bad);
}

TEST_CASE("command and config lines split into words at spaces and tabs") {
  using Words = std::vector<std::string_view>;
  CHECK(words("") == Words{});
  CHECK(words(" \t ") == Words{});
  CHECK(words("sync crm 42") == Words{"sync", "crm", "42"});
  CHECK(words("\t status  7 \t") == Words{"status", "7"});
  CHECK(words("a\rb c\r") == Words{"a\rb", "c\r"});  // only ' ' and '\t' separate
}

TEST_CASE("config lines: TYPE TIMEOUT PROGRAM ARG..., with {type} and {id} replaced") {
  SyncPrograms programs = parse_config("# comment\n\ncrm 30 /usr/bin/crm-sync --record {type}/{id} -v\r\nerp 1.5 erp-sync\n", "f.conf");
  REQUIRE(programs.size() == 2);
  CHECK(programs.at("crm").timeout_seconds == 30);
  CHECK(expand_argv(programs.at("crm"), "crm", "7") ==
        std::vector<std::string>{"/usr/bin/crm-sync", "--record", "crm/7", "-v"});
  CHECK(programs.at("erp").timeout_seconds == 1.5);
  for (const char* bad : {"crm 30", "crm x /bin/true", "crm 0 /bin/true", "crm -3 /bin/true", "c/rm 3 /bin/true",
                          "crm 3 /bin/true\ncrm 4 /bin/true"}) {
    CAPTURE(bad);
    try {
      parse_config(std::string("ok 1 /bin/true\n") + bad, "f.conf");
      FAIL("accepted");
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      CHECK((message.starts_with("f.conf:2:") || message.starts_with("f.conf:3:")));
    }
  }
  CHECK(demo_programs("/x/sync-server").at("demo").argv.front() == "/x/sync-server");
}
