/* token_crash_emu: SIGKILL the real ukey-emu at random points while it changes its state, many
 * times, and check after each kill, on a restarted ukey-emu with the same state directory,
 * that the key loads and holds every change it acknowledged (docs/design.md "Persistence of an
 * emulated key"; docs/apdu.md "Persistence": temp file, fsync, rename, fsync of the directory
 * before the answer).
 *
 * The test plays the driver: it listens on an AF_UNIX socket, starts `ukey-emu --link
 * unix:SOCK --state DIR --keys 1`, accepts the key's link (vpcd framing: 2-byte big-endian
 * length, payload; 1-byte payloads are controls) and drives, through ukt_host, wrong and right
 * PIN VERIFY, CHANGE REFERENCE DATA between two PINs, CREATE / DELETE CONTAINER with unique
 * names, GENERATE, CREATE / DELETE FILE and UPDATE BINARY of data files with known patterns.
 * Each answered operation (9000, 63Cx) goes into the expected model. A SIGALRM timer kills
 * ukey-emu after a random delay, or the transfer kills it a few microseconds after sending a
 * chosen state-changing command (so many kills land inside a command's processing). The
 * restarted key must answer SELECT and GET DATA, and show exactly the model, or the model plus
 * the one command that was in flight: for a PIN change in flight the current PIN is one of the
 * two, for an UPDATE BINARY in flight the file is the old or the new content.
 *
 * Scale (issue 8): at least ACKS_MIN acknowledged state-changing operations in all, over at
 * least KILLS_MIN kills. Some rounds send only wrong VERIFYs, with no right VERIFY before or
 * between them: across those restarts the try counter never goes back up, and it is one lower
 * for each wrong VERIFY that was acknowledged (docs/apdu.md VERIFY: the counter is decremented
 * and made durable before the comparison), so killing the key cannot give back a try.
 * The sequence of operations and kill points comes from one seed, printed; UKEY_CRASH_SEED
 * replays another (the kill timing itself still depends on the machine's speed). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <time.h>

#include "uk_tlv.h"
#include "token_util.h"
#include "uk_time.h"

#define KILLS_MIN (200 / TU_SLOW)
#define KILLS_MAX 1000
#define ACKS_MIN (1000 / TU_SLOW) /* acknowledged state-changing operations, logins aside */
#define BUDGET_MS 170000        /* hard bound */
#define TIMER_MAX_US 600000     /* a VERIFY is ~15 ms, a CHANGE REFERENCE DATA ~45 ms */
#define TINY_MAX_US 3000        /* "right after sending": inside the card's processing */
#define TINY_MAX_CMD 12         /* tiny mode kills after one of the first 12 state changes */
#define SEED_DEFAULT 20261121u
#define WRONG_FLOOR 2           /* wrong-PIN rounds stop here: never block the PIN */
#define MAX_CONT 16
#define NFILES 4                /* data files D000..D003 */
#define FILE_SIZE 256
#define MAX_TRIES 10            /* docs/design.md "PIN policy": 10 tries by default */
#define IO_MS 10000

enum op { OP_NONE, OP_LOGIN, OP_WRONG, OP_CHANGE, OP_CREATE, OP_DELC, OP_GEN, OP_CFILE,
          OP_UPDATE, OP_DELF };

static const char *const pins[2] = { "user1234", "pass5678" };

typedef struct cont {
	int present, name;              /* name: the container is "n<name>" */
	int key[2];
	uint8_t pub[2][65];
} cont;

typedef struct dfile {
	int present, name;              /* "f<name>" */
	size_t len;
	uint8_t data[FILE_SIZE];
} dfile;

/* What the key holds, as far as GET DATA and READ BINARY show it. */
typedef struct model {
	int tries, cur;                 /* cur: index into pins[] */
	cont c[MAX_CONT];
	dfile f[NFILES];
} model;

/* The command in flight: what it would change. */
typedef struct flight {
	int op, idx, kr, name;
	size_t n;
	uint8_t data[FILE_SIZE];
} flight;

static const char *emu_path;
static volatile sig_atomic_t emu_pid, killed, killed_in_cmd, in_cmd;
static int kill_at_cmd = -1, cmds_sent;  /* tiny mode: kill after this state-changing APDU */
static unsigned seed;
static int next_name = 1;

