// What most tests include, compiled once into a precompiled header (see the Makefile's TEST_PCH)
// and given to every test object with -include. A test still includes what it uses itself, so it
// reads and compiles the same without this file. (No include guard: it is only ever the first
// thing a compile sees.)
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "test/support/testing.h"
