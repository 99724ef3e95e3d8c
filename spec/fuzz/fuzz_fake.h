/* SPDX-License-Identifier: MIT */
/*
 * Deterministic time and randomness for the state-machine fuzz targets: one
 * input must replay to the same packets, timers and crashes.
 *
 * Time: the libc clocks (clock_gettime, gettimeofday, time) are defined
 * here, so libev, OpenSSL's certificate checks and the engine all read a
 * clock the harness moves (fake_advance_ms). It is fake only on the fuzzing
 * thread while an input runs (fake_begin .. fake_end) and outside
 * libFuzzer's alarm: its -max_total_time and -timeout read the real clock,
 * through the system call.
 *
 * Randomness: OpenSSL's RAND_bytes and RAND_priv_bytes (the engine's
 * crypto_random, TLS randoms, key shares, signature nonces) come from a
 * xorshift generator reseeded for every input, through the legacy RAND
 * method that OpenSSL 3.0 still honours before its DRBGs.
 */
#ifndef MOONVPN_FUZZ_FAKE_H
#define MOONVPN_FUZZ_FAKE_H

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/rand.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum {
	/* The fake monotonic clock starts here at every input (libev wants it above 0). */
	FAKE_MONOTONIC_START_S = 1000,
	/* The fake wall clock's start: 2027-01-15, inside spec/fuzz/pki's certificates'
	 * validity (2026-12-03 to 2036-11-30). */
	FAKE_WALL_START_S = 1800000000,
};

static _Thread_local bool fake_on;
static int64_t fake_ns; /* fake time since the input began */
static uint64_t fake_rng;

static bool is_wall(clockid_t id)
{
	return id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_TAI;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	int64_t t;

	if (!fake_on)
		return (int)syscall(SYS_clock_gettime, id, ts);
	t = fake_ns +
	    (int64_t)(is_wall(id) ? FAKE_WALL_START_S : FAKE_MONOTONIC_START_S) * 1000000000;
	ts->tv_sec = (time_t)(t / 1000000000);
	ts->tv_nsec = (long)(t % 1000000000);
	return 0;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	clock_gettime(CLOCK_REALTIME, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

time_t time(time_t *out)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (out)
		*out = ts.tv_sec;
	return ts.tv_sec;
}

static uint64_t fake_next(void)
{
	fake_rng ^= fake_rng << 13;
	fake_rng ^= fake_rng >> 7;
	fake_rng ^= fake_rng << 17;
	return fake_rng;
}

static int fake_bytes(unsigned char *buf, int num)
{
	for (int i = 0; i < num; i++)
		buf[i] = (unsigned char)(fake_next() >> 24);
	return 1;
}

static int fake_seed(const void *buf, int num)
{
	(void)buf;
	(void)num;
	return 1;
}

static int fake_add(const void *buf, int num, double entropy)
{
	(void)buf;
	(void)num;
	(void)entropy;
	return 1;
}

static int fake_status(void)
{
	return 1;
}

static const RAND_METHOD fake_rand = {
	.seed = fake_seed,
	.bytes = fake_bytes,
	.add = fake_add,
	.pseudorand = fake_bytes,
	.status = fake_status,
};

/* libFuzzer's SIGALRM handler, which measures a slow input with the clock. */
static struct sigaction fuzzer_alarm;

/* libFuzzer's -timeout reads the real clock, even when its alarm comes during an input. */
static void on_alarm(int sig, siginfo_t *info, void *uc)
{
	bool was = fake_on;

	fake_on = false;
	if (fuzzer_alarm.sa_flags & SA_SIGINFO)
		fuzzer_alarm.sa_sigaction(sig, info, uc);
	else if (fuzzer_alarm.sa_handler != SIG_DFL && fuzzer_alarm.sa_handler != SIG_IGN)
		fuzzer_alarm.sa_handler(sig);
	fake_on = was;
}

/* Once per process (libFuzzer has set its handlers by the first input): RAND, SIGALRM. */
static void fake_setup(void)
{
	struct sigaction sa = { .sa_sigaction = on_alarm, .sa_flags = SA_SIGINFO | SA_RESTART };

	if (sigaction(SIGALRM, NULL, &fuzzer_alarm) < 0 || sigaction(SIGALRM, &sa, NULL) < 0)
		abort();
	if (RAND_set_rand_method(&fake_rand) != 1)
		abort();
}

/* At the start of an input: time 0, the generator's first state. */
static void fake_begin(void)
{
	fake_ns = 0;
	fake_rng = 0x9e3779b97f4a7c15ull;
	fake_on = true;
}

static void fake_end(void)
{
	fake_on = false;
}

static void fake_advance_ms(unsigned ms)
{
	fake_ns += (int64_t)ms * 1000000;
}

#endif
