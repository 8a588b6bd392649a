// Everything of the io layer: Task, Loop, sync_wait and the awaitable operations.
#pragma once

#include <gctool/io/cancel.hpp>
#include <gctool/io/loop.hpp>
#include <gctool/io/operation.hpp>
#include <gctool/io/poll.hpp>
#include <gctool/io/process.hpp>
#include <gctool/io/rw.hpp>
#include <gctool/io/signals.hpp>
#include <gctool/io/sleep.hpp>
#include <gctool/io/socket.hpp>
#include <gctool/io/sync_wait.hpp>
#include <gctool/io/task.hpp>
#include <gctool/io/timeout.hpp>
#include <gctool/io/when_all.hpp>