static void kill_emu(void)
{
	if (emu_pid > 0 && !killed) {
		killed_in_cmd = in_cmd;
		killed = 1;
		kill((pid_t)emu_pid, SIGKILL);
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	kill_emu();
}

static void arm_timer(long us)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = us / 1000000;
	it.it_value.tv_usec = us % 1000000;
	UK_CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
}

/* ---- the link (docs/design.md "Link between ifd/ and ukey-emu") ---- */

static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long due = uk_now_ms() + ms;
	int r;

	do
		r = poll(&p, 1, (int)(due - uk_now_ms() > 0 ? due - uk_now_ms() : 0));
	while (r < 0 && errno == EINTR);
	return r == 1;
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	UK_CHECK(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	UK_CHECK(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	UK_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	UK_CHECK(listen(fd, 4) == 0);
	return fd;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int read_exact(int fd, uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		if (!wait_readable(fd, IO_MS))
			return -1;
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* A state-changing APDU: secured (CLA bit 0x04), not a query of GET DATA or READ BINARY. */
static int changes_state(const uint8_t *cmd, size_t n)
{
	return n > 4 && (cmd[0] & 0x04) != 0;
}

/* ukt_host over the framed link; -1 when the link died (ukey-emu killed). */
static int link_xfer(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen)
{
	static uint8_t frame[2 + 65535];
	uint8_t hdr[2];
	int fd = *(int *)ctx, ret = -1;
	size_t len;

	frame[0] = (uint8_t)(n >> 8);
	frame[1] = (uint8_t)n;
	memcpy(frame + 2, cmd, n);
	in_cmd = 1;
	if (write_all(fd, frame, n + 2) != 0)
		goto out;
	if (changes_state(cmd, n) && cmds_sent++ == kill_at_cmd) {
		usleep((useconds_t)(rand_r(&seed) % TINY_MAX_US));
		kill_emu();
	}
	if (read_exact(fd, hdr, 2) != 0)
		goto out;
	len = (size_t)hdr[0] << 8 | hdr[1];
	if (len > *rlen || read_exact(fd, resp, len) != 0)
		goto out;
	*rlen = len;
	ret = 0;
out:
	in_cmd = 0;
	return ret;
}

/* Start ukey-emu on the state directory and take its link, powered on. */
static int emu_start(int lfd, const char *link, const char *state, const char *log)
{
	pid_t pid = fork();
	int fd;

	UK_CHECK(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);       /* never outlives a failed test */
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		unsetenv("UKEY_EMU_USER_PIN");
		unsetenv("UKEY_EMU_SO_PIN");
		execl(emu_path, emu_path, "--link", link, "--state", state, "--keys", "1",
		      (char *)NULL);
		_exit(127);
	}
	emu_pid = pid;
	killed = 0;
	UK_CHECK(wait_readable(lfd, IO_MS));    /* the key loads and connects */
	fd = accept(lfd, NULL, NULL);
	UK_CHECK(fd >= 0);
	UK_CHECK_EQ(write_all(fd, (const uint8_t *)"\x00\x01\x01", 3), 0);     /* power on */
	return fd;
}

/* After the link died: the process is gone by our SIGKILL, not by anything of its own. */
static void emu_reap(int fd)
{
	int status;

	arm_timer(0);
	UK_CHECK(killed);                       /* the link never drops on its own */
	UK_CHECK_EQ(waitpid((pid_t)emu_pid, &status, 0), (pid_t)emu_pid);
	UK_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	emu_pid = 0;
	close(fd);
}

/* ---- reading the key back ---- */

static void parse_keys(const uk_tlv *t, cont *c)
{
	static const unsigned tags[2] = { 0xA4, 0xA5 };
	uk_tlv pair, pt, v;
	int i;

	for (i = 0; i < 2; i++) {
		if (uk_tlv_find(t->value, t->len, tags[i], &pair) != 1)
			continue;
		UK_CHECK_EQ(uk_tlv_find(pair.value, pair.len, 0x7F49, &pt), 1);
		UK_CHECK_EQ(uk_tlv_find(pt.value, pt.len, 0x86, &v), 1);
		UK_CHECK_EQ(v.len, 65);
		c->key[i] = 1;
		memcpy(c->pub[i], v.value, 65);
	}
}

/* The number in "<prefix><n>" (the names this test gives), or -1. */
static int name_num(const uk_tlv *t, char prefix)
{
	char s[16];

	if (t->len < 2 || t->len >= sizeof(s) || t->value[0] != (uint8_t)prefix)
		return -1;
	memcpy(s, t->value + 1, t->len - 1);
	s[t->len - 1] = '\0';
	return atoi(s);
}

static void read_containers(ukt_host *h, model *m)
{
	const uint8_t *p, *end;
	uk_tlv t, v;
	cont *c;

	UK_CHECK_EQ(ukt_host_hex(h, "00CA0102000000"), 0x9000);
	p = h->resp;
	end = h->resp + h->rlen;
	while (uk_tlv_next(&p, end, &t) == 1) {
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x80, &v), 1);
		UK_CHECK(v.len == 1 && v.value[0] < MAX_CONT);
		c = &m->c[v.value[0]];
		c->present = 1;
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x81, &v), 1);
		c->name = name_num(&v, 'n');
		parse_keys(&t, c);
	}
}

