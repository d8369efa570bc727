// InputBudget: memory that connections hold for input they have not finished (a packet or a
// frame still arriving), bounded over all of them. Any one peer may announce a large message,
// but many peers each trickling one must not make the server hold all of them: past the budget
// the connection holding the most is evicted (closed by the caller), largest first.
#pragma once
#include <cstddef>
#include <functional>
#include <set>
#include <utility>

namespace asyncore {

template <class Holder>
class InputBudget {
 public:
  explicit InputBudget(std::size_t limit) : limit_(limit) {}

  // `holder` now holds `now` bytes (it held `before`, as told last time). While the total is
  // past the limit, `evict(largest, bytes)` is called for the largest holder; evicting must
  // report it back as holding 0 (a nested call is fine), or it is forgotten here all the same.
  void changed(Holder& holder, std::size_t before, std::size_t now,
               const std::function<void(Holder&, std::size_t)>& evict) {
    if (before == now) return;
    if (before) holders_.erase({before, &holder});
    if (now) holders_.insert({now, &holder});
    total_ = total_ - before + now;
    while (total_ > limit_ && !holders_.empty()) {
      const auto [bytes, largest] = *holders_.rbegin();
      ++evicted_;
      evict(*largest, bytes);
      if (auto it = holders_.find({bytes, largest}); it != holders_.end()) {  // not reported back
        holders_.erase(it);
        total_ -= bytes;
      }
    }
  }

  std::size_t total() const { return total_; }
  std::size_t limit() const { return limit_; }
  std::size_t evicted() const { return evicted_; }

 private:
  std::size_t limit_;
  std::size_t total_ = 0;
  std::size_t evicted_ = 0;
  std::set<std::pair<std::size_t, Holder*>> holders_;  // those holding anything, by bytes held
};

}  // namespace asyncore
