/* token_apdu fuzz target: the token's APDU dispatcher (token/ukt_card.c and every command
 * handler behind it, docs/apdu.md) fed a sequence of commands, plain and secured.
 *
 * One in-process card per process, its state directory on tmpfs (/dev/shm when there is one)
 * so the durable writes of VERIFY, CREATE ... cost little. Set up once: SELECT, a secure
 * session, user VERIFY, container "fz" with an SM2 signing pair (KR 0) and a P-256 pair
 * (KR 1), container "rsa" with an RSA-2048 pair (KR 2). That state is the pristine image:
 * every input starts from it with a warm reset (no selection, no session); an input whose
 * commands wrote the state or a file gets the directory emptied, the image written back and
 * the card reopened from it.
 *
 *   input  = flags (1 byte) , op *
 *   flags  bits 0-2: n, the n-th state write of the input fails (0 = none), as a full disk
 *          would (ukt_card_set_write_hook: the card must answer 6581 and roll back)
 *   op     = 0x?0 len(2, BE) bytes           raw APDU, answer room 65,538 bytes
 *          | 0x?1 cap(1) len(2) bytes         raw APDU, answer room cap + 2 (a small buffer)
 *          | 0x?2                             GENERAL AUTHENTICATE: a new secure session
 *                                             (the first 3 of an input; later ones ignored)
 *          | 0x?3                             SELECT the ukey application
 *          | 0x?4 CLA INS P1 P2 f len(2) payload
 *                                             secured command built by the host side
 *                                             (uk_sm_wrap: SID, CTR, MAC, SM4 when f bit 0);
 *                                             f bit 1: Le present, bit 2: extended Le (0000)
 *                                             else short Le 00
 *          | 0x?5 op(1)                       power: op % 3 = off, on, warm reset
 *          | 0x?6 d(1)                        host counter skipped forward by d - 128 (replay,
 *                                             stale counters)
 *          | 0x?7 sid(1)                      host session's SID replaced (unknown SID)
 *   (the op's high nibble is ignored; a len past the input's end takes what is left)
 *
 * Every command must get an answer of at least SW1 SW2 that fits the room given; the card
 * must not crash, leak or read past the APDU (each one is an exact-size heap copy). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uk_buf.h"
#include "uk_crypto.h"
#include "uk_log.h"
#include "uk_tlv.h"
#include "uk_wipe.h"
#include "ukt_card.h"
#include "ukt_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESP_ROOM 65538u
#define SESSIONS_MAX 3         /* per input: each costs 3 SM2 point multiplications */

static char state_dir[128];
static char state_file[160];
static uint8_t *pristine;
static size_t pristine_len;
static ukt_card *card;
static ukt_host host;           /* 65 KB: static */
static int dirty;
static int trace;               /* TOKEN_APDU_TRACE set: every command's SW on stderr */
static unsigned writes, fail_at, sessions;

typedef struct input {
	const uint8_t *p;
	size_t n;
} input;

static int in_byte(input *in, uint8_t *b)
{
	if (in->n == 0)
		return -1;
	*b = *in->p++;
	in->n--;
	return 0;
}

static size_t in_take(input *in, size_t want, const uint8_t **out)
{
	size_t k = want < in->n ? want : in->n;

	*out = in->p;
	in->p += k;
	in->n -= k;
	return k;
}

static size_t in_len(input *in)
{
	uint8_t hi = 0, lo = 0;

	if (in_byte(in, &hi) != 0 || in_byte(in, &lo) != 0)
		return 0;
	return ((size_t)hi << 8) | lo;
}

static int write_hook(void *arg)
{
	(void)arg;
	dirty = 1;
	return ++writes == fail_at ? -1 : 0;
}

/* Every file of the state directory (the state, data and certificate files, leftovers of
 * a failed write): an input's files must not reach the next input. */
static void clear_dir(void)
{
	char path[sizeof(state_dir) + 300];
	struct dirent *e;
	DIR *d = opendir(state_dir);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' &&
		    snprintf(path, sizeof(path), "%s/%s", state_dir, e->d_name) < (int)sizeof(path))
			unlink(path);
	closedir(d);
}