static void read_file_content(ukt_host *h, int i, dfile *f)
{
	const uint8_t fid[2] = { 0xD0, (uint8_t)i };
	uint16_t sw;

	UK_CHECK_EQ(ukt_host_plain(h, 0x00, 0xA4, 0x02, 0x0C, fid, 2, UKT_HOST_NO_LE), 0x9000);
	sw = ukt_host_plain(h, 0x00, 0xB0, 0x00, 0x00, NULL, 0, 256);
	UK_CHECK(sw == 0x9000 || sw == 0x6282);
	UK_CHECK_EQ(h->rlen, f->len);
	memcpy(f->data, h->resp, f->len);
}

static void read_files(ukt_host *h, model *m)
{
	const uint8_t *p, *end;
	uk_tlv t, v;
	int i, n = 0;

	UK_CHECK_EQ(ukt_host_hex(h, "00CA0103000000"), 0x9000);
	p = h->resp;
	end = h->resp + h->rlen;
	while (uk_tlv_next(&p, end, &t) == 1) {
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x83, &v), 1);
		UK_CHECK(v.len == 2 && v.value[0] == 0xD0 && v.value[1] < NFILES);
		i = v.value[1];
		m->f[i].present = 1;
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x84, &v), 1);
		m->f[i].name = name_num(&v, 'f');
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x81, &v), 1);
		UK_CHECK_EQ(v.len, 4);
		m->f[i].len = uk_get_u32(v.value);
		UK_CHECK(m->f[i].len <= FILE_SIZE);
		n++;
	}
	for (i = 0; i < NFILES; i++)
		if (m->f[i].present)
			read_file_content(h, i, &m->f[i]);
}

/* Everything but the current PIN, which only a VERIFY tells. */
static void model_read(ukt_host *h, model *m)
{
	uk_tlv t;

	memset(m, 0, sizeof(*m));
	UK_CHECK_EQ(ukt_host_select(h), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(h, "00CA010100"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h->resp, h->rlen, 0x81, &t), 1);
	UK_CHECK_EQ(t.len, 3);
	m->tries = t.value[0];
	read_containers(h, m);
	read_files(h, m);
}

/* ---- the expected state ---- */

static int file_same(const dfile *a, const dfile *b)
{
	return a->present == b->present &&
	       (!a->present || (a->name == b->name && a->len == b->len &&
	                        memcmp(a->data, b->data, a->len) == 0));
}

static int cont_same(const cont *a, const cont *b)
{
	int i;

	if (a->present != b->present || (a->present && a->name != b->name))
		return 0;
	for (i = 0; a->present && i < 2; i++)
		if (a->key[i] != b->key[i] || (a->key[i] && memcmp(a->pub[i], b->pub[i], 65) != 0))
			return 0;
	return 1;
}

/* UPDATE BINARY at offset 0 (docs/apdu.md: length = max(length, offset + n)). */
static void file_write(dfile *f, const uint8_t *data, size_t n)
{
	memcpy(f->data, data, n);
	if (n > f->len)
		f->len = n;
}

