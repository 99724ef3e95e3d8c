// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for a client session's state machine: a real server
 * session on the other side, the fuzzer in the middle (fuzz_session.h).
 */
#include "session.h"

#define FUZZ_TARGET_ROLE SESSION_ROLE_CLIENT
#include "fuzz_session.h"