static void remove_state(void)
{
	if (card != NULL)
		ukt_card_close(card);
	card = NULL;
	clear_dir();
	rmdir(state_dir);
}

static int read_state(void)
{
	struct stat st;
	int fd = open(state_file, O_RDONLY);
	int rc = -1;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (pristine = malloc((size_t)st.st_size)) &&
	    read(fd, pristine, (size_t)st.st_size) == st.st_size) {
		pristine_len = (size_t)st.st_size;
		rc = 0;
	}
	close(fd);
	return rc;
}

static int restore_state(void)
{
	int fd, ok;

	ukt_card_close(card);
	card = NULL;
	clear_dir();
	fd = open(state_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	ok = write(fd, pristine, pristine_len) == (ssize_t)pristine_len;
	close(fd);
	if (!ok || (card = ukt_card_open(state_dir, NULL)) == NULL)
		return -1;
	ukt_card_set_write_hook(card, write_hook, NULL);
	dirty = 0;
	return 0;
}

/* Each step of the pristine image, with the status word it must get. */
static uint16_t step(int i)
{
	static const uint8_t gen_sm2[] = { 0x80, 0x01, 0x01 }, gen_p256[] = { 0x80, 0x01, 0x02 },
	                     gen_rsa[] = { 0x80, 0x01, 0x03 };

	switch (i) {
	case 0: return ukt_host_select(&host);
	case 1: return ukt_host_open_session(&host);
	case 2: return ukt_host_verify(&host, 0x81, "user1234", 8);
	case 3: return ukt_host_create_container(&host, "fz");
	case 4: return ukt_host_secured(&host, 0, 0x46, 0x80, 0, gen_sm2, 3, 0, 65536);
	case 5: return ukt_host_secured(&host, 0, 0x46, 0x80, 1, gen_p256, 3, 0, 65536);
	case 6: return ukt_host_create_container(&host, "rsa");
	default: return ukt_host_secured(&host, 0, 0x46, 0x80, 2, gen_rsa, 3, 0, 65536);
	}
}

static int provision(void)
{
	uint16_t sw;
	int i;

	ukt_host_init_card(&host, card);
	for (i = 0; i < 8; i++)
		if ((sw = step(i)) != 0x9000) {
			fprintf(stderr, "token_apdu: set-up step %d answered %04X\n", i, sw);
			return -1;
		}
	return 0;
}

static int setup(void)
{
	static int done;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (done)
		return done > 0 ? 0 : -1;
	done = -1;
	trace = getenv("TOKEN_APDU_TRACE") != NULL;
	uk_log_set_level(0);        /* quiet: the card logs refusals */
	snprintf(state_dir, sizeof(state_dir), "%s/ukey-fuzz-tok.XXXXXX", base);
	if (mkdtemp(state_dir) == NULL)
		return -1;
	snprintf(state_file, sizeof(state_file), "%s/state", state_dir);
	atexit(remove_state);
	if ((card = ukt_card_open(state_dir, NULL)) == NULL || provision() != 0 ||
	    read_state() != 0 || restore_state() != 0) {
		fprintf(stderr, "token_apdu: cannot set up the card in %s\n", state_dir);
		return -1;
	}
	done = 1;
	return 0;
}

/* One command: an exact-size copy in, an exact-size answer room out. */
static void send_apdu(const uint8_t *cmd, size_t n, size_t room)
{
	uint8_t *c = malloc(n ? n : 1), *r = malloc(room);
	size_t rlen = room;

	if (c == NULL || r == NULL)
		abort();
	if (n > 0)
		memcpy(c, cmd, n);
	if (ukt_card_transmit(card, c, n, r, &rlen) != 0 || rlen < 2 || rlen > room) {
		fprintf(stderr, "token_apdu: bad answer (%zu bytes in room %zu)\n", rlen, room);
		abort();
	}
	if (trace)
		fprintf(stderr, "token_apdu: %02X %02X %02X %02X (%zu) -> %02X%02X\n", n > 0 ? c[0] : 0,
		        n > 1 ? c[1] : 0, n > 2 ? c[2] : 0, n > 3 ? c[3] : 0, n, r[rlen - 2],
		        r[rlen - 1]);
	free(c);
	free(r);
}

static void op_raw(input *in, size_t room)
{
	const uint8_t *p;
	size_t n = in_take(in, in_len(in), &p);

	send_apdu(p, n, room);
}

static void op_raw_small(input *in)
{
	uint8_t cap = 0;

	if (in_byte(in, &cap) == 0)
		op_raw(in, (size_t)cap + 2);
}

static void op_secured(input *in)
{
	const uint8_t *hdr, *payload;
	uint8_t f = 0;
	size_t n;
	long le;
	uk_buf b;

	if (in_take(in, 4, &hdr) != 4 || in_byte(in, &f) != 0)
		return;
	n = in_take(in, in_len(in), &payload);
	le = !(f & 2) ? UKT_HOST_NO_LE : (f & 4) ? 65536 : 256;
	uk_buf_init(&b, 0, 1);
	if (ukt_host_build_secured(&host, hdr[0], hdr[1], hdr[2], hdr[3], payload, n, f & 1, le,
	                           &b) == 0)
		send_apdu(b.data, b.len, RESP_ROOM);
	uk_buf_free(&b);
}

/* GENERAL AUTHENTICATE as ukt_host_open_session does, with one host key per process (the
 * host's ECDH is not under test; half the SM2 arithmetic of a session saved). */
static void op_session(input *in)
{
	static EVP_PKEY *eph;
	static uint8_t data[4 + UK_SM2_POINT_LEN] = { 0x7C, 2 + UK_SM2_POINT_LEN, 0x81,
	                                              UK_SM2_POINT_LEN };
	uk_tlv tpl, sid, pub;
	uint8_t x[32];

	(void)in;
	if (sessions++ >= SESSIONS_MAX)
		return;
	if (eph == NULL && ((eph = uk_ecdh_sm2_generate()) == NULL ||
	                    uk_ecdh_sm2_public(eph, data + 4) != 0))
		abort();
	if (ukt_host_plain(&host, 0x00, 0x86, 0x00, 0x00, data, sizeof(data), 256) != 0x9000 ||
	    uk_tlv_find(host.resp, host.rlen, 0x7C, &tpl) != 1 ||
	    uk_tlv_find(tpl.value, tpl.len, 0x80, &sid) != 1 || sid.len != 1 ||
	    uk_tlv_find(tpl.value, tpl.len, 0x82, &pub) != 1 || pub.len != UK_SM2_POINT_LEN)
		return;
	if (uk_ecdh_sm2_derive(eph, pub.value, x) == 0)
		uk_sm_derive(&host.sm, sid.value[0], x, data + 4, pub.value);
	uk_wipe(x, sizeof(x));
}

static void op_select(input *in)
{
	(void)in;
	ukt_host_select(&host);
}

static void op_power(input *in)
{
	static const int ops[3] = { UKT_POWER_OFF, UKT_POWER_ON, UKT_POWER_RESET };
	uint8_t b = 0;

	if (in_byte(in, &b) == 0)
		ukt_card_power(card, ops[b % 3]);
}

static void op_counter(input *in)
{
	uint8_t d = 0;

	if (in_byte(in, &d) == 0)
		host.sm.ctr += (uint32_t)((int)d - 128);
}

static void op_sid(input *in)
{
	uint8_t sid = 0;

	if (in_byte(in, &sid) == 0)
		host.sm.sid = sid;
}

static void op_raw_full(input *in)
{
	op_raw(in, RESP_ROOM);
}

typedef void (*op_fn)(input *in);
static const op_fn ops[8] = { op_raw_full, op_raw_small, op_session, op_select, op_secured,
                              op_power, op_counter, op_sid };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	input in = { data, size };
	uint8_t flags = 0, op;

	if (setup() != 0)
		abort();
	if (dirty && restore_state() != 0)
		abort();
	ukt_card_power(card, UKT_POWER_RESET);
	ukt_host_init_card(&host, card);
	writes = 0;
	sessions = 0;
	fail_at = 0;
	if (in_byte(&in, &flags) == 0)
		fail_at = flags & 7;
	while (in_byte(&in, &op) == 0)
		ops[op & 7](&in);
	uk_sm_clear(&host.sm);
	return 0;
}