/* The model after the command fl took effect (its answer lost or not). */
static void model_apply(model *m, const flight *fl, const uint8_t *pub)
{
	cont *c = &m->c[fl->idx];
	dfile *f = &m->f[fl->idx];

	switch (fl->op) {
	case OP_LOGIN: m->tries = MAX_TRIES; break;
	case OP_CHANGE: m->tries = MAX_TRIES; m->cur ^= 1; break;
	case OP_CREATE: memset(c, 0, sizeof(*c)); c->present = 1; c->name = fl->name; break;
	case OP_DELC: memset(c, 0, sizeof(*c)); break;
	case OP_GEN:
		c->key[fl->kr & 1] = 1;
		memcpy(c->pub[fl->kr & 1], pub, 65);
		break;
	case OP_CFILE: memset(f, 0, sizeof(*f)); f->present = 1; f->name = fl->name; break;
	case OP_UPDATE: file_write(f, fl->data, fl->n); break;
	case OP_DELF: memset(f, 0, sizeof(*f)); break;
	default: break;
	}
}

/* Tries: as acknowledged, or one try used by a VERIFY / CHANGE in flight (the counter is
 * written before the comparison), or reset by a right one that completed. */
static int tries_ok(int got, int exp, int op)
{
	int pin_op = op == OP_WRONG || op == OP_LOGIN || op == OP_CHANGE;

	return got == exp || (pin_op && got == exp - 1) ||
	       ((op == OP_LOGIN || op == OP_CHANGE) && got == MAX_TRIES);
}

static int cont_ok(const model *got, const model *exp, const model *alt, const flight *fl, int i)
{
	if (cont_same(&got->c[i], &exp->c[i]) || (fl->idx == i && cont_same(&got->c[i], &alt->c[i])))
		return 1;
	/* a GENERATE in flight: the old pair, or a new one whose point we never saw */
	return fl->op == OP_GEN && fl->idx == i && got->c[i].present && exp->c[i].present &&
	       got->c[i].name == exp->c[i].name && got->c[i].key[fl->kr & 1] &&
	       got->c[i].key[~fl->kr & 1] == exp->c[i].key[~fl->kr & 1] &&
	       (!exp->c[i].key[~fl->kr & 1] ||
	        memcmp(got->c[i].pub[~fl->kr & 1], exp->c[i].pub[~fl->kr & 1], 65) == 0);
}

static void model_check(const model *got, const model *exp, const flight *fl)
{
	static const uint8_t zero[65];
	model alt = *exp;
	int i, op = fl->op;

	model_apply(&alt, fl, zero);
	if (!tries_ok(got->tries, exp->tries, op))
		fprintf(stderr, "tries %d, expected %d (in flight op %d)\n", got->tries,
		        exp->tries, op);
	UK_CHECK(tries_ok(got->tries, exp->tries, op));
	for (i = 0; i < MAX_CONT; i++) {
		if (!cont_ok(got, exp, &alt, fl, i))
			fprintf(stderr, "container %d differs (in flight op %d at %d)\n", i, op,
			        fl->idx);
		UK_CHECK(cont_ok(got, exp, &alt, fl, i));
	}
	for (i = 0; i < NFILES; i++) {
		if (!file_same(&got->f[i], &exp->f[i]) &&
		    !(op >= OP_CFILE && fl->idx == i && file_same(&got->f[i], &alt.f[i])))
			fprintf(stderr, "file D00%d differs (in flight op %d at %d)\n", i, op,
			        fl->idx);
		UK_CHECK(file_same(&got->f[i], &exp->f[i]) ||
		         (op >= OP_CFILE && fl->idx == i && file_same(&got->f[i], &alt.f[i])));
	}
}

/* Did the restarted key keep the unacknowledged command's effect (written, answer lost)? */
static int landed(const model *got, const model *exp)
{
	int i, diff = got->tries != exp->tries;

	for (i = 0; i < MAX_CONT; i++)
		diff |= !cont_same(&got->c[i], &exp->c[i]);
	for (i = 0; i < NFILES; i++)
		diff |= !file_same(&got->f[i], &exp->f[i]);
	return diff;
}

/* Which PIN is current: the expected one, or the other only with a change in flight. Leaves
 * the user PIN verified in a fresh secure session, tries at the maximum. */
