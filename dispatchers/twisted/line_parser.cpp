#include <asyncore/twisted/line_parser.h>

namespace asyncore {

LineParser::LineParser(std::string delimiter, size_t max_length)
    : splitter_(max_length, OverlongLine::error, std::move(delimiter)) {}

std::optional<LineParser::Item> LineParser::next() {
  if (buffered() == 0) return std::nullopt;
  if (!line_mode_) return Item{Item::Kind::raw, splitter_.take_buffered()};
  auto item = splitter_.next();
  if (!item) return std::nullopt;
  const auto kind = item->kind == LineSplitter::Kind::too_long ? Item::Kind::too_long : Item::Kind::line;
  return Item{kind, std::string(item->data)};
}

}  // namespace asyncore
