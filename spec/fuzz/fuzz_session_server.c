// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for a server session's state machine: a real client
 * session on the other side, the fuzzer in the middle (fuzz_session.h).
 */
#include "session.h"

#define FUZZ_TARGET_ROLE SESSION_ROLE_SERVER
#include "fuzz_session.h"
