// SPDX-License-Identifier: MIT
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"
#include "unit.h"

/* Label values: backslash, double quote and newline escaped; nothing else touched. */
static const struct {
	const char *value, *line;
} label_cases[] = {
	{ "alice", "m{cn=\"alice\"} 7\n" },
	{ "", "m{cn=\"\"} 7\n" },
	{ "a\\b", "m{cn=\"a\\\\b\"} 7\n" },
	{ "say \"hi\"", "m{cn=\"say \\\"hi\\\"\"} 7\n" },
	{ "two\nlines", "m{cn=\"two\\nlines\"} 7\n" },
	{ "\\\"\n", "m{cn=\"\\\\\\\"\\n\"} 7\n" },
	{ "tab\there", "m{cn=\"tab\there\"} 7\n" },
	{ "Ünïcödé", "m{cn=\"Ünïcödé\"} 7\n" },
	{ "{a=\"b\"}", "m{cn=\"{a=\\\"b\\\"}\"} 7\n" },
};

static void test_labels(void)
{
	for (size_t i = 0; i < sizeof(label_cases) / sizeof(label_cases[0]); i++) {
		struct promtext t;
		size_t len;
		char *text;

		promtext_init(&t, 0);
		promtext_u64(&t, "m", "cn", label_cases[i].value, 7);
		text = promtext_take(&t, &len);
		CHECK(text && strcmp(text, label_cases[i].line) == 0, "case %zu: got \"%s\"", i,
		      text ? text : "(null)");
		CHECK(text && len == strlen(label_cases[i].line), "case %zu: length %zu", i, len);
		free(text);
	}
}

/* HELP text: backslash and newline escaped, quotes kept. */
static void test_family(void)
{
	struct promtext t;
	size_t len;
	char *text;

	promtext_init(&t, 0);
	promtext_family(&t, "moonvpn_x_total", "counter", "a \"b\" c\\d\ne");
	promtext_u64(&t, "moonvpn_x_total", NULL, NULL, 18446744073709551615ULL);
	text = promtext_take(&t, &len);
	CHECK(text && strcmp(text, "# HELP moonvpn_x_total a \"b\" c\\\\d\\ne\n"
				   "# TYPE moonvpn_x_total counter\n"
				   "moonvpn_x_total 18446744073709551615\n") == 0,
	      "got \"%s\"", text ? text : "(null)");
	free(text);
}

/* Each reads back to the same double. */
static const double double_cases[] = {
	0, 0.005, 2.5, 10, 0.1, 1e-7, -1.5, 1764734400.25, 1.0 / 3,
};

static void test_doubles(void)
{
	char out[32];

	for (size_t i = 0; i < sizeof(double_cases) / sizeof(double_cases[0]); i++) {
		promtext_format_double(out, sizeof(out), double_cases[i]);
		CHECK(strtod(out, NULL) == double_cases[i], "case %zu: %s does not read back", i,
		      out);
	}
	promtext_format_double(out, sizeof(out), 0.005);
	CHECK(strcmp(out, "0.005") == 0, "shortest form: %s", out);
	promtext_format_double(out, sizeof(out), INFINITY);
	CHECK(strcmp(out, "+Inf") == 0, "+Inf: %s", out);
	promtext_format_double(out, sizeof(out), -INFINITY);
	CHECK(strcmp(out, "-Inf") == 0, "-Inf: %s", out);
	promtext_format_double(out, sizeof(out), NAN);
	CHECK(strcmp(out, "NaN") == 0, "NaN: %s", out);
}

/* Two labels (a histogram bucket), and a text past its bound fails whole. */
static void test_bounds(void)
{
	const char *labels[4] = { "hook", "on.auth", "le", "+Inf" };
	struct promtext t;
	size_t len;
	char *text;

	promtext_init(&t, 0);
	promtext_sample(&t, "h_bucket", labels, 2, "3");
	text = promtext_take(&t, &len);
	CHECK(text && strcmp(text, "h_bucket{hook=\"on.auth\",le=\"+Inf\"} 3\n") == 0, "got %s",
	      text ? text : "(null)");
	free(text);

	promtext_init(&t, 64);
	for (int i = 0; i < 10; i++)
		promtext_u64(&t, "moonvpn_something_total", NULL, NULL, (uint64_t)i);
	CHECK(t.failed, "a text past its bound is marked failed");
	text = promtext_take(&t, &len);
	CHECK(text == NULL && len == 0, "and is not handed out");

	promtext_init(&t, 0);
	text = promtext_take(&t, &len);
	CHECK(text && len == 0 && text[0] == '\0', "an empty text is an empty body");
	free(text);
}

int main(void)
{
	test_labels();
	test_family();
	test_doubles();
	test_bounds();
	return unit_report("test_promtext");
}
