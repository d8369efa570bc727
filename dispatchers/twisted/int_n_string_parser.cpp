#include <asyncore/twisted/int_n_string_parser.h>

#include <stdexcept>

namespace asyncore {

void IntNFormat::validate() const {
  if (prefix_bytes != 1 && prefix_bytes != 2 && prefix_bytes != 4) {
    throw std::invalid_argument("IntNFormat: prefix_bytes must be 1, 2 or 4 (got " + std::to_string(prefix_bytes) + ")");
  }
  if (byte_order != std::endian::big && byte_order != std::endian::little) {
    throw std::invalid_argument("IntNFormat: byte_order must be big or little");
  }
}

uint64_t IntNFormat::max_encodable() const {
  uint64_t max_prefix = (uint64_t{1} << (8 * prefix_bytes)) - 1;
  return prefix_counted ? max_prefix - prefix_bytes : max_prefix;
}

IntNStringParser::IntNStringParser(IntNFormat format) : format_(format) { format_.validate(); }

void IntNStringParser::feed(std::string_view data) {
  if (failed_) return;
  if (begin_ > 0 && begin_ * 2 >= buffer_.size()) {
    buffer_.erase(0, begin_);
    begin_ = 0;
  }
  buffer_.append(data);
}

uint64_t IntNStringParser::read_prefix(const char* bytes) const {
  uint64_t value = 0;
  const unsigned n = format_.prefix_bytes;
  for (unsigned i = 0; i < n; ++i) {
    unsigned index = format_.byte_order == std::endian::big ? i : n - 1 - i;
    value = (value << 8) | static_cast<unsigned char>(bytes[index]);
  }
  return value;
}

std::optional<IntNStringParser::Item> IntNStringParser::next() {
  const size_t prefix = format_.prefix_bytes;
  if (failed_ || buffered() < prefix) return std::nullopt;
  uint64_t length = read_prefix(buffer_.data() + begin_);
  if (format_.prefix_counted) {
    if (length < prefix) {
      failed_ = true;
      return Item{Item::Kind::bad_length, {}, length};
    }
    length -= prefix;
  }
  if (length > format_.max_length) {
    failed_ = true;
    return Item{Item::Kind::too_long, {}, length};
  }
  if (buffered() - prefix < length) return std::nullopt;
  Item item{Item::Kind::string, buffer_.substr(begin_ + prefix, length), length};
  begin_ += prefix + length;
  if (begin_ == buffer_.size()) {
    buffer_.clear();
    begin_ = 0;
  }
  return item;
}

std::string IntNStringParser::encode(std::string_view payload, const IntNFormat& format) {
  format.validate();
  if (payload.size() > format.max_encodable()) {
    throw std::length_error("IntNStringParser::encode: a string of " + std::to_string(payload.size()) +
                            " bytes does not fit a " + std::to_string(8 * format.prefix_bytes) + "-bit length prefix");
  }
  uint64_t value = payload.size() + (format.prefix_counted ? format.prefix_bytes : 0);
  std::string out(format.prefix_bytes, '\0');
  for (unsigned i = 0; i < format.prefix_bytes; ++i) {
    unsigned index = format.byte_order == std::endian::little ? i : format.prefix_bytes - 1 - i;
    out[index] = static_cast<char>((value >> (8 * i)) & 0xff);
  }
  out.append(payload);
  return out;
}

}  // namespace asyncore
