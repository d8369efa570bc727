#include "apps/messenger/header_text.h"

#include <algorithm>
#include <optional>
#include <unordered_set>
#include <vector>

#include "apps/messenger/frame_error.h"
#include <asyncore/json/utf8.h>

namespace asyncore::messenger {
namespace {

std::string item_position(std::size_t index, std::size_t offset) {
  return "header item #" + std::to_string(index + 1) + " (byte " + std::to_string(offset) + ")";
}

// Why `text` cannot travel as a key or value, or "" when it can.
std::string unsendable_reason(std::string_view text) {
  if (text.find(':') != std::string_view::npos) return "contains ':'";
  if (text.find(';') != std::string_view::npos) return "contains ';'";
  if (auto bad = first_invalid_utf8(text)) return "is not UTF-8 (byte " + std::to_string(*bad) + ")";
  return {};
}

void check_sendable(const Header::Item& item) {
  const auto& [key, value] = item;
  if (key.empty()) throw FrameError("cannot send header: empty key (value " + quoted_for_error(value) + ")");
  if (key == kLengthKey) {
    throw FrameError("cannot send header: key 'CL' is reserved, the encoder writes the body length itself");
  }
  if (auto why = unsendable_reason(key); !why.empty()) {
    throw FrameError("cannot send header: key " + quoted_for_error(key) + " " + why);
  }
  if (auto why = unsendable_reason(value); !why.empty()) {
    throw FrameError("cannot send header: value of key " + quoted_for_error(key) + " " + why);
  }
}

// The CL value; throws unless it is plain ASCII digits no larger than max_body.
std::size_t parse_body_size(std::string_view digits, std::size_t max_body, const std::string& where) {
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw FrameError(where + ": CL value " + quoted_for_error(digits) + " is not a decimal number");
  }
  std::size_t value = 0;
  for (char digit : digits) {
    value = value * 10 + static_cast<std::size_t>(digit - '0');
    // Stop before overflow can happen; anything past max_body is refused anyway.
    if (value > max_body) {
      throw FrameError(where + ": CL " + quoted_for_error(digits) + " is above max_body " + std::to_string(max_body));
    }
  }
  return value;
}

}  // namespace

std::string format_header_text(const Header& user_header, std::size_t body_size) {
  std::string length_item = std::string(kLengthKey) + ":" + std::to_string(body_size);
  std::size_t total = length_item.size();
  for (const auto& item : user_header) {
    check_sendable(item);
    total += 1 + item.first.size() + 1 + item.second.size();
  }
  if (total > kMaxHeaderBytes) {
    throw FrameError("cannot send header: it is " + std::to_string(total) + " bytes, above the " +
                     std::to_string(kMaxHeaderBytes) + " a frame can carry");
  }
  std::string text;
  text.reserve(total);
  text += length_item;
  for (const auto& [key, value] : user_header) {
    text += ';';
    text += key;
    text += ':';
    text += value;
  }
  return text;
}

ParsedHeader parse_header_text(std::string_view text, std::size_t max_body) {
  if (text.empty()) throw FrameError("header is empty: the CL item is missing");
  if (auto bad = first_invalid_utf8(text)) {
    throw FrameError("header is not valid UTF-8 at byte " + std::to_string(*bad));
  }
  std::vector<Header::Item> items;
  std::unordered_set<std::string_view> seen_keys;
  std::optional<std::size_t> body_size;
  std::size_t offset = 0;
  for (std::size_t index = 0;; ++index) {
    std::size_t end = std::min(text.find(';', offset), text.size());
    std::string_view item = text.substr(offset, end - offset);
    std::string where = item_position(index, offset);
    // Python's `key, value = item.split(':')` demands exactly one ':'.
    auto colons = static_cast<std::size_t>(std::count(item.begin(), item.end(), ':'));
    if (colons != 1) {
      throw FrameError(where + " " + quoted_for_error(item) + " is not KEY:VALUE (it has " + std::to_string(colons) +
                       " ':')");
    }
    std::size_t colon = item.find(':');
    std::string_view key = item.substr(0, colon);
    std::string_view value = item.substr(colon + 1);
    if (key.empty()) throw FrameError(where + " " + quoted_for_error(item) + " has an empty key");
    if (key == kLengthKey) {
      // The original Python Client echoes a received header back, CL included, so it sends
      // "CL:59;CL:59;...": the same length twice is harmless, a different one is ambiguous.
      std::size_t size = parse_body_size(value, max_body, where);
      if (body_size && *body_size != size) {
        throw FrameError(where + ": CL " + quoted_for_error(value) + " repeated with a different value (first " +
                         std::to_string(*body_size) + ")");
      }
      body_size = size;
    } else if (!seen_keys.insert(key).second) {
      throw FrameError(where + ": duplicate key " + quoted_for_error(key));
    } else {
      items.emplace_back(std::string(key), std::string(value));
    }
    if (end == text.size()) break;
    offset = end + 1;
  }
  if (!body_size) throw FrameError("header has no CL (body length) item");
  return ParsedHeader{Header::from_items(std::move(items)), *body_size};
}

}  // namespace asyncore::messenger
