// Terminator and TerminatorScanner: asynchat's input splitting as a pure value type and a
// socket-free state machine, so the loop, tests and the fuzzer all drive the same code.
//
// A terminator is what asynchat's set_terminator() accepts: a byte string ("\r\n"), a byte
// count (read exactly n bytes), or none (deliver everything as it comes). As in Python, a
// count counts down as bytes arrive and is 0 once reached, and 0 or "" behave like none.
#pragma once
#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <asyncore/stream/byte_buffer.h>

namespace asyncore {

class Terminator {
 public:
  enum class Kind { none, bytes, count };

  Terminator() = default;                 // none
  Terminator(std::nullptr_t) {}           // none, as Python's None
  Terminator(const char* bytes) : Terminator(std::string_view(bytes)) {}
  Terminator(std::string_view bytes) : kind_(Kind::bytes), bytes_(bytes) {}
  Terminator(const std::string& bytes) : Terminator(std::string_view(bytes)) {}
  // A byte count; negative counts throw std::invalid_argument (asynchat raises ValueError).
  template <std::integral T>
    requires(!std::is_same_v<T, bool> && !std::is_same_v<T, char>)
  Terminator(T count) : kind_(Kind::count), count_(static_cast<size_t>(count)) {
    if constexpr (std::is_signed_v<T>) {
      if (count < 0) throw_negative_count(count);
    }
  }

  static Terminator none() { return {}; }

  Kind kind() const { return kind_; }
  // None, a count of 0 and an empty string all mean "no terminator" (Python's `not terminator`).
  bool is_none() const { return kind_ == Kind::none || (kind_ == Kind::count ? count_ == 0 : bytes_.empty()); }
  const std::string& bytes() const { return bytes_; }  // "" unless kind() == bytes
  size_t count() const { return count_; }              // 0 unless kind() == count
  std::string to_string() const;                       // "none", "count 5", "bytes \"\\r\\n\""

  bool operator==(const Terminator& other) const = default;

 private:
  [[noreturn]] static void throw_negative_count(long long count);
  Kind kind_ = Kind::none;
  size_t count_ = 0;
  std::string bytes_;
};

// asynchat.find_prefix_at_end: the length of the longest proper prefix of `needle` that ends
// `haystack` ("qwerty\r", "\r\n" -> 1). Assumes the whole needle is not in the haystack.
size_t find_prefix_at_end(std::string_view haystack, std::string_view needle);

// The incoming side of async_chat's handle_read, pulled piece by piece:
//
//   scanner.append(received);
//   while (auto piece = scanner.next()) {
//     if (!piece->data.empty()) collect_incoming_data(piece->data);
//     if (piece->terminated) found_terminator();   // may call set_terminator()
//   }
//
// A terminator split across appends is found: a tail that could start it is held back until
// more bytes arrive, so between appends the scanner keeps fewer bytes than the terminator has.
// Every byte is copied once and scanned a bounded number of times (no quadratic slicing).
//
// Not the LineSplitter (<asyncore/stream/line_splitter.h>) on purpose: asynchat hands data out
// as it arrives (collect_incoming_data streams a line that is still growing; nothing assembles
// whole lines, and its bound is AsyncChat::max_incoming on what was collected), and besides byte
// strings its terminators are counts and none, switched between any two pieces.
class TerminatorScanner {
 public:
  struct Piece {
    std::string_view data;  // valid until the next call on the scanner
    bool terminated;        // the terminator ended this piece (it is not part of data)
  };

  void set_terminator(Terminator terminator) { terminator_ = std::move(terminator); }
  const Terminator& terminator() const { return terminator_; }

  void append(std::string_view bytes);
  std::optional<Piece> next();
  // Bytes appended but not yet handed out by next() (including a held-back partial terminator).
  size_t buffered() const { return buffer_.size() - consumed_; }
  void clear();  // drops buffered input (discard_buffers); the terminator stays
  // Gives back the read-sized storage once little is held, so idle connections stay small.
  // Invalidates the last Piece.
  void shrink();

 private:
  void apply_consumed();
  Terminator terminator_;
  ByteBuffer buffer_;
  size_t consumed_ = 0;  // handed out by the last next(); dropped at the next call
};

}  // namespace asyncore
