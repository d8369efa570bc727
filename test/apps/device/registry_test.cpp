// The registry file: what it accepts, and the file:line message for each malformed line.
#include <doctest/doctest.h>

#include <string>

#include "apps/device/registry.h"

using namespace asyncore::device;

namespace {

std::string error_of(std::string_view text) {
  try {
    parse_registry(text, "devices.txt");
  } catch (const RegistryError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("entries, comments, blank lines and locked devices") {
  auto entries = parse_registry("# fleet A\n\n860000000000001 s3cret\n  860000000000002\tother  locked \r\n", "f");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].imei.str() == "860000000000001");
  CHECK(entries[0].secret == "s3cret");
  CHECK_FALSE(entries[0].locked);
  CHECK(entries[1].imei.str() == "860000000000002");
  CHECK(entries[1].secret == "other");
  CHECK(entries[1].locked);
}

TEST_CASE("malformed lines name the file and the line") {
  CHECK(error_of("860000000000001 a\n860000000000002\n") == "devices.txt:2: expected 'IMEI SECRET' or 'IMEI SECRET locked'");
  CHECK(error_of("\n\n86000000000000 a\n") == "devices.txt:3: IMEI must be 15 digits, not '86000000000000'");
  CHECK(error_of("86000000000000x a\n") == "devices.txt:1: IMEI must be 15 digits, not '86000000000000x'");
  CHECK(error_of("860000000000001 a unlocked\n") == "devices.txt:1: third field must be 'locked', not 'unlocked'");
  CHECK(error_of("860000000000001 a locked extra\n") == "devices.txt:1: too many fields (expected 'IMEI SECRET [locked]')");
  CHECK(error_of("860000000000001 a\n# c\n860000000000001 b\n") == "devices.txt:3: IMEI 860000000000001 is listed twice");
}

TEST_CASE("IMEIs keep their leading zeros") {
  auto imei = Imei::parse("000000000000042");
  REQUIRE(imei);
  CHECK(imei->number() == 42);
  CHECK(imei->str() == "000000000000042");
  CHECK_FALSE(Imei::parse("12345678901234567"));
}

TEST_CASE("token comparison") {
  CHECK(tokens_equal("secret", "secret"));
  CHECK_FALSE(tokens_equal("secreT", "secret"));
  CHECK_FALSE(tokens_equal("secret", "secret-longer"));
  CHECK_FALSE(tokens_equal("", "secret"));
  CHECK(tokens_equal("", ""));
}
