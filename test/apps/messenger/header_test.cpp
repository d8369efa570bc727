#include "apps/messenger/header.h"

#include <doctest/doctest.h>

#include <stdexcept>

using asyncore::messenger::Header;

TEST_CASE("Header keeps insertion order and replaces values in place") {
  Header header;
  header.set("ID", "alice");
  header.set("Port", "9001");
  header.set("ID", "bob");
  REQUIRE(header.size() == 2);
  CHECK(header.items()[0] == Header::Item{"ID", "bob"});
  CHECK(header.items()[1] == Header::Item{"Port", "9001"});
  CHECK(header.get("ID") == "bob");
  CHECK(header.get("Missing", "default") == "default");
  CHECK(header.find("Missing") == nullptr);
  CHECK(header.contains("Port"));
}

TEST_CASE("Header integers travel as decimal strings") {
  Header header;
  header.set_int("Port", 9001);
  header.set_int("Offset", -42);
  header.set_int("Big", 9007199254740993LL);
  CHECK(header.get("Port") == "9001");
  CHECK(header.get("Offset") == "-42");
  CHECK(header.get_int("Port") == 9001);
  CHECK(header.get_int("Offset") == -42);
  CHECK(header.get_int("Big") == 9007199254740993LL);
  header.set("Text", "12abc");
  header.set("Plus", "+5");
  header.set("Space", " 5");
  header.set("Empty", "");
  header.set("Huge", "99999999999999999999999");
  CHECK_FALSE(header.get_int("Text"));
  CHECK_FALSE(header.get_int("Plus"));
  CHECK_FALSE(header.get_int("Space"));
  CHECK_FALSE(header.get_int("Empty"));
  CHECK_FALSE(header.get_int("Huge"));
  CHECK_FALSE(header.get_int("Missing"));
}

TEST_CASE("Header erase and equality follow order") {
  Header a{{"A", "1"}, {"B", "2"}, {"A", "3"}};
  REQUIRE(a.size() == 2);
  CHECK(a.get("A") == "3");
  CHECK(a.items()[0].first == "A");
  Header b{{"B", "2"}, {"A", "3"}};
  CHECK(a != b);
  CHECK(a.erase("A"));
  CHECK_FALSE(a.erase("A"));
  b.erase("A");
  CHECK(a == b);
}

TEST_CASE("Header::from_items keeps order and refuses a repeated key") {
  Header header = Header::from_items({{"Z", "1"}, {"A", "2"}});
  CHECK(header.items()[0].first == "Z");
  CHECK(header.items()[1].first == "A");
  CHECK_THROWS_WITH_AS(Header::from_items({{"K", "1"}, {"J", ""}, {"K", "2"}}), "duplicate header key 'K'",
                       std::invalid_argument);
}
