// SPDX-License-Identifier: MIT
#include <string.h>

#include "console_frame.h"
#include "console_proto.h"
#include "unit.h"

static const struct {
	const char *line;
	enum console_kind kind;
	size_t len;
} valid_cases[] = {
	{ "hello 0", CONSOLE_HELLO, 0 },
	{ "hello 42", CONSOLE_HELLO, 42 },
	{ "ok 0", CONSOLE_OK, 0 },
	{ "ok 1", CONSOLE_OK, 1 },
	{ "ok 10", CONSOLE_OK, 10 },
	{ "error 17", CONSOLE_ERROR, 17 },
	{ "more 0", CONSOLE_MORE, 0 },
	{ "ok 4194304", CONSOLE_OK, 4194304 },
	{ "error 4194304", CONSOLE_ERROR, 4194304 },
};

static const struct {
	const char *line;
	const char *why;
} invalid_cases[] = {
	{ "", "no space between kind and length" },
	{ "ok", "no space between kind and length" },
	{ "ok\t1", "no space between kind and length" },
	{ " 1", "unknown frame kind" },
	{ "OK 1", "unknown frame kind" },
	{ "okay 1", "unknown frame kind" },
	{ "o 1", "unknown frame kind" },
	{ "errors 1", "unknown frame kind" },
	{ "bye 0", "unknown frame kind" },
	{ "ok ", "missing length" },
	{ "ok  1", "length is not a decimal number" },
	{ "ok 1 ", "length is not a decimal number" },
	{ "ok 1\r", "length is not a decimal number" },
	{ "ok -1", "length is not a decimal number" },
	{ "ok +1", "length is not a decimal number" },
	{ "ok 0x10", "length is not a decimal number" },
	{ "ok 1 2", "length is not a decimal number" },
	{ "ok 00", "length has a leading zero" },
	{ "ok 07", "length has a leading zero" },
	{ "ok 4194305", "length exceeds CONSOLE_FRAME_MAX" },
	{ "ok 99999999999999999999999999", "length exceeds CONSOLE_FRAME_MAX" },
	{ "more 1", "more frame with a non-zero length" },
	{ "more 00", "length has a leading zero" },
};

static void test_valid(void)
{
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
		struct console_header h;
		const char *line = valid_cases[i].line;
		const char *why = console_header_parse(&h, line, strlen(line));

		CHECK(why == NULL, "case %zu \"%s\": %s", i, line, why);
		if (why)
			continue;
		CHECK(h.kind == valid_cases[i].kind, "case %zu \"%s\": kind %d", i, line, h.kind);
		CHECK(h.len == valid_cases[i].len, "case %zu \"%s\": len %zu", i, line, h.len);
	}
}

static void test_invalid(void)
{
	for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
		struct console_header h;
		const char *line = invalid_cases[i].line;
		const char *why = console_header_parse(&h, line, strlen(line));

		CHECK(why != NULL, "case %zu \"%s\": accepted", i, line);
		if (!why)
			continue;
		CHECK(strcmp(why, invalid_cases[i].why) == 0, "case %zu \"%s\": got \"%s\"", i,
		      line, why);
	}
}

/* The parser takes a length, not a C string: bytes past n and embedded NULs must not count. */
static void test_length_bounded(void)
{
	struct console_header h;

	CHECK(console_header_parse(&h, "ok 12\n", 5) == NULL && h.len == 12, "trailing newline");
	CHECK(console_header_parse(&h, "ok 1234", 4) == NULL && h.len == 1, "cut after one digit");
	CHECK(console_header_parse(&h, "ok 1\0002", 6) != NULL, "embedded nul accepted");
	CHECK(console_header_parse(&h, "ok\0 1", 5) != NULL, "nul in kind accepted");
}

static void test_kind_names(void)
{
	CHECK(strcmp(console_kind_name(CONSOLE_HELLO), CONSOLE_KIND_HELLO) == 0, "hello");
	CHECK(strcmp(console_kind_name(CONSOLE_OK), CONSOLE_KIND_OK) == 0, "ok");
	CHECK(strcmp(console_kind_name(CONSOLE_ERROR), CONSOLE_KIND_ERROR) == 0, "error");
	CHECK(strcmp(console_kind_name(CONSOLE_MORE), CONSOLE_KIND_MORE) == 0, "more");
	CHECK(strcmp(console_kind_name((enum console_kind)99), "?") == 0, "out of range");
}

int main(void)
{
	test_valid();
	test_invalid();
	test_length_bounded();
	test_kind_names();
	return unit_report("test_console_frame");
}
