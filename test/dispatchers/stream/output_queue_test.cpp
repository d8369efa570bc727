// OutputQueue: order, copies versus references, consumption by offset, memory given back when
// drained; checked against a plain string model over random operations.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include <asyncore/stream/output_queue.h>

using asyncore::OutputQueue;
using asyncore::SharedBytes;

namespace {

// Everything the queue would send, in order, as gather() hands it out.
std::string contents(const OutputQueue& q) {
  iovec pieces[1024];
  size_t n = q.gather(pieces, 1024);
  std::string out;
  for (size_t i = 0; i < n; ++i) out.append(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
  return out;
}

SharedBytes shared(std::string text) { return std::make_shared<const std::string>(std::move(text)); }

}  // namespace

TEST_CASE("an empty queue holds nothing and gathers nothing") {
  OutputQueue q;
  CHECK(q.empty());
  CHECK(q.size() == 0);
  CHECK(q.front().empty());
  iovec piece;
  CHECK(q.gather(&piece, 1) == 0);
  q.consume(10);  // harmless
  q.append("");
  q.append(shared("abc"), 2, 2);
  q.append(nullptr, 0, 5);
  CHECK(q.empty());
}

TEST_CASE("copies: consecutive appends share one piece, consumed by offset") {
  OutputQueue q;
  std::string source = "hello";
  q.append(source);
  source = "XXXXX";  // a copy was taken
  q.append(", world");
  CHECK(q.size() == 12);
  iovec pieces[4];
  CHECK(q.gather(pieces, 4) == 1);
  CHECK(contents(q) == "hello, world");
  q.consume(7);
  CHECK(q.front() == "world");
  CHECK(q.size() == 5);
  q.consume(5);
  CHECK(q.empty());
}

TEST_CASE("shared bytes are referenced, not copied, and released once sent") {
  SharedBytes batch = shared("AAAABBBBCCCC");
  OutputQueue q;
  q.append(batch, 0, 4);
  q.append(batch, 4, 8);  // the next range of the same buffer: the same piece
  iovec pieces[4];
  REQUIRE(q.gather(pieces, 4) == 1);
  CHECK(pieces[0].iov_base == batch->data());  // no copy
  CHECK(pieces[0].iov_len == 8);
  CHECK(batch.use_count() == 2);

  q.append("-copy-");
  q.append(batch, 8, std::string::npos);  // end past the buffer: up to its end
  CHECK(contents(q) == "AAAABBBB-copy-CCCC");
  CHECK(q.gather(pieces, 4) == 3);
  CHECK(q.gather(pieces, 2) == 2);  // bounded by the caller's array
  CHECK(batch.use_count() == 3);

  q.consume(9);  // into the copied piece: the first reference is dropped at once
  CHECK(batch.use_count() == 2);
  CHECK(q.front() == "copy-");
  q.consume(q.size());
  CHECK(q.empty());
  CHECK(batch.use_count() == 1);
}

TEST_CASE("a range of another buffer, or a gap in the same one, is a piece of its own") {
  SharedBytes a = shared("0123456789"), b = shared("abcdef");
  OutputQueue q;
  q.append(a, 0, 3);
  q.append(a, 5, 7);  // not adjacent
  q.append(b, 0, 2);
  q.append(a, 7, 10);  // adjacent to a piece that is no longer the last
  iovec pieces[8];
  CHECK(q.gather(pieces, 8) == 4);
  CHECK(contents(q) == "01256ab789");
}

TEST_CASE("random appends and partial sends keep every byte in order (against a string model)") {
  std::mt19937 rng(8);
  for (int round = 0; round < 50; ++round) {
    OutputQueue q;
    std::string model;
    std::string text(20000, 'x');
    for (size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>('a' + i % 26);
    SharedBytes batch = shared(std::move(text));
    size_t appended = 0;
    for (int step = 0; step < 400; ++step) {
      switch (rng() % 3) {
        case 0: {
          std::string piece(rng() % 6000, static_cast<char>('A' + step % 26));
          q.append(piece);
          model += piece;
          appended += piece.size();
          break;
        }
        case 1: {
          size_t begin = rng() % batch->size(), end = begin + rng() % 3000;
          q.append(batch, begin, end);
          model += batch->substr(begin, end - begin);
          break;
        }
        default: {
          size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
          q.consume(n);
          model.erase(0, n);
        }
      }
      REQUIRE(q.size() == model.size());
      REQUIRE(q.empty() == model.empty());
      REQUIRE(contents(q) == model);
    }
    q.consume(q.size());
    CHECK(batch.use_count() == 1);
    CHECK(appended > 0);
  }
}
