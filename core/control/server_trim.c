// SPDX-License-Identifier: MIT
/*
 * Giving the heap a handshake storm leaves behind back to the system. A
 * handshake holds about 50 KB (TLS buffers, the reliability window) that go
 * once it is quiet, but glibc keeps freed memory in its arenas: after
 * 10,000 clients came in at once the server held 26.6 KiB of resident
 * memory per idle client against 15.8 KiB after 1,000. malloc_trim(0)
 * returns the free pages inside the heap, not only its top. It walks every
 * arena, so it runs once the storm is over (no handshake opened or ended
 * for SERVER_TRIM_QUIET_SECONDS and none half-open), never per packet.
 */
#include <malloc.h>

#include "server.h"
#include "server_impl.h"
#include "slab.h"

static void on_quiet(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct server *s = w->data;

	(void)revents;
	if (server_half_open_count(s) > 0)
		return; /* still in a storm: the timer repeats */
	ev_timer_stop(loop, w);
	if (s->params.hooks.quiet)
		s->params.hooks.quiet(s->params.hooks.ctx);
	slab_trim(); /* the handshakes' own heap (osslmem.h) */
#ifdef __GLIBC__
	if (malloc_trim(0))
		s->stats.heap_trims++;
#endif
}

void server_trim_init(struct server *s)
{
	ev_timer_init(&s->trim, on_quiet, SERVER_TRIM_QUIET_SECONDS, SERVER_TRIM_QUIET_SECONDS);
	s->trim.data = s;
}

void server_trim_arm(struct server *s)
{
	ev_timer_again(s->loop, &s->trim);
}

void server_trim_stop(struct server *s)
{
	ev_timer_stop(s->loop, &s->trim);
}
