// STT, Douyu's text serialization: `KEY@=VALUE/` per map pair, `ITEM/` per list
// item, `@` -> `@A` and `/` -> `@S` escaping, one more escaping level per
// nesting level. Decoding goes one layer at a time: a nested value stays text
// until the caller decodes it as a map or a list (text alone cannot tell).
//
//   std::string wire = encode(Map{{"type", "loginreq"}, {"roomid", 58839}});
//   Fields chat = decode_map(text, Mode::lenient);
//   std::string_view nickname = chat.get("nn");
//   Items badges = decode_list(chat.get("el"));
#pragma once
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "apps/barrage/stt_value.h"

namespace asyncore::barrage {

// Malformed STT text (offset: byte in the decoded text) or a value that cannot
// be encoded (offset: byte in the offending key or text).
class SttError : public std::runtime_error {
 public:
  SttError(const std::string& message, size_t offset) : std::runtime_error(message), offset_(offset) {}
  size_t offset() const { return offset_; }

 private:
  size_t offset_;
};

// strict rejects an unknown escape (`@B`), a lone `@` ending a key, value or
// item, a map item without `@=`, an empty map item and a NUL byte; lenient
// keeps odd escapes and NULs literally, treats an item without `@=` as a key
// with an empty value and skips empty map items. skip_empty is strict except
// that empty map items are skipped: what the real server evidently tolerates
// from clients (pydouyu's heartbeat `type@=keeplive/tick@=N//`).
enum class Mode { strict, skip_empty, lenient };

// ---- encoding (throws SttError on a NUL byte, naming where it is) ----
std::string escape(std::string_view text);
void append_escaped(std::string& out, std::string_view text);
std::string encode(const Map& map);
std::string encode(const List& list);
void append_encoded(std::string& out, const Map& map);
void append_encoded(std::string& out, const List& list);

// ---- decoding one layer ----
std::string unescape(std::string_view text, Mode mode = Mode::strict);

// A decoded map layer: ordered key/value text pairs held in one buffer, so a
// message costs two allocations (none when a Fields is reused with
// decode_map_into). Views stay valid until the Fields changes or dies.
class Fields {
 public:
  struct Entry {
    std::string_view key;
    std::string_view value;
  };
  class Iterator {
   public:
    Iterator(const Fields* owner, size_t index) : owner_(owner), index_(index) {}
    Entry operator*() const { return (*owner_)[index_]; }
    Iterator& operator++() { ++index_; return *this; }
    bool operator==(const Iterator& other) const = default;

   private:
    const Fields* owner_;
    size_t index_;
  };

  size_t size() const { return spans_.size(); }
  bool empty() const { return spans_.empty(); }
  Entry operator[](size_t index) const;
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, spans_.size()); }

  // The first pair with this key wins.
  std::optional<std::string_view> find(std::string_view key) const;
  std::string_view get(std::string_view key, std::string_view fallback = {}) const;
  bool contains(std::string_view key) const { return find(key).has_value(); }
  // nullopt when the key is missing or its value is not a whole decimal integer.
  std::optional<long long> get_int(std::string_view key) const;

  Map to_map() const;  // every value as text, for re-encoding or storage
  void clear();

 private:
  friend void decode_map_into(std::string_view text, Fields& out, Mode mode);
  struct Span {
    size_t key_begin;
    size_t key_size;
    size_t value_size;  // the value follows the key in text_
  };
  std::string text_;
  std::vector<Span> spans_;
};

// A decoded list layer: ordered items held in one buffer, like Fields.
class Items {
 public:
  class Iterator {
   public:
    Iterator(const Items* owner, size_t index) : owner_(owner), index_(index) {}
    std::string_view operator*() const { return (*owner_)[index_]; }
    Iterator& operator++() { ++index_; return *this; }
    bool operator==(const Iterator& other) const = default;

   private:
    const Items* owner_;
    size_t index_;
  };

  size_t size() const { return spans_.size(); }
  bool empty() const { return spans_.empty(); }
  std::string_view operator[](size_t index) const;
  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, spans_.size()); }

  List to_list() const;  // every item as text
  void clear();

 private:
  friend void decode_list_into(std::string_view text, Items& out, Mode mode);
  struct Span {
    size_t begin;
    size_t size;
  };
  std::string text_;
  std::vector<Span> spans_;
};

// A missing final `/` is tolerated; `k@=/` is an empty value; "" is an empty
// map or list; list items may be empty ("/a//" is "", "a", "").
Fields decode_map(std::string_view text, Mode mode = Mode::strict);
Items decode_list(std::string_view text, Mode mode = Mode::strict);
// The same into an existing object, reusing its buffers (the hot path). On an
// error `out` is left cleared.
void decode_map_into(std::string_view text, Fields& out, Mode mode = Mode::strict);
void decode_list_into(std::string_view text, Items& out, Mode mode = Mode::strict);

}  // namespace asyncore::barrage
