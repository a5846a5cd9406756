/* token_crash_consistency: kill -9 a process driving libukey-token at random points, many
 * times, and check after each kill that the state still loads and holds every operation the
 * card acknowledged (docs/design.md "Persistence of an emulated key": temp file, fsync,
 * rename, fsync of the directory before the answer).
 *
 * A child opens the card and runs state-changing commands (wrong PIN, right PIN, CREATE
 * CONTAINER, GENERATE) in a loop, writing "begin" and "ack" records to a pipe; the parent
 * kills it after a random delay, then opens the state itself and checks it against the
 * acknowledged operations: the state is what the acks say, or that plus the one operation
 * that was in flight. At least 200 kills, bounded in time. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "uk_tlv.h"
#include "token_util.h"
#include "uk_time.h"

#define KILLS_MIN (200 / TU_SLOW)
#define KILLS_MAX 300
#define BUDGET_MS 40000
#define KILL_DELAY_MAX_US 25000
#define MAX_CONT 16
#define MAX_KR (2 * MAX_CONT)
#define UKT_PIN_TRIES_TEST 10   /* docs/design.md "PIN policy": 10 tries, reset on success */

enum op { OP_LOGIN = 1, OP_WRONG, OP_CREATE, OP_GEN };

typedef struct rec {
	uint8_t phase;          /* 'B' begin, 'A' acknowledged (the card answered) */
	uint8_t op;
	uint8_t arg;            /* container index (CREATE) or key reference (GEN) */
	uint16_t sw;
	uint8_t pub[65];        /* GEN: the public key answered */
} rec;

/* What the card holds, as far as the test can see through GET DATA. */
typedef struct model {
	int tries;
	int cont[MAX_CONT];                     /* present */
	int key[MAX_KR];
	uint8_t pub[MAX_KR][65];
} model;

/* ---- the child: drive the card until killed ---- */

static void emit(int fd, uint8_t phase, uint8_t op, uint8_t arg, uint16_t sw, const uint8_t *pub)
{
	rec r;

	memset(&r, 0, sizeof(r));
	r.phase = phase;
	r.op = op;
	r.arg = arg;
	r.sw = sw;
	if (pub != NULL)
		memcpy(r.pub, pub, 65);
	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))    /* < PIPE_BUF: atomic */
		_exit(4);
}

static uint16_t child_op(ukt_host *h, int fd, const model *m, int op, unsigned rnd)
{
	uint8_t pub[65], arg = 0;
	char name[8];
	uint16_t sw;
	int i;

	if (op == OP_CREATE) {
		for (i = 0; i < MAX_CONT && m->cont[i]; i++)
			;
		if (i == MAX_CONT)
			return 0;
		arg = (uint8_t)i;       /* the card takes the lowest free index */
	}
	if (op == OP_GEN) {
		for (i = 0; i < MAX_CONT && !m->cont[(rnd + (unsigned)i) % MAX_CONT]; i++)
			;
		if (i == MAX_CONT)
			return 0;
		arg = (uint8_t)(2 * ((rnd + (unsigned)i) % MAX_CONT) + (rnd >> 8) % 2);
	}
	emit(fd, 'B', (uint8_t)op, arg, 0, NULL);
	switch (op) {
	case OP_LOGIN: sw = ukt_host_verify(h, 0x81, "user1234", 8); break;
	case OP_WRONG: sw = ukt_host_verify(h, 0x81, "wrong999", 8); break;
	case OP_CREATE:
		snprintf(name, sizeof(name), "c%02u", arg);
		sw = ukt_host_create_container(h, name);
		break;
	default: sw = ukt_host_generate(h, arg, 1, pub); break;
	}
	emit(fd, 'A', (uint8_t)op, arg, sw, op == OP_GEN ? pub : NULL);
	return sw;
}

static void child(const char *dir, int fd, model m, unsigned seed)
{
	static ukt_host h;
	ukt_card *card = ukt_card_open(dir, NULL);
	unsigned rnd;
	uint16_t sw;
	int op;

	if (card == NULL)
		_exit(3);
	ukt_host_init_card(&h, card);
	if (ukt_host_select(&h) != 0x9000 || ukt_host_open_session(&h) != 0x9000)
		_exit(5);
	sw = child_op(&h, fd, &m, OP_LOGIN, 0);
	if (sw != 0x9000) {
		fprintf(stderr, "child: login %04X\n", sw);
		_exit(6);
	}
	for (;;) {
		rnd = (unsigned)rand_r(&seed);
		op = OP_WRONG + (int)(rnd % 3);
		sw = child_op(&h, fd, &m, op, rnd >> 2);
		if (op == OP_WRONG)
			child_op(&h, fd, &m, OP_LOGIN, 0);
		if (op == OP_CREATE && sw == 0x9000)
			m.cont[h.resp[2]] = 1;
	}
}

