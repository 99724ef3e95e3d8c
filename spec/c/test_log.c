// SPDX-License-Identifier: MIT
/* Log lines: control bytes escaped, repeated lines rate-limited per call site. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "unit.h"

static double fake_time;

static double fake_now(void)
{
	return fake_time;
}

/* What the log wrote since the last call, as one string. */
static char *take(FILE *f)
{
	static char buf[65536];
	long len = ftell(f);

	rewind(f);
	len = (long)fread(buf, 1, (size_t)len, f);
	buf[len] = '\0';
	rewind(f);
	if (ftruncate(fileno(f), 0) < 0)
		buf[0] = '\0';
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static const struct {
	const char *in, *out;
} escapes[] = {
	{ "alice", "alice" },
	{ "tab\there", "tab\there" },
	{ "x\n2026-11-25T00:00:00.000Z info  server: forged",
	  "x\\n2026-11-25T00:00:00.000Z info  server: forged" },
	{ "cr\rlf\n", "cr\\rlf\\n" },
	{ "\x1b[31mred", "\\x1b[31mred" },
	{ "del\x7f", "del\\x7f" },
	{ "\x01\x1f", "\\x01\\x1f" },
	{ "caf\xc3\xa9", "caf\xc3\xa9" }, /* UTF-8 stays */
};

static void test_escape_table(void)
{
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		char out[128];
		size_t n = log_escape(out, sizeof(out), escapes[i].in);

		CHECK(strcmp(out, escapes[i].out) == 0, "case %zu: got \"%s\"", i, out);
		CHECK(n == strlen(escapes[i].out), "case %zu: length %zu", i, n);
	}
}

/* An escape is never cut in half by a short buffer. */
static void test_escape_cut(void)
{
	char out[5];

	CHECK(log_escape(out, sizeof(out), "ab\ncd") == 4 && strcmp(out, "ab\\n") == 0, "got %s",
	      out);
	CHECK(log_escape(out, sizeof(out), "abc\x01") == 3 && strcmp(out, "abc") == 0, "got %s",
	      out);
}

/* A username with a newline stays on its one line, whatever the format. */
static void test_line_forgery(FILE *f)
{
	struct log lg;
	const char *user = "mallory\n2026-11-25T03:13:47.123Z info  server: admin connected";
	char *out;

	log_init(&lg, LOG_INFO, f);
	log_info(&lg, "server", "user %s refused", user);
	out = take(f);
	CHECK(count_lines(out) == 1, "wrote %d lines: %s", count_lines(out), out);
	CHECK(strstr(out, "mallory\\n2026") != NULL, "got %s", out);
}

static void log_from_one_site(const struct log *lg, int i)
{
	log_ratelimited(lg, LOG_WARN, "tcp", "accept failed (%d)", i);
}

static void test_ratelimit(FILE *f)
{
	struct log lg;
	char *out;

	log_init(&lg, LOG_INFO, f);
	lg.now = fake_now;
	fake_time = 100;
	for (int i = 0; i < 1000; i++)
		log_from_one_site(&lg, i);
	out = take(f);
	CHECK(count_lines(out) == LOG_RATELIMIT_BURST, "%d lines", count_lines(out));
	/* Another call site has its own budget. */
	log_ratelimited(&lg, LOG_WARN, "console", "other site");
	CHECK(count_lines(take(f)) == 1, "the other site printed");
	/* The next window: the summary first, then the line. */
	fake_time += LOG_RATELIMIT_INTERVAL_SECONDS;
	log_from_one_site(&lg, 1000);
	out = take(f);
	CHECK(count_lines(out) == 2, "%d lines: %s", count_lines(out), out);
	CHECK(strstr(out, "990 lines like the next one suppressed") != NULL, "got %s", out);
	CHECK(strstr(out, "accept failed (1000)") != NULL, "got %s", out);
	/* A quiet window says nothing about suppression. */
	fake_time += 2 * LOG_RATELIMIT_INTERVAL_SECONDS;
	log_from_one_site(&lg, 1001);
	out = take(f);
	CHECK(count_lines(out) == 1 && !strstr(out, "suppressed"), "got %s", out);
	/* Filtered levels cost nothing and count nothing. */
	log_ratelimited(&lg, LOG_DEBUG, "tcp", "hidden");
	CHECK(count_lines(take(f)) == 0, "debug is filtered");
}

/* Past LOG_RATELIMIT_SITES call sites, the rest share one budget. */
static void test_ratelimit_overflow(FILE *f)
{
	struct log lg;

	log_init(&lg, LOG_INFO, f);
	lg.now = fake_now;
	for (int round = 0; round < 3; round++)
		for (int line = 0; line < LOG_RATELIMIT_SITES + 50; line++)
			log_write_limited(&lg, "x.c", line, false, LOG_WARN, "t", "line %d", line);
	/* 3 lines (under the burst) from each tracked site, one burst from the rest. */
	CHECK(count_lines(take(f)) == LOG_RATELIMIT_SITES * 3 + LOG_RATELIMIT_BURST,
	      "each site its lines, the overflow one burst");
}

/* JOURNAL_STREAM naming the log's own stream: "<N>subsys: message", no time stamp. */
static void test_journal(FILE *f)
{
	static const struct {
		enum log_level level;
		const char *line;
	} levels[] = {
		{ LOG_ERROR, "<3>engine: m\n" }, { LOG_WARN, "<4>engine: m\n" },
		{ LOG_INFO, "<6>engine: m\n" },	 { LOG_DEBUG, "<7>engine: m\n" },
		{ LOG_TRACE, "<7>engine: m\n" },
	};
	struct stat st;
	struct log lg;
	char env[64];

	if (fstat(fileno(f), &st) < 0)
		return;
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init(&lg, LOG_TRACE, f);
	CHECK(lg.journal, "JOURNAL_STREAM=%s is this stream", env);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		log_write(&lg, levels[i].level, "engine", "m");
		CHECK(strcmp(take(f), levels[i].line) == 0, "level %d", (int)levels[i].level);
	}
	log_warnx(&lg, "x", "a\nb");
	CHECK(strcmp(take(f), "<4>x: a\\nb\n") == 0, "escapes stay");
	/* Another stream, or a value that is not DEV:INO: our own time stamps. */
	const char *others[] = { "1:1", "", "abc", "12", "1:2x", ":" };
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		setenv("JOURNAL_STREAM", others[i], 1);
		log_init(&lg, LOG_INFO, f);
		CHECK(!lg.journal, "JOURNAL_STREAM=\"%s\"", others[i]);
	}
	snprintf(env, sizeof(env), "%llu:%llux", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init(&lg, LOG_INFO, f);
	CHECK(!lg.journal, "trailing junk: %s", env);
	unsetenv("JOURNAL_STREAM");
	log_init(&lg, LOG_INFO, f);
	CHECK(!lg.journal, "unset");
	log_info(&lg, "engine", "m");
	CHECK(take(f)[4] == '-', "a time stamp again");
}

int main(void)
{
	FILE *f = tmpfile();

	if (!f)
		return 1;
	test_escape_table();
	test_escape_cut();
	test_line_forgery(f);
	test_ratelimit(f);
	test_ratelimit_overflow(f);
	test_journal(f);
	fclose(f);
	return unit_report("log");
}
