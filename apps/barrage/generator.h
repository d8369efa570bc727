// What the simulator broadcasts: generated messages (deterministic in room and sequence number,
// so tests can predict them) or the lines of a script file, one STT message a line.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace asyncore::barrage {

// The generated message `seq` of `room`: chatmsg five times in eight, then uenter, dgb and
// spbc. Every message carries `seq@=N`. Chat messages hold Chinese text, '/' and '@' (escaped
// on the wire), a nested `el` list of maps, and a duplicate `col` key whose first value is the
// real one. `large` pads the chat text so a chat packet exceeds 4 KiB.
std::string generated_message(long long room, uint64_t seq, bool large = false);

// The chat text of generated message `seq` (for tests that check what a client printed).
std::string generated_chat_text(uint64_t seq, bool large = false);
std::string generated_nickname(uint64_t seq);

// One STT message a line; blank lines are skipped. Throws std::runtime_error naming the line
// when a line is not a strictly valid STT map or the file cannot be read.
std::vector<std::string> load_script(const std::string& path);

class MessageSource {
 public:
  // An empty script means generated messages.
  MessageSource(std::vector<std::string> script, bool large) : script_(std::move(script)), large_(large) {}
  // Script lines repeat in order; generated ones follow the sequence number.
  std::string message(long long room, uint64_t seq) const;

 private:
  std::vector<std::string> script_;
  bool large_;
};

}  // namespace asyncore::barrage
