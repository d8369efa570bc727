// describe_seconds: durations in log lines as people write them.
#include <doctest/doctest.h>

#include <asyncore/log.h>

using namespace asyncore;

TEST_CASE("describe_seconds: no trailing zeros, at most three decimals") {
  CHECK(describe_seconds(10) == "10 s");
  CHECK(describe_seconds(2.5) == "2.5 s");
  CHECK(describe_seconds(0.125) == "0.125 s");
  CHECK(describe_seconds(3.0184) == "3.018 s");
  CHECK(describe_seconds(120.0) == "120 s");
  CHECK(describe_seconds(0) == "0 s");
  CHECK(describe_seconds(0.0001) == "0 s");
  CHECK(describe_seconds(-0.0001) == "0 s");
  CHECK(describe_seconds(86400.5) == "86400.5 s");
}
