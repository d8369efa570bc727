#include "apps/barrage/generator.h"

#include <array>
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

Map chat(long long room, uint64_t seq, bool large) {
  Map badges{{"eid", 1500 + static_cast<int>(seq % 7)}, {"etp", 1}, {"sc", 1}, {"ef", 0}};
  Map extra{{"eid", 4}, {"etp", 2}, {"sc", 3}, {"ef", 1}};
  return Map{
      {"type", "chatmsg"},
      {"rid", room},
      {"seq", seq_text(seq)},
      {"ct", 2},
      {"uid", static_cast<long long>(10000000 + seq % 1000)},
      {"nn", generated_nickname(seq)},
      {"txt", generated_chat_text(seq, large)},
      {"cid", "c" + seq_text(seq) + "0a1b2c"},
      {"ic", "avatar/face/2019/" + seq_text(seq % 97)},
      {"level", static_cast<int>(1 + seq % 60)},
      {"sahf", 0},
      {"col", static_cast<int>(seq % 6)},
      {"bnn", "粉丝团"},
      {"bl", static_cast<int>(seq % 30)},
      {"brid", room},
      {"el", List{badges, extra}},
      {"col", 9},  // a duplicate key: receivers keep the first value
  };
}

Map user_enter(long long room, uint64_t seq) {
  return Map{{"type", "uenter"}, {"rid", room}, {"seq", seq_text(seq)},
             {"uid", static_cast<long long>(20000000 + seq % 1000)}, {"nn", generated_nickname(seq + 1)},
             {"level", static_cast<int>(seq % 40)}, {"ic", "avatar/" + seq_text(seq % 13)}, {"nl", 0}};
}

Map gift(long long room, uint64_t seq) {
  return Map{{"type", "dgb"}, {"rid", room}, {"seq", seq_text(seq)}, {"gfid", static_cast<int>(824 + seq % 5)},
             {"gs", 0}, {"uid", static_cast<long long>(30000000 + seq % 1000)}, {"nn", generated_nickname(seq + 2)},
             {"str", 1000}, {"level", static_cast<int>(seq % 50)}, {"gfcnt", static_cast<int>(1 + seq % 9)},
             {"hits", static_cast<int>(1 + seq % 20)}};
}

Map gift_broadcast(long long room, uint64_t seq) {
  return Map{{"type", "spbc"}, {"rid", room}, {"seq", seq_text(seq)}, {"sn", generated_nickname(seq + 3)},
             {"dn", "主播/大人"}, {"gn", std::string(gift_names[seq % gift_names.size()])},
             {"gc", static_cast<int>(1 + seq % 3)}, {"drid", room}, {"gs", 6}, {"gb", 1}, {"es", 1},
             {"gfid", 196}, {"eid", 196}, {"bgl", 3}, {"ifs", 1}};
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
    case 5: return encode(user_enter(room, seq));
    case 6: return encode(gift(room, seq));
    case 7: return encode(gift_broadcast(room, seq));
    default: return encode(chat(room, seq, large));
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