/* ---- the parent: read the state back and check it ---- */

/* Load the state the way ukey-emu would and read it through GET DATA. 0 or -1. */
static int model_read(const char *dir, model *m)
{
	static ukt_host h;
	const uint8_t *p, *end;
	uk_tlv t, v, pair, pt;
	ukt_card *card = ukt_card_open(dir, NULL);
	int ret = -1, tags[2] = { 0xA4, 0xA5 }, i, kr, idx;

	memset(m, 0, sizeof(*m));
	if (card == NULL)
		return -1;
	ukt_host_init_card(&h, card);
	if (ukt_host_select(&h) != 0x9000 || ukt_host_hex(&h, "00CA010100") != 0x9000 ||
	    uk_tlv_find(h.resp, h.rlen, 0x81, &t) != 1 || t.len != 3)
		goto out;
	m->tries = t.value[0];
	if (ukt_host_hex(&h, "00CA0102000000") != 0x9000)
		goto out;
	p = h.resp;
	end = h.resp + h.rlen;
	while (uk_tlv_next(&p, end, &t) == 1) {
		if (uk_tlv_find(t.value, t.len, 0x80, &v) != 1 || v.value[0] >= MAX_CONT)
			goto out;
		idx = v.value[0];
		m->cont[idx] = 1;
		for (i = 0; i < 2; i++) {
			kr = 2 * idx + i;
			if (uk_tlv_find(t.value, t.len, (unsigned)tags[i], &pair) != 1)
				continue;
			if (uk_tlv_find(pair.value, pair.len, 0x7F49, &pt) != 1 ||
			    uk_tlv_find(pt.value, pt.len, 0x86, &v) != 1 || v.len != 65)
				goto out;
			m->key[kr] = 1;
			memcpy(m->pub[kr], v.value, 65);
		}
	}
	ret = 0;
out:
	ukt_card_close(card);
	return ret;
}

/* Apply one acknowledged operation to the expected model. */
static void model_apply(model *m, const rec *r)
{
	if (r->op == OP_LOGIN && r->sw == 0x9000)
		m->tries = UKT_PIN_TRIES_TEST;
	if (r->op == OP_WRONG && (r->sw & 0xFFF0) == 0x63C0)
		m->tries = r->sw & 0x0F;
	if (r->op == OP_CREATE && r->sw == 0x9000)
		m->cont[r->arg] = 1;
	if (r->op == OP_GEN && r->sw == 0x9000) {
		m->key[r->arg] = 1;
		memcpy(m->pub[r->arg], r->pub, 65);
	}
}

/* The loaded state must be exp (every ack applied) or exp plus the in-flight operation. */
static int model_check(const model *got, const model *exp, const rec *inflight)
{
	int op = inflight != NULL ? inflight->op : 0, arg = inflight != NULL ? inflight->arg : -1;
	int i, tries_ok;

	tries_ok = got->tries == exp->tries ||
	           ((op == OP_WRONG || op == OP_LOGIN) && got->tries == exp->tries - 1) ||
	           (op == OP_LOGIN && got->tries == UKT_PIN_TRIES_TEST);
	if (!tries_ok)
		return fprintf(stderr, "tries %d, expected %d (in flight op %d)\n", got->tries,
		               exp->tries, op), -1;
	for (i = 0; i < MAX_CONT; i++)
		if (got->cont[i] != exp->cont[i] && !(op == OP_CREATE && arg == i && got->cont[i]))
			return fprintf(stderr, "container %d: %d, expected %d\n", i, got->cont[i],
			               exp->cont[i]), -1;
	for (i = 0; i < MAX_KR; i++) {
		if (op == OP_GEN && arg == i && got->key[i])
			continue;       /* the new pair, or the old one */
		if (got->key[i] != exp->key[i] ||
		    (got->key[i] && memcmp(got->pub[i], exp->pub[i], 65) != 0))
			return fprintf(stderr, "key %d differs from the acknowledged one (got %d exp %d, in flight %d/%d)\n", i, got->key[i], exp->key[i], op, arg), -1;
	}
	return 0;
}

