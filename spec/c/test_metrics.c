// SPDX-License-Identifier: MIT
/*
 * metrics.c without a running engine: the reasons a failed handshake is
 * counted under (a bounded set, whatever the free text says), hook
 * histograms (cumulative buckets, sum and count; at most METRICS_HOOKS_MAX
 * names) and what a scrape of an engine with no server shows.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "metrics.h"
#include "unit.h"

static const struct {
	const char *reason, *label;
} reasons[] = {
	{ "TLS key negotiation failed to occur within 60 seconds (hand-window)", "timeout" },
	{ "authentication timed out", "timeout" },
	{ "TLS refused: certificate verify failed", "tls" },
	{ "TLS write failed: broken pipe", "tls" },
	{ "evicted: too many handshakes from its source", "evicted" },
	{ "evicted: too many handshakes at once", "evicted" },
	{ "tls-crypt-v2 client key refused by on.tls_crypt_v2", "tls_crypt_v2" },
	{ "the client started a new session", "replaced" },
	{ "key exchange failed", "other" },
	{ "", "other" },
	{ "tls refused", "other" }, /* the engine's own prefixes, exactly */
};

static void test_reasons(void)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		const char *got = metrics_failure_reason(reasons[i].reason);

		CHECK(strcmp(got, reasons[i].label) == 0, "case %zu: %s", i, got);
	}
}

/* The sample line that starts with prefix, its value; -1 when there is none. */
static double sample(const char *text, const char *prefix)
{
	const char *p = strstr(text, prefix);

	return p ? strtod(p + strlen(prefix), NULL) : -1;
}

static void test_hooks(void)
{
	struct engine e = { 0 };
	struct metrics *m = metrics_new(&e);
	char *text, name[32];
	size_t len;

	CHECK(m != NULL, "metrics_new");
	if (!m)
		return;
	metrics_hook_observe(m, "on.flow", 0.0005, false);
	metrics_hook_observe(m, "on.flow", 0.003, false);
	metrics_hook_observe(m, "on.flow", 0.2, true);
	metrics_hook_observe(m, "on.flow", 99, false);
	for (int i = 0; i < 2 * METRICS_HOOKS_MAX; i++) {
		snprintf(name, sizeof(name), "hook %d", i);
		metrics_hook_observe(m, name, 1, false);
	}
	text = metrics_render(m, &len);
	CHECK(text && strlen(text) == len, "rendered");
	if (!text) {
		metrics_free(m);
		return;
	}
	CHECK(sample(text,
		     "moonvpn_hook_duration_seconds_bucket{hook=\"on.flow\",le=\"0.001\"} ") == 1,
	      "le 0.001");
	CHECK(sample(text,
		     "moonvpn_hook_duration_seconds_bucket{hook=\"on.flow\",le=\"0.005\"} ") == 2,
	      "le 0.005: cumulative");
	CHECK(sample(text, "moonvpn_hook_duration_seconds_bucket{hook=\"on.flow\",le=\"0.25\"} ") ==
		      3,
	      "le 0.25");
	CHECK(sample(text, "moonvpn_hook_duration_seconds_bucket{hook=\"on.flow\",le=\"10\"} ") ==
		      3,
	      "le 10");
	CHECK(sample(text, "moonvpn_hook_duration_seconds_bucket{hook=\"on.flow\",le=\"+Inf\"} ") ==
		      4,
	      "+Inf counts all");
	CHECK(sample(text, "moonvpn_hook_duration_seconds_count{hook=\"on.flow\"} ") == 4, "count");
	CHECK(sample(text, "moonvpn_hook_duration_seconds_sum{hook=\"on.flow\"} ") ==
		      0.0005 + 0.003 + 0.2 + 99,
	      "sum");
	CHECK(sample(text, "moonvpn_hook_failures_total{hook=\"on.flow\"} ") == 1, "failures");
	snprintf(name, sizeof(name), "{hook=\"hook %d\"}", METRICS_HOOKS_MAX - 2);
	CHECK(strstr(text, name) != NULL, "the 16th name is kept");
	snprintf(name, sizeof(name), "{hook=\"hook %d\"}", METRICS_HOOKS_MAX - 1);
	CHECK(strstr(text, name) == NULL, "the 17th is not");
	/* No server: the process figures and no listener's. */
	CHECK(sample(text, "moonvpn_build_info{version=\"" MOONVPN_VERSION "\"} ") == 1, "build");
	CHECK(sample(text, "moonvpn_sessions ") == 0, "no sessions");
	CHECK(strstr(text, "moonvpn_metrics_http") == NULL, "no listener, no listener figures");
	free(text);
	metrics_free(m);
}

int main(void)
{
	test_reasons();
	test_hooks();
	return unit_report("test_metrics");
}
