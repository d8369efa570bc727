// The relay's web page: self-contained HTML with inline CSS and JavaScript (no external files).
// A form (type, id, "Sync Up") and the recent jobs, each with a progress bar and its log. The
// page polls a running job's log about twice a second and stops when the job ends.
// `/?autostart=TYPE:ID` presses Sync Up by itself (for scripted checks in a headless browser).
#pragma once
#include <string_view>

namespace asyncore::sync {

std::string_view page_html();

}  // namespace asyncore::sync
