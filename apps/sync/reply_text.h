// sync-client's readable form of the server's replies, for a person at a terminal (scripts get
// the JSON line itself). Pure functions of the reply: no I/O.
#pragma once
#include <string>
#include <string_view>

#include <asyncore/json/json.h>

namespace asyncore::sync {

// The reply to `verb` (sync, status, log, cancel, jobs, quit) as lines of text ending in '\n'.
// Times are shown as UTC dates, durations as "3 s", stderr lines marked "[stderr]". An error
// reply is "error: <why>\n".
std::string reply_text(std::string_view verb, const json::Value& reply);

}  // namespace asyncore::sync
