// SPDX-License-Identifier: MIT
/*
 * A tls-crypt-v2 client's first packets, made here, for the front-door
 * specs of tls_crypt_v2_spec.lua:
 *
 *   v2client SERVER_IP PORT KEYFILE MODE
 *
 * sends a P_CONTROL_HARD_RESET_CLIENT_V3 wrapped with the client key of
 * KEYFILE (an `openvpn --genkey tls-crypt-v2-client` file) with its WKc
 * appended, prints the reply ("reply none", or "reply OPCODE tlv=0|1", the
 * reply opened with the client key; tlv=1: it asks for the WKc again),
 * then, if there was one, a P_CONTROL_WKC_V1 that acks it and echoes its
 * session id, and prints what comes back within a second ("after none" or
 * "after OPCODE"). MODE: "ok"; "old" (the reset's replay id does not
 * announce early negotiation, as 2.5 clients send); "forged" (one byte of
 * the WKc flipped); "badcookie" (the WKC_V1 echoes a wrong session id).
 * Exit status 0, or 1 with the reason on stderr.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "tlscryptv2.h"
#include "wrap.h"

enum { WAIT_MS = 2000, EARLY_NEG_ID = 0x0f000000 };

struct client {
	int fd;
	struct wrap wrap;
	uint8_t wkc[TLSCRYPTV2_WKC_MAX];
	size_t wkc_len;
	struct proto_sid sid;
};

static int load(struct client *cl, struct crypto *c, const char *path)
{
	char text[TLSCRYPTV2_KEY_TEXT_MAX * 2], err[200];
	struct static_key kc;
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		perror(path);
		return -1;
	}
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (tlscryptv2_client_key_parse(&kc, cl->wkc, &cl->wkc_len, text, n, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "%s: %s\n", path, err);
		return -1;
	}
	wrap_init_tls_crypt(&cl->wrap, c, &kc, false);
	return 0;
}

/* Wraps ctl with the client key, appends the WKc and sends it. */
static int send_with_wkc(struct client *cl, const struct proto_control *ctl, uint32_t pid)
{
	uint8_t plain[256], wire[256 + 128 + TLSCRYPTV2_WKC_MAX];
	size_t len = proto_encode_control(plain, sizeof(plain), ctl);
	int n = len ? wrap_seal(&cl->wrap, plain, len, pid, (uint32_t)time(NULL), wire,
				sizeof(wire) - cl->wkc_len)
		    : -1;

	if (n < 0) {
		fprintf(stderr, "cannot wrap the packet\n");
		return -1;
	}
	memcpy(wire + n, cl->wkc, cl->wkc_len);
	if (send(cl->fd, wire, (size_t)n + cl->wkc_len, 0) < 0) {
		perror("send");
		return -1;
	}
	return 0;
}

/* The next datagram within WAIT_MS, opened with the client key; false: none. */
static bool receive(struct client *cl, struct proto_control *ctl, uint8_t *plain, size_t cap)
{
	struct pollfd p = { .fd = cl->fd, .events = POLLIN };
	uint8_t wire[2048];
	uint32_t pid, t;
	ssize_t n;
	int m;

	if (poll(&p, 1, WAIT_MS) <= 0 || (n = recv(cl->fd, wire, sizeof(wire), 0)) <= 0)
		return false;
	m = wrap_open(&cl->wrap, wire, (size_t)n, plain, cap, &pid, &t);
	if (m < 0 || proto_decode_control(ctl, plain, (size_t)m) != 0) {
		printf("undecodable %zd bytes\n", n);
		return false;
	}
	return true;
}

static bool has_resend_tlv(const struct proto_control *ctl)
{
	uint8_t tlv[TLSCRYPTV2_RESEND_TLV_LEN];

	tlscryptv2_resend_tlv(tlv);
	return ctl->payload_len == sizeof(tlv) && memcmp(ctl->payload, tlv, sizeof(tlv)) == 0;
}

static int run(struct client *cl, const char *mode)
{
	struct proto_control reset = { .opcode = P_CONTROL_HARD_RESET_CLIENT_V3, .sid = cl->sid };
	struct proto_control reply, wkc, after;
	uint8_t plain[2048], plain2[2048];

	if (strcmp(mode, "forged") == 0)
		cl->wkc[40] ^= 1;
	if (send_with_wkc(cl, &reset, strcmp(mode, "old") == 0 ? 1 : EARLY_NEG_ID) < 0)
		return 1;
	if (!receive(cl, &reply, plain, sizeof(plain))) {
		printf("reply none\n");
		return 0;
	}
	printf("reply %s tlv=%d\n", proto_opcode_name(reply.opcode), has_resend_tlv(&reply));
	wkc = (struct proto_control){ .opcode = P_CONTROL_WKC_V1,
				      .sid = cl->sid,
				      .n_acks = 1,
				      .remote_sid = reply.sid,
				      .msg_id = 1 };
	if (strcmp(mode, "badcookie") == 0)
		wkc.remote_sid.bytes[3] ^= 1;
	if (send_with_wkc(cl, &wkc, EARLY_NEG_ID + 1) < 0)
		return 1;
	if (receive(cl, &after, plain2, sizeof(plain2)))
		printf("after %s\n", proto_opcode_name(after.opcode));
	else
		printf("after none\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct client cl = { .fd = -1 };
	char err[256];
	struct crypto *c;
	int rc = 1;

	if (argc != 5 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
		fprintf(stderr, "usage: v2client SERVER_IP PORT KEYFILE ok|old|forged|badcookie\n");
		return 1;
	}
	to.sin_port = htons((uint16_t)atoi(argv[2]));
	c = crypto_new(err, sizeof(err));
	if (!c || load(&cl, c, argv[3]) < 0 || crypto_random(cl.sid.bytes, PROTO_SID_LEN) < 0) {
		fprintf(stderr, "v2client: cannot start %s\n", c ? "" : err);
		crypto_free(c);
		return 1;
	}
	cl.fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (cl.fd >= 0 && connect(cl.fd, (struct sockaddr *)&to, sizeof(to)) == 0)
		rc = run(&cl, argv[4]);
	else
		perror("socket");
	fflush(stdout);
	close(cl.fd);
	wrap_clear(&cl.wrap);
	crypto_free(c);
	return rc;
}
