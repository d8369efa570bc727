// A receive buffer per thread, not per connection: ten thousand idle channels must not each
// hold a 64 KiB read buffer. Valid until the next call on the same thread.
#pragma once
#include <cstddef>
#include <string>

namespace asyncore {

inline char* scratch_buffer(size_t size) {
  thread_local std::string scratch;
  if (scratch.size() < size) scratch.resize(size);
  return scratch.data();
}

}  // namespace asyncore