static void pin_find(ukt_host *h, model *m, int op)
{
	uint16_t sw;

	UK_CHECK_EQ(ukt_host_open_session(h), 0x9000);
	sw = ukt_host_verify(h, 0x81, pins[m->cur], 8);
	if (sw != 0x9000) {
		UK_CHECK(op == OP_CHANGE && (sw & 0xFFF0) == 0x63C0);
		m->cur ^= 1;
		UK_CHECK_EQ(ukt_host_verify(h, 0x81, pins[m->cur], 8), 0x9000);
	}
	m->tries = MAX_TRIES;
}

/* ---- driving the key ---- */

static int count_present_c(const model *m)
{
	int i, n = 0;

	for (i = 0; i < MAX_CONT; i++)
		n += m->c[i].present;
	return n;
}

static int pick(const model *m, int files, int want, unsigned r)
{
	int i, n = files ? NFILES : MAX_CONT, present;

	for (i = 0; i < n; i++) {
		present = files ? m->f[(r + (unsigned)i) % (unsigned)n].present :
		                  m->c[(r + (unsigned)i) % (unsigned)n].present;
		if (present == want)
			return (int)((r + (unsigned)i) % (unsigned)n);
	}
	return -1;
}

/* Choose the next operation from r and what exists. */
static void choose(const model *m, unsigned r, flight *fl)
{
	static const int table[10] = { OP_WRONG, OP_WRONG, OP_CREATE, OP_CREATE, OP_GEN, OP_GEN,
	                               OP_CFILE, OP_UPDATE, OP_UPDATE, OP_CHANGE };
	size_t i;

	memset(fl, 0, sizeof(*fl));
	fl->op = table[r % 10];
	r /= 10;
	if (fl->op == OP_CREATE && count_present_c(m) >= 12)
		fl->op = OP_DELC;
	if (fl->op == OP_GEN && count_present_c(m) == 0)
		fl->op = OP_CREATE;
	if (fl->op == OP_UPDATE && pick(m, 1, 1, r) < 0)
		fl->op = OP_CFILE;
	if (fl->op == OP_CFILE && pick(m, 1, 0, r) < 0)
		fl->op = OP_DELF;
	fl->name = next_name++;
	fl->idx = fl->op == OP_CREATE ? pick(m, 0, 0, 0) :   /* the card takes the lowest */
	          fl->op == OP_DELC || fl->op == OP_GEN ? pick(m, 0, 1, r) :
	          fl->op == OP_CFILE ? pick(m, 1, 0, r) : pick(m, 1, 1, r);
	if (fl->op == OP_WRONG || fl->op == OP_CHANGE)
		fl->idx = 0;                    /* no container or file involved */
	fl->kr = 2 * fl->idx + (int)((r >> 5) & 1);
	fl->n = 1 + (r >> 6) % FILE_SIZE;
	for (i = 0; i < fl->n; i++)
		fl->data[i] = (uint8_t)(fl->name * 31 + (int)i * 7);
}

static uint16_t send_cfile(ukt_host *h, const flight *fl)
{
	uint8_t p[32];
	int n = snprintf((char *)p + 10, 16, "f%d", fl->name);

	memcpy(p, "\x83\x02\xD0\x00\x80\x02\x01\x00\x84", 9);     /* FILE_SIZE 256 */
	p[3] = (uint8_t)fl->idx;
	p[9] = (uint8_t)n;
	return ukt_host_secured(h, 0x80, 0xE0, 0x01, 0x00, p, 10 + (size_t)n, 0, UKT_HOST_NO_LE);
}

static uint16_t send_update(ukt_host *h, const flight *fl)
{
	const uint8_t fid[2] = { 0xD0, (uint8_t)fl->idx };
	uint16_t sw = ukt_host_plain(h, 0x00, 0xA4, 0x02, 0x0C, fid, 2, UKT_HOST_NO_LE);

	if (sw != 0x9000)
		return sw;
	return ukt_host_secured(h, 0x00, 0xD6, 0x00, 0x00, fl->data, fl->n, 0, UKT_HOST_NO_LE);
}

static uint16_t send_change(ukt_host *h, const model *m)
{
	uint8_t p[18];

	p[0] = 8;
	memcpy(p + 1, pins[m->cur], 8);
	p[9] = 8;
	memcpy(p + 10, pins[m->cur ^ 1], 8);
	return ukt_host_secured(h, 0x00, 0x24, 0x00, 0x81, p, sizeof(p), 1, UKT_HOST_NO_LE);
}

