// InputBudget: past its limit the largest holder is evicted, largest first, whether or not the
// eviction reports back.
#include <asyncore/net/input_budget.h>

#include <doctest/doctest.h>

#include <vector>

using asyncore::InputBudget;

namespace {

struct Holder {
  std::size_t held = 0;
  bool evicted = false;
};

}  // namespace

TEST_CASE("the largest holder is evicted until the total fits, and reports back as holding 0") {
  InputBudget<Holder> budget(100);
  std::vector<Holder> holders(4);
  std::vector<std::size_t> evicted_sizes;
  auto evict = [&](Holder& h, std::size_t bytes) {
    evicted_sizes.push_back(bytes);
    h.evicted = true;
    const std::size_t before = h.held;
    h.held = 0;
    budget.changed(h, before, 0, [](Holder&, std::size_t) { FAIL("nested eviction"); });
  };
  auto set = [&](Holder& h, std::size_t now) {
    const std::size_t before = h.held;
    h.held = now;
    budget.changed(h, before, now, evict);
  };
  set(holders[0], 40);
  set(holders[1], 30);
  set(holders[2], 20);
  CHECK(budget.total() == 90);
  CHECK(evicted_sizes.empty());
  set(holders[1], 35);  // grows in place
  CHECK(budget.total() == 95);
  set(holders[3], 50);  // 145: the largest (50, the newcomer) goes, then 95 fits
  CHECK(evicted_sizes == std::vector<std::size_t>{50});
  CHECK(holders[3].evicted);
  CHECK(budget.total() == 95);
  set(holders[2], 60);  // 135: 60 goes
  CHECK(evicted_sizes == std::vector<std::size_t>{50, 60});
  CHECK(budget.total() == 75);
  CHECK(budget.evicted() == 2);
}

TEST_CASE("a holder that does not report back is forgotten all the same") {
  InputBudget<Holder> budget(10);
  Holder a, b;
  int calls = 0;
  auto silent = [&](Holder&, std::size_t) { ++calls; };
  budget.changed(a, 0, 8, silent);
  budget.changed(b, 0, 5, silent);
  CHECK(calls == 1);
  CHECK(budget.total() == 5);
  budget.changed(b, 5, 0, silent);
  CHECK(budget.total() == 0);
}
