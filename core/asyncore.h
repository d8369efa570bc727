// The whole core in one include: the channel map and loop, Dispatcher, timers, addresses.
#pragma once
#include <asyncore/address.h>
#include <asyncore/backend_kind.h>
#include <asyncore/channel_map.h>
#include <asyncore/dispatcher.h>
#include <asyncore/fd.h>
#include <asyncore/log.h>
#include <asyncore/timer_queue.h>
