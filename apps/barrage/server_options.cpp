#include "apps/barrage/server_options.h"

#include <stdexcept>

namespace asyncore::barrage {

SendMode parse_send_mode(std::string_view name) {
  if (name == "normal") return SendMode::normal;
  if (name == "coalesce") return SendMode::coalesce;
  if (name == "split") return SendMode::split;
  if (name == "large") return SendMode::large;
  throw std::invalid_argument("must be normal, coalesce, split or large");
}

const char* send_mode_name(SendMode mode) {
  switch (mode) {
    case SendMode::normal: return "normal";
    case SendMode::coalesce: return "coalesce";
    case SendMode::split: return "split";
    case SendMode::large: return "large";
  }
  return "?";
}

double ServerOptions::batch_interval() const {
  if (batch >= 0) return batch;
  // Coalescing needs several packets per write even at the default 5 a second.
  return mode == SendMode::coalesce ? 0.25 : 0.001;
}

}  // namespace asyncore::barrage