static uint16_t send_op(ukt_host *h, const model *m, const flight *fl, uint8_t pub[65])
{
	char name[16];
	uint8_t del[3] = { 0x80, 0x01, (uint8_t)fl->idx }, fdel[4] = { 0x83, 0x02, 0xD0, 0 };

	switch (fl->op) {
	case OP_LOGIN: return ukt_host_verify(h, 0x81, pins[m->cur], 8);
	case OP_WRONG: return ukt_host_verify(h, 0x81, "wrong999", 8);
	case OP_CHANGE: return send_change(h, m);
	case OP_CREATE:
		snprintf(name, sizeof(name), "n%d", fl->name);
		return ukt_host_create_container(h, name);
	case OP_DELC: return ukt_host_secured(h, 0x80, 0xE4, 0x01, 0x00, del, 3, 0, UKT_HOST_NO_LE);
	case OP_GEN: return ukt_host_generate(h, (uint8_t)fl->kr, 1, pub);
	case OP_CFILE: return send_cfile(h, fl);
	case OP_UPDATE: return send_update(h, fl);
	default:
		fdel[3] = (uint8_t)fl->idx;
		return ukt_host_secured(h, 0x80, 0xE4, 0x00, 0x00, fdel, 4, 0, UKT_HOST_NO_LE);
	}
}

/* One operation: 0 acknowledged (applied to m), -1 the link died with fl in flight. */
static int run_op(ukt_host *h, model *m, const flight *fl, long *acks)
{
	uint8_t pub[65];
	uint16_t sw = send_op(h, m, fl, pub);

	if (sw == 0)
		return -1;
	if (fl->op == OP_WRONG) {
		if ((sw & 0xFFF0) != 0x63C0 || (sw & 0x0F) != m->tries - 1)
			fprintf(stderr, "wrong PIN: %04X after %d tries left\n", sw, m->tries);
		UK_CHECK((sw & 0xFFF0) == 0x63C0 && (sw & 0x0F) == m->tries - 1);
		m->tries--;
	} else {
		if (sw != 0x9000)
			fprintf(stderr, "op %d at %d: %04X\n", fl->op, fl->idx, sw);
		UK_CHECK_EQ(sw, 0x9000);
		if (fl->op == OP_CREATE)
			UK_CHECK(h->rlen == 3 && h->resp[2] == fl->idx);
		model_apply(m, fl, pub);
	}
	*acks += fl->op != OP_LOGIN;
	return 0;
}

/* A wrong-PIN round: only wrong VERIFYs until the key is killed, none once the counter is
 * down to WRONG_FLOOR (then the kill finds nothing in flight). */
static void drive_wrong(ukt_host *h, model *m, flight *fl, long *acks, long *wrong_acks)
{
	for (;;) {
		memset(fl, 0, sizeof(*fl));
		if (m->tries <= WRONG_FLOOR) {
			fl->op = OP_NONE;
			while (!killed)
				usleep(1000);
			return;
		}
		fl->op = OP_WRONG;
		if (run_op(h, m, fl, acks) != 0)
			return;
		(*wrong_acks)++;
	}
}

/* Drive the key until it is killed; *fl is then the operation in flight. */
static void drive(ukt_host *h, model *m, flight *fl, long *acks)
{
	flight login = { .op = OP_LOGIN };

	for (;;) {
		choose(m, (unsigned)rand_r(&seed), fl);
		if (run_op(h, m, fl, acks) != 0)
			return;
		if (fl->op == OP_WRONG && run_op(h, m, &login, acks) != 0) {
			*fl = login;
			return;
		}
	}
}

