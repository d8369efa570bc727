// How barrage-client prints a broadcast: one line each, as text for people or JSON for pipes.
#pragma once
#include <string>
#include <string_view>

#include "apps/barrage/stt.h"

namespace asyncore::barrage {

// `[room] nickname: text` for chatmsg; a short line for uenter, dgb and spbc; `[room] type`
// followed by the fields for anything else. Line breaks in values become spaces, so one message
// is always one line. `room` is used when the message carries no rid. No trailing newline.
void append_text_line(std::string& out, std::string_view room, const Fields& fields);

// One JSON object with every field as a string, in order; a key that occurs twice keeps its
// first value. No trailing newline.
void append_json_line(std::string& out, const Fields& fields);

// The protocol's own traffic (loginres, pingreq, mrkl, keeplive, error), which barrage-client
// does not print as broadcasts unless asked with --types.
bool is_control_type(std::string_view type);

}  // namespace asyncore::barrage
