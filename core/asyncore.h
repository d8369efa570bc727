// The whole core in one include: the channel map and loop, Dispatcher, timers, addresses.
#pragma once
#include "core/address.h"
#include "core/backend.h"
#include "core/channel_map.h"
#include "core/dispatcher.h"
#include "core/fd.h"
#include "core/log.h"
#include "core/timer_queue.h"