int main(int argc, char **argv)
{
	static ukt_host h;
	long long start = uk_now_ms();
	long kills = 0, in_cmd_kills = 0, tiny = 0, acks = 0, kept = 0, wrong_rounds = 0;
	long wrong_acks = 0;
	const char *env_seed = getenv("UKEY_CRASH_SEED");
	int wrong_round;
	char *dir = tu_tmpdir(), sock[600], link[700], state[600], log[600];
	struct sigaction sa;
	model exp, got;
	flight fl = { .op = OP_NONE };
	int lfd, fd;

	if (argc < 2)
		return uk_test_skip("no ukey-emu path");
	emu_path = argv[1];
	seed = env_seed != NULL ? (unsigned)strtoul(env_seed, NULL, 0) : SEED_DEFAULT;
	snprintf(sock, sizeof(sock), "%s/link.sock", dir);
	snprintf(link, sizeof(link), "unix:%s", sock);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(log, sizeof(log), "%s/emu.log", dir);
	fprintf(stderr, "seed %u (UKEY_CRASH_SEED=%u replays it), ukey-emu log in %s\n", seed,
	        seed, log);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	UK_CHECK_EQ(sigaction(SIGALRM, &sa, NULL), 0);
	signal(SIGPIPE, SIG_IGN);
	lfd = listen_at(sock);

	/* the first start provisions the key: the factory state is the first expectation */
	fd = emu_start(lfd, link, state, log);
	ukt_host_init(&h, link_xfer, &fd);
	model_read(&h, &exp);
	UK_CHECK_EQ(exp.tries, MAX_TRIES);
	while (kills < KILLS_MAX && (kills < KILLS_MIN || acks < ACKS_MIN)) {
		if (uk_now_ms() - start >= BUDGET_MS)
			fprintf(stderr, "out of time after %ld kills, %ld acknowledged operations\n",
			        kills, acks);
		UK_CHECK(uk_now_ms() - start < BUDGET_MS);
		/* a wrong-PIN round keeps the counter as the last restart left it */
		wrong_round = rand_r(&seed) % 4 == 0 && fl.op != OP_CHANGE &&
		              exp.tries > WRONG_FLOOR + 3;
		if (wrong_round)
			UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
		else
			pin_find(&h, &exp, fl.op);
		kill_at_cmd = -1;
		cmds_sent = 0;
		if (rand_r(&seed) % 5 < 2) {
			kill_at_cmd = rand_r(&seed) % (wrong_round ? 3 : TINY_MAX_CMD);
			tiny++;
		} else {
			arm_timer(1 + rand_r(&seed) % TIMER_MAX_US);
		}
		if (wrong_round)
			drive_wrong(&h, &exp, &fl, &acks, &wrong_acks);
		else
			drive(&h, &exp, &fl, &acks);
		emu_reap(fd);
		kills++;
		in_cmd_kills += killed_in_cmd;
		/* the same state directory: the key loads and holds every acknowledged change */
		fd = emu_start(lfd, link, state, log);
		model_read(&h, &got);
		model_check(&got, &exp, &fl);
		if (wrong_round) {
			/* never back up; lower by every acknowledged wrong VERIFY (exp.tries
			 * already counts them), and by at most the one in flight */
			UK_CHECK(got.tries <= exp.tries);
			UK_CHECK(got.tries >= exp.tries - (fl.op == OP_WRONG));
			wrong_rounds++;
		}
		kept += landed(&got, &exp);
		got.cur = exp.cur;
		exp = got;
	}
	fprintf(stderr, "%ld kills of ukey-emu (%ld right after sending a state change), %ld during "
	        "a command (%ld of them after its change was durable), %ld acknowledged operations "
	        "checked (logins aside), %lld ms\n",
	        kills, tiny, in_cmd_kills, kept, acks, uk_now_ms() - start);
	fprintf(stderr, "%ld wrong-PIN rounds (%ld wrong VERIFYs acknowledged): the try counter "
	        "never went back up across their restarts\n", wrong_rounds, wrong_acks);
	UK_CHECK(kills >= KILLS_MIN);
	UK_CHECK(acks >= ACKS_MIN);
	UK_CHECK(wrong_rounds >= kills / 10 && wrong_acks >= wrong_rounds);
	UK_CHECK(in_cmd_kills >= kills / 4);    /* many kills land inside a command */
	UK_CHECK(acks >= kills);                /* and many changes were acknowledged first */
	UK_CHECK(kept >= kills / 20);           /* some between the durable write and the answer */
	kill((pid_t)emu_pid, SIGKILL);
	waitpid((pid_t)emu_pid, NULL, 0);
	close(fd);
	close(lfd);
	tu_rmdir(dir);
	free(dir);
	return uk_test_done("token_crash_emu");
}