/* Read the child's records; the model gets every ack, *inflight the last unacked begin. */
static int replay(int fd, model *exp, rec *inflight, int *have_inflight, long *acks)
{
	rec r, begin;
	ssize_t n;
	int open = 0;

	while ((n = read(fd, &r, sizeof(r))) == (ssize_t)sizeof(r)) {
		if (r.phase == 'B') {
			begin = r;
			open = 1;
			continue;
		}
		if (!open || r.op != begin.op || r.arg != begin.arg)
			return -1;
		open = 0;
		if (r.op == OP_WRONG && (r.sw & 0xFFF0) == 0x63C0 && (r.sw & 0x0F) != exp->tries - 1)
			return fprintf(stderr, "63C%X after %d tries\n", r.sw & 0x0F, exp->tries), -1;
		model_apply(exp, &r);
		*acks += r.op != OP_LOGIN;
	}
	*have_inflight = open;
	if (open)
		*inflight = begin;
	return n == 0 ? 0 : -1;
}

static int full(const model *m)
{
	int i;

	for (i = 0; i < MAX_CONT; i++)
		if (!m->cont[i])
			return 0;
	return 1;
}

/* A kill during a VERIFY with the right PIN costs a try by design (the counter is made
 * durable before the comparison): give the tries back with an unkilled VERIFY. */
static void pin_reset(const char *dir, model *m)
{
	static ukt_host h;
	ukt_card *card = ukt_card_open(dir, NULL);

	UK_CHECK(card != NULL);
	ukt_host_init_card(&h, card);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	ukt_card_close(card);
	UK_CHECK_EQ(model_read(dir, m), 0);
	UK_CHECK_EQ(m->tries, UKT_PIN_TRIES_TEST);
}

/* How long opening the card and logging in takes here (a slow PIN check would otherwise
 * take nearly every kill): the kill delays are spread over that plus KILL_DELAY_MAX_US. */
static long login_us(const char *dir)
{
	long long t0 = uk_now_ms();
	model m;

	pin_reset(dir, &m);
	return (long)(uk_now_ms() - t0) * 1000;
}

/* dir is TMP/ukt-test-XXXXXX/key: remove the whole temporary directory. */
static void rm_state(char *dir)
{
	char *slash = strrchr(dir, '/');

	*slash = '\0';
	tu_rmdir(dir);
	free(dir);
}

static char *fresh_state(char *old, model *m)
{
	char *dir = tu_tmpdir(), sub[600];
	ukt_card *card;

	if (old != NULL)
		rm_state(old);
	snprintf(sub, sizeof(sub), "%s/key", dir);
	card = ukt_card_open(sub, NULL);       /* provisioned before the first kill */
	UK_CHECK(card != NULL);
	ukt_card_close(card);
	UK_CHECK_EQ(model_read(sub, m), 0);
	free(dir);
	return strdup(sub);
}

int main(void)
{
	long long start = uk_now_ms();
	long kills = 0, acks = 0, inflight_seen = 0, spread;
	char *dir = fresh_state(NULL, &(model){ 0 });
	model base, exp, got;
	rec inflight;
	int p[2], have, status;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
	pid_t pid;

	UK_CHECK_EQ(model_read(dir, &base), 0);
	spread = 2 * login_us(dir) + KILL_DELAY_MAX_US;
	fprintf(stderr, "seed %u, kills within %ld us of the start\n", seed, spread);
	while (kills < KILLS_MAX && (kills < KILLS_MIN || uk_now_ms() - start < BUDGET_MS / 2)) {
		UK_CHECK(uk_now_ms() - start < BUDGET_MS);
		UK_CHECK_EQ(pipe(p), 0);
		pid = fork();
		UK_CHECK(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			child(dir, p[1], base, seed + (unsigned)kills);
		}
		close(p[1]);
		usleep((useconds_t)(rand_r(&seed) % spread));
		UK_CHECK_EQ(kill(pid, SIGKILL), 0);
		UK_CHECK_EQ(waitpid(pid, &status, 0), pid);
		if (!WIFSIGNALED(status))
			fprintf(stderr, "child exited %d\n", WEXITSTATUS(status));
		UK_CHECK(WIFSIGNALED(status));          /* it never stops on its own */
		kills++;
		exp = base;
		UK_CHECK_EQ(replay(p[0], &exp, &inflight, &have, &acks), 0);
		close(p[0]);
		inflight_seen += have;
		UK_CHECK_EQ(model_read(dir, &got), 0);  /* it always loads */
		UK_CHECK_EQ(model_check(&got, &exp, have ? &inflight : NULL), 0);
		base = got;
		if (base.tries < 5)
			pin_reset(dir, &base);
		if (full(&base))
			dir = fresh_state(dir, &base);
	}
	fprintf(stderr, "%ld kills, %ld acknowledged operations (logins aside), %ld in flight, %lld ms\n", kills,
	        acks, inflight_seen, uk_now_ms() - start);
	UK_CHECK(kills >= KILLS_MIN);
	/* the kills did land between the operations, not only during the first login */
	UK_CHECK(acks >= KILLS_MIN / 2);
	rm_state(dir);
	return uk_test_done("token_crash_consistency");
}
