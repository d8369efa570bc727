// SHA-256 against the FIPS 180-4 examples and against the system's sha256sum.
#include "apps/messenger/sha256.h"

#include <doctest/doctest.h>

#include <fstream>
#include <random>

#include "test/support/testing.h"

using asyncore::messenger::Sha256;

TEST_CASE("known digests") {
  CHECK(Sha256::hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256::hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256::hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256 million;
  const std::string as(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.update(as);
  CHECK(million.hex_finish() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("split updates give the same digest as one, at every block boundary") {
  std::string data(300, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 13 + 7);
  for (std::size_t length : {55u, 56u, 63u, 64u, 65u, 119u, 120u, 128u, 300u}) {
    const std::string whole = Sha256::hex(data.substr(0, length));
    for (std::size_t cut = 0; cut <= length; cut += 7) {
      Sha256 split;
      split.update(data.substr(0, cut));
      split.update(data.substr(cut, length - cut));
      CHECK(split.hex_finish() == whole);
    }
  }
}

TEST_CASE("agrees with sha256sum on random data") {
  testing::TempDir dir;
  std::mt19937 random(42);
  std::string data(1 << 20, '\0');
  for (char& c : data) c = static_cast<char>(random());
  std::ofstream(dir.file("blob"), std::ios::binary) << data;
  auto result = testing::run({"sha256sum", dir.file("blob")});
  REQUIRE(result.code == 0);
  CHECK(result.out.substr(0, 64) == Sha256::hex(data));
}
