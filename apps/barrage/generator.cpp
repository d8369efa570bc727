#include "apps/barrage/generator.h"

#include <array>
#include <charconv>
#include <fstream>
#include <stdexcept>

#include "apps/barrage/stt.h"

namespace asyncore::barrage {
namespace {

// Nicknames and texts in the style of a Douyu room; several carry the characters STT escapes.
constexpr std::array<std::string_view, 6> nicknames = {
    "小明", "观众/甲", "@主播粉丝", "夜猫子", "a@S不是转义", "火箭少女",
};
constexpr std::array<std::string_view, 7> texts = {
    "主播好厉害！", "666666", "路径 a/b/c 和邮箱 fan@douyu.com", "@A@S 原样显示 @=",
    "这波操作我给满分/", "早上好，各位", "弹幕护体 ///@@@",
};
constexpr std::array<std::string_view, 4> gift_names = {"火箭", "飞机", "办卡", "鱼丸"};

std::string seq_text(uint64_t seq) { return std::to_string(seq); }

// Writes KEY@=VALUE/ pairs straight into a string: the text encode() makes of a Map holding the
// same pairs, without building the Map (a simulator room generates every message it sends).
// Keys are plain literals here; values are escaped.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  Writer& text(std::string_view key, std::string_view value) {
    out_.append(key).append("@=");
    append_escaped(out_, value);
    out_ += '/';
    return *this;
  }
  Writer& number(std::string_view key, long long value) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out_.append(key).append("@=").append(digits, end) += '/';  // digits need no escaping
    return *this;
  }

 private:
  std::string& out_;
};

// The `el` badge list: a list of two maps, each serialized and escaped once as a list item.
std::string badges(uint64_t seq) {
  std::string badge, extra, list;
  Writer(badge).number("eid", 1500 + static_cast<int>(seq % 7)).number("etp", 1).number("sc", 1).number("ef", 0);
  Writer(extra).number("eid", 4).number("etp", 2).number("sc", 3).number("ef", 1);
  append_escaped(list, badge);
  list += '/';
  append_escaped(list, extra);
  list += '/';
  return list;
}

std::string chat(long long room, uint64_t seq, bool large) {
  std::string out;
  out.reserve(large ? 8192 : 512);
  Writer(out)
      .text("type", "chatmsg")
      .number("rid", room)
      .text("seq", seq_text(seq))
      .number("ct", 2)
      .number("uid", static_cast<long long>(10000000 + seq % 1000))
      .text("nn", nicknames[seq % nicknames.size()])
      .text("txt", generated_chat_text(seq, large))
      .text("cid", "c" + seq_text(seq) + "0a1b2c")
      .text("ic", "avatar/face/2019/" + seq_text(seq % 97))
      .number("level", static_cast<int>(1 + seq % 60))
      .number("sahf", 0)
      .number("col", static_cast<int>(seq % 6))
      .text("bnn", "粉丝团")
      .number("bl", static_cast<int>(seq % 30))
      .number("brid", room)
      .text("el", badges(seq))
      .number("col", 9);  // a duplicate key: receivers keep the first value
  return out;
}

std::string user_enter(long long room, uint64_t seq) {
  std::string out;
  Writer(out)
      .text("type", "uenter")
      .number("rid", room)
      .text("seq", seq_text(seq))
      .number("uid", static_cast<long long>(20000000 + seq % 1000))
      .text("nn", nicknames[(seq + 1) % nicknames.size()])
      .number("level", static_cast<int>(seq % 40))
      .text("ic", "avatar/" + seq_text(seq % 13))
      .number("nl", 0);
  return out;
}

std::string gift(long long room, uint64_t seq) {
  std::string out;
  Writer(out)
      .text("type", "dgb")
      .number("rid", room)
      .text("seq", seq_text(seq))
      .number("gfid", static_cast<int>(824 + seq % 5))
      .number("gs", 0)
      .number("uid", static_cast<long long>(30000000 + seq % 1000))
      .text("nn", nicknames[(seq + 2) % nicknames.size()])
      .number("str", 1000)
      .number("level", static_cast<int>(seq % 50))
      .number("gfcnt", static_cast<int>(1 + seq % 9))
      .number("hits", static_cast<int>(1 + seq % 20));
  return out;
}

std::string gift_broadcast(long long room, uint64_t seq) {
  std::string out;
  Writer(out)
      .text("type", "spbc")
      .number("rid", room)
      .text("seq", seq_text(seq))
      .text("sn", nicknames[(seq + 3) % nicknames.size()])
      .text("dn", "主播/大人")
      .text("gn", gift_names[seq % gift_names.size()])
      .number("gc", static_cast<int>(1 + seq % 3))
      .number("drid", room)
      .number("gs", 6)
      .number("gb", 1)
      .number("es", 1)
      .number("gfid", 196)
      .number("eid", 196)
      .number("bgl", 3)
      .number("ifs", 1);
  return out;
}

}  // namespace

std::string generated_nickname(uint64_t seq) { return std::string(nicknames[seq % nicknames.size()]); }

std::string generated_chat_text(uint64_t seq, bool large) {
  std::string text = std::string(texts[seq % texts.size()]) + " #" + seq_text(seq);
  if (large) {
    // About 5 KiB of Chinese (3 bytes a character) with separators that need escaping.
    while (text.size() < 5000) text += " 弹幕长文/@测试";
  }
  return text;
}

std::string generated_message(long long room, uint64_t seq, bool large) {
  switch (seq % 8) {
    case 5: return user_enter(room, seq);
    case 6: return gift(room, seq);
    case 7: return gift_broadcast(room, seq);
    default: return chat(room, seq, large);
  }
}

std::vector<std::string> load_script(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read script " + path);
  std::vector<std::string> lines;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    try {
      decode_map(line, Mode::strict);
      if (line.find('\0') != std::string::npos) throw std::runtime_error("NUL byte");
    } catch (const std::exception& error) {
      throw std::runtime_error("script " + path + " line " + std::to_string(number) + ": " + error.what());
    }
    lines.push_back(std::move(line));
  }
  if (lines.empty()) throw std::runtime_error("script " + path + " holds no message");
  return lines;
}

std::string MessageSource::message(long long room, uint64_t seq) const {
  if (script_.empty()) return generated_message(room, seq, large_);
  return script_[seq % script_.size()];
}

}  // namespace asyncore::barrage
