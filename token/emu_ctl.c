/* ukey-emu: the control interface (docs/ukey-emu.md "Control protocol"): a line protocol on
 * an AF_UNIX socket (mode 0600), one command per line, one reply line `ok ...` or
 * `error <reason>`, and `ukey-emu ctl`, its command-line client.
 *
 * Values that may hold spaces or secrets (labels, PINs) are percent-encoded (%XX) on the
 * line. Lines may carry PINs (`create`), so every line buffer is wiped after use. */
#define _GNU_SOURCE
#include "emu.h"
#include "uk_buf.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "uk_wipe.h"

#define CTL_ARGS_MAX 16
#define CTL_WAIT_MS 3000        /* remove/insert: how long to wait for the link to follow */
#define CTL_LATENCY_MAX_MS 600000u

typedef int (*ctl_fn)(emu *e, int argc, char **argv, char *reply, size_t cap);

/* ---- encoding ---- */

/* %XX-decode in into out (cap bytes, NUL added). Returns the length, -1 if bad or too long. */
static long unescape(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	int hi, lo;

	for (; *in != '\0'; in++) {
		if (n + 1 >= cap)
			return -1;
		if (*in != '%') {
			out[n++] = *in;
			continue;
		}
		hi = uk_hex_nibble(in[1]);
		lo = hi < 0 ? -1 : uk_hex_nibble(in[2]);
		if (lo < 0)
			return -1;
		out[n++] = (char)(hi << 4 | lo);
		in += 2;
	}
	out[n] = '\0';
	return (long)n;
}

static void escape(const uint8_t *in, size_t n, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < n && o + 4 <= cap; i++) {
		if ((in[i] >= 'a' && in[i] <= 'z') || (in[i] >= 'A' && in[i] <= 'Z') ||
		    (in[i] >= '0' && in[i] <= '9') || strchr("-_.~", in[i]) != NULL) {
			out[o++] = (char)in[i];
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[in[i] >> 4];
		out[o++] = hex[in[i] & 15];
	}
	out[o] = '\0';
}

/* ---- helpers of the commands ---- */

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max ? 0 : -1;
}

static emu_key *key_arg(emu *e, const char *s, char *reply, size_t cap)
{
	unsigned long i;
	emu_key *k = NULL;

	pthread_mutex_lock(&e->lock);
	if (parse_uint(s, EMU_MAX_KEYS, &i) == 0 && i < e->nkeys)
		k = e->keys[i];
	pthread_mutex_unlock(&e->lock);
	if (k == NULL)
		snprintf(reply, cap, "error no key %s", s);
	return k;
}

/* Wait (bounded, under the lock) until the key's link is up (want 1) or down (want 0), or
 * the operator's wish changed under us. */
static void wait_link_locked(emu_key *k, int want)
{
	long long deadline = emu_now_ms() + CTL_WAIT_MS;
	struct timespec ts;

	while (k->connected != want && k->want_in == want && emu_now_ms() < deadline) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&k->emu->cond, &k->emu->lock, &ts);
	}
}

static const char *state_name_locked(const emu_key *k)
{
	if (k->connected)
		return "inserted";
	return k->want_in ? "connecting" : "removed";
}

/* The CCID faults (docs/ccid.md "Faults"): `ccid N FAULT [ARG]`, listed as ccid-FAULT[=ARG].
 * One-shot faults are a bit of ccid_once; timeext and split hold a number (0 removes). */
static const struct ccid_fault {
	const char *name;
	unsigned bit;                   /* one-shot; 0: a numbered fault */
	unsigned long max;              /* numbered: largest ARG */
} ccid_faults[] = {
	{ "timeext", 0, 255 },          { "split", 0, EMU_CCID_MSG_MAX },
	{ "stall", EMU_CCID_STALL, 0 }, { "short", EMU_CCID_SHORT, 0 },
	{ "mute", EMU_CCID_MUTE, 0 },   { "busy", EMU_CCID_BUSY, 0 },
	{ "badseq", EMU_CCID_BADSEQ, 0 }, { "drop", EMU_CCID_DROP, 0 },
	{ "hwerror", EMU_CCID_HWERROR, 0 },
};

static size_t ccid_flags_locked(const emu_faults *f, char *out, size_t cap)
{
	size_t i, n = 0;

	if (f->ccid_timeext && n < cap)
		n += (size_t)snprintf(out + n, cap - n, "+ccid-timeext=%u", f->ccid_timeext);
	if (f->ccid_split && n < cap)
		n += (size_t)snprintf(out + n, cap - n, "+ccid-split=%u", f->ccid_split);
	for (i = 0; i < sizeof(ccid_faults) / sizeof(ccid_faults[0]) && n < cap; i++)
		if (ccid_faults[i].bit & f->ccid_once)
			n += (size_t)snprintf(out + n, cap - n, "+ccid-%s", ccid_faults[i].name);
	return n;
}

static void flags_locked(const emu_key *k, char *out, size_t cap)
{
	static const char *const pl[] = { "", "+powerloss", "+powerloss-after" };
	int n;

	n = snprintf(out, cap, "%s%s%s%s%s%s%s", k->button ? "+button" : "",
	             k->waiting ? "+waiting" : "", k->pinpad ? "+pinpad" : "",
	             k->pad_waiting ? "+pin-waiting" : "", k->f.profile_s0 ? "+s0" : "",
	             pl[k->f.powerloss], k->f.refuse ? "+refuse" : "");
	if (k->f.latency_ms && n >= 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, "+latency=%u", k->f.latency_ms);
	if (n >= 0 && (size_t)n < cap)
		ccid_flags_locked(&k->f, out + n, cap - (size_t)n);
	if (out[0] == '\0')
		snprintf(out, cap, "-");
	else
		memmove(out, out + 1, strlen(out));     /* drop the leading + */
}

/* ---- commands ---- */

/* list: ok <n> then one record per key, index,serial,label,zone,state,flags */
static int cmd_list(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	char label[3 * EMU_LABEL_MAX + 1], flags[256];
	size_t off;
	unsigned i;
	emu_key *k;

	(void)argc;
	(void)argv;
	pthread_mutex_lock(&e->lock);
	off = (size_t)snprintf(reply, cap, "ok %u", e->nkeys);
	for (i = 0; i < e->nkeys && off < cap; i++) {
		k = e->keys[i];
		escape((const uint8_t *)k->label, strlen(k->label), label, sizeof(label));
		flags_locked(k, flags, sizeof(flags));
		off += (size_t)snprintf(reply + off, cap - off, " %u,%s,%s,%s,%s,%s", k->index,
		                        k->serial, label, k->zone == 1 ? "yellow" : "green",
		                        state_name_locked(k), flags);
	}
	pthread_mutex_unlock(&e->lock);
	return 0;
}

static int cmd_remove(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	emu_key *k = key_arg(e, argv[1], reply, cap);

	(void)argc;
	if (k == NULL)
		return -1;
	pthread_mutex_lock(&e->lock);
	k->want_in = 0;
	pthread_cond_broadcast(&e->cond);
	emu_key_wake(k);
	wait_link_locked(k, 0);
	snprintf(reply, cap, k->connected ? "error key %u still connected" : "ok removed",
	         k->index);
	pthread_mutex_unlock(&e->lock);
	return k->connected ? -1 : 0;
}

static int cmd_insert(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	emu_key *k = key_arg(e, argv[1], reply, cap);
	int ret = 0;

	(void)argc;
	if (k == NULL)
		return -1;
	pthread_mutex_lock(&e->lock);
	k->want_in = 1;
	k->failed = 0;
	pthread_cond_broadcast(&e->cond);
	emu_key_wake(k);
	wait_link_locked(k, 1);
	if (k->connected)
		snprintf(reply, cap, "ok inserted");
	else if (k->want_in)
		snprintf(reply, cap, "ok connecting");
	else
		ret = -1, snprintf(reply, cap, "error key %u cannot connect (see the log)", k->index);
	pthread_mutex_unlock(&e->lock);
	return ret;
}

static int cmd_latency(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	emu_key *k = key_arg(e, argv[1], reply, cap);
	unsigned long ms = 0;
	int s0 = strcmp(argv[2], "s0") == 0;

	(void)argc;
	if (k == NULL)
		return -1;
	if (!s0 && parse_uint(argv[2], CTL_LATENCY_MAX_MS, &ms) != 0) {
		snprintf(reply, cap, "error latency wants milliseconds (<= %u) or s0",
		         CTL_LATENCY_MAX_MS);
		return -1;
	}
	pthread_mutex_lock(&e->lock);
	if (s0)
		k->f.profile_s0 = 1;
	else
		k->f.latency_ms = (unsigned)ms;
	pthread_mutex_unlock(&e->lock);
	snprintf(reply, cap, "ok");
	return 0;
}

static int cmd_powerloss(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	emu_key *k = key_arg(e, argv[1], reply, cap);
	int mode = EMU_PL_BEFORE;

	if (k == NULL)
		return -1;
	if (argc == 3 && strcmp(argv[2], "after") == 0)
		mode = EMU_PL_AFTER;
	else if (argc == 3 && strcmp(argv[2], "before") != 0) {
		snprintf(reply, cap, "error powerloss N [before|after]");
		return -1;
	}
	pthread_mutex_lock(&e->lock);
	k->f.powerloss = mode;
	pthread_mutex_unlock(&e->lock);
	snprintf(reply, cap, "ok");
	return 0;
}

static int cmd_refuse(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	emu_key *k = key_arg(e, argv[1], reply, cap);
	int on = strcmp(argv[2], "on") == 0;

	(void)argc;
	if (k == NULL)
		return -1;
	if (!on && strcmp(argv[2], "off") != 0) {
		snprintf(reply, cap, "error refuse N on|off");
		return -1;
	}
	pthread_mutex_lock(&e->lock);
	k->f.refuse = on;
	pthread_mutex_unlock(&e->lock);
	snprintf(reply, cap, "ok");
	return 0;
}

static int cmd_clear(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	emu_key *k = key_arg(e, argv[1], reply, cap);

	(void)argc;
	if (k == NULL)
		return -1;
	pthread_mutex_lock(&e->lock);
	memset(&k->f, 0, sizeof(k->f));
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	snprintf(reply, cap, "ok");
	return 0;
}

/* ccid N FAULT [ARG] (usb link only): arm a CCID fault; hwerror is sent at once, so the
 * key must be connected. */
static int cmd_ccid(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	emu_key *k = key_arg(e, argv[1], reply, cap);
	const struct ccid_fault *cf = NULL;
	unsigned long v = 0;
	size_t i;
	int ret = -1;

	if (k == NULL)
		return -1;
	for (i = 0; i < sizeof(ccid_faults) / sizeof(ccid_faults[0]); i++)
		if (strcmp(ccid_faults[i].name, argv[2]) == 0)
			cf = &ccid_faults[i];
	if (e->ops != &emu_link_usb) {
		snprintf(reply, cap, "error key %u is not on a usb link", k->index);
		return -1;
	}
	if (cf == NULL || (cf->bit != 0) != (argc == 3) ||
	    (cf->bit == 0 && parse_uint(argv[3], cf->max, &v) != 0)) {
		snprintf(reply, cap, "error ccid N timeext K|split B|stall|short|mute|busy|badseq|"
		                     "drop|hwerror");
		return -1;
	}
	pthread_mutex_lock(&e->lock);
	if (cf->bit == EMU_CCID_HWERROR && !k->connected) {
		snprintf(reply, cap, "error key %u is not connected", k->index);
		goto out;
	}
	k->f.ccid_once |= cf->bit;
	if (cf->bit == 0 && strcmp(cf->name, "timeext") == 0)
		k->f.ccid_timeext = (unsigned)v;
	else if (cf->bit == 0)
		k->f.ccid_split = (unsigned)v;
	emu_key_wake(k);
	snprintf(reply, cap, "ok");
	ret = 0;
out:
	pthread_mutex_unlock(&e->lock);
	return ret;
}

static int cmd_confirm(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	emu_key *k = key_arg(e, argv[1], reply, cap);
	int ret = -1;

	(void)argc;
	if (k == NULL)
		return -1;
	pthread_mutex_lock(&e->lock);
	if (!k->button) {
		snprintf(reply, cap, "error key %u has no button", k->index);
	} else if (!k->waiting) {
		snprintf(reply, cap, "error no signature is waiting on key %u", k->index);
	} else {
		k->confirmed = 1;
		pthread_cond_broadcast(&e->cond);
		snprintf(reply, cap, "ok");
		ret = 0;
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

/* pinpad N <PIN>|cancel: what the holder types on key N's pinpad, for the pinpad VERIFY
 * waiting now or the next one. The PIN is %XX-encoded and wiped after use (docs/ukey-emu.md). */
static int cmd_pinpad(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	emu_key *k = key_arg(e, argv[1], reply, cap);
	int cancel = strcmp(argv[2], "cancel") == 0, ret = -1;
	char pin[EMU_PIN_MAX];
	long n = 0;

	(void)argc;
	if (k == NULL)
		return -1;
	if (!cancel && (n = unescape(argv[2], pin, sizeof(pin))) <= 0) {
		snprintf(reply, cap, "error pinpad N <%%-encoded PIN, 1-%d bytes>|cancel",
		         EMU_PIN_MAX - 1);
		goto out;
	}
	pthread_mutex_lock(&e->lock);
	if (!k->pinpad) {
		snprintf(reply, cap, "error key %u has no pinpad", k->index);
	} else if (k->auto_pinpad_file != NULL) {
		snprintf(reply, cap, "error key %u answers its pinpad from a file", k->index);
	} else {
		uk_wipe(k->pad_pin, sizeof(k->pad_pin));
		memcpy(k->pad_pin, pin, (size_t)n);
		k->pad_len = (size_t)n;
		k->pad_entry = cancel ? EMU_PAD_CANCEL : EMU_PAD_PIN;
		pthread_cond_broadcast(&e->cond);
		snprintf(reply, cap, "ok");
		ret = 0;
	}
	pthread_mutex_unlock(&e->lock);
out:
	uk_wipe(pin, sizeof(pin));
	return ret;
}

/* create [serial=S] [label=L] [zone=green|yellow] [user-pin=P] [so-pin=P] [button]
 *        [auto-confirm] [confirm-timeout=MS] [pinpad] [auto-pinpad-file=F] [max-tries=N] */
typedef struct create_args {
	emu_new_key nk;
	char pad_file[EMU_CTL_LINE_MAX];
	char serial[UKT_SERIAL_LEN + 2];
	char label[EMU_LABEL_MAX + 2];
	char user_pin[EMU_PIN_MAX];
	char so_pin[EMU_PIN_MAX];
} create_args;

static int create_value(create_args *a, const char *arg)
{
	const char *v = strchr(arg, '=');
	size_t klen = v != NULL ? (size_t)(v - arg) : strlen(arg);
	unsigned long ms;
	long n;

#define KEY_IS(s) (klen == sizeof(s) - 1 && strncmp(arg, s, klen) == 0)
	if (v == NULL) {
		if (KEY_IS("button"))
			return a->nk.button = 1, 0;
		if (KEY_IS("auto-confirm"))
			return a->nk.auto_confirm = 1, 0;
		if (KEY_IS("pinpad"))
			return a->nk.pinpad = 1, 0;
		return -1;
	}
	v++;
	if (KEY_IS("serial") && unescape(v, a->serial, sizeof(a->serial)) > 0)
		return a->nk.prov.serial = a->serial, 0;
	if (KEY_IS("label") && unescape(v, a->label, sizeof(a->label)) > 0)
		return a->nk.prov.label = a->label, 0;
	if (KEY_IS("zone") && (strcmp(v, "green") == 0 || strcmp(v, "yellow") == 0))
		return a->nk.prov.zone = v[0] == 'g' ? 2 : 1, 0;
	if (KEY_IS("confirm-timeout") && parse_uint(v, EMU_CONFIRM_MS_MAX, &ms) == 0 && ms > 0)
		return a->nk.confirm_ms = (unsigned)ms, 0;
	if (KEY_IS("auto-pinpad-file") && unescape(v, a->pad_file, sizeof(a->pad_file)) > 0)
		return a->nk.auto_pinpad_file = a->pad_file, 0;
	if (KEY_IS("max-tries") && parse_uint(v, 15, &ms) == 0 && ms >= 3)
		return a->nk.prov.max_tries = (unsigned)ms, 0;
	if (KEY_IS("user-pin") && (n = unescape(v, a->user_pin, sizeof(a->user_pin))) > 0) {
		a->nk.prov.user_pin = (const uint8_t *)a->user_pin;
		a->nk.prov.user_pin_len = (size_t)n;
		return 0;
	}
	if (KEY_IS("so-pin") && (n = unescape(v, a->so_pin, sizeof(a->so_pin))) > 0) {
		a->nk.prov.so_pin = (const uint8_t *)a->so_pin;
		a->nk.prov.so_pin_len = (size_t)n;
		return 0;
	}
#undef KEY_IS
	return -1;
}

static int cmd_create(emu *e, int argc, char **argv, char *reply, size_t cap)
{
	create_args a;
	const char *why = "bad argument";
	emu_key *k = NULL;
	int i;

	(void)e;
	memset(&a, 0, sizeof(a));
	for (i = 1; i < argc; i++) {
		if (create_value(&a, argv[i]) != 0) {
			/* the argument may hold a PIN: name only its key */
			snprintf(reply, cap, "error bad create argument %.*s", (int)strcspn(argv[i], "="),
			         argv[i]);
			goto out;
		}
	}
	k = emu_key_create(e, &a.nk, &why);
	if (k == NULL) {
		snprintf(reply, cap, "error %s", why);
		goto out;
	}
	/* plugged in at once: answer once the driver took it (or dropped it: no free slot) */
	pthread_mutex_lock(&e->lock);
	wait_link_locked(k, 1);
	snprintf(reply, cap, "ok %u %s %s", k->index, k->serial, state_name_locked(k));
	pthread_mutex_unlock(&e->lock);
out:
	uk_wipe(&a, sizeof(a));
	return k != NULL ? 0 : -1;
}

static const struct ctl_cmd {
	const char *name;
	int min_args, max_args;         /* after the command word */
	ctl_fn fn;
} ctl_cmds[] = {
	{ "list", 0, 0, cmd_list },         { "create", 0, 11, cmd_create },
	{ "remove", 1, 1, cmd_remove },     { "insert", 1, 1, cmd_insert },
	{ "latency", 2, 2, cmd_latency },   { "powerloss", 1, 2, cmd_powerloss },
	{ "refuse", 2, 2, cmd_refuse },     { "clear", 1, 1, cmd_clear },
	{ "confirm", 1, 1, cmd_confirm },   { "pinpad", 2, 2, cmd_pinpad },
	{ "ccid", 2, 3, cmd_ccid },
};

int emu_ctl_exec(emu *e, char *line, char *reply, size_t cap)
{
	char *argv[CTL_ARGS_MAX + 1], *save = NULL, *tok;
	int argc = 0;
	size_t i;

	for (tok = strtok_r(line, " \t\r", &save); tok != NULL && argc <= CTL_ARGS_MAX;
	     tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	if (argc == 0 || argc > CTL_ARGS_MAX) {
		snprintf(reply, cap, "error empty or too long command");
		return -1;
	}
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(ctl_cmds[i].name, argv[0]) != 0)
			continue;
		if (argc - 1 < ctl_cmds[i].min_args || argc - 1 > ctl_cmds[i].max_args) {
			snprintf(reply, cap, "error wrong number of arguments for %s", argv[0]);
			return -1;
		}
		return ctl_cmds[i].fn(e, argc, argv, reply, cap);
	}
	snprintf(reply, cap, "error unknown command");
	return -1;
}

/* ---- the server ---- */

static int remove_stale_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode))
		return -1;      /* never remove anything that is not a socket */
	return unlink(path);
}

int emu_ctl_open(emu_ctl *c, const char *path)
{
	struct sockaddr_un sa;
	mode_t old;
	int i, r;

	memset(c, 0, sizeof(*c));
	c->lfd = -1;
	for (i = 0; i < EMU_CTL_CONNS; i++)
		c->conn[i].fd = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path) || remove_stale_socket(path) != 0)
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->lfd < 0)
		return -1;
	old = umask(0177);      /* created 0600: the operator's uid only (and root) */
	r = bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r != 0 || chmod(path, 0600) != 0 || listen(c->lfd, EMU_CTL_CONNS) != 0) {
		close(c->lfd);
		c->lfd = -1;
		return -1;
	}
	c->path = strdup(path);
	return 0;
}

static void conn_close(emu_ctl_conn *cc)
{
	if (cc->fd >= 0)
		close(cc->fd);
	cc->fd = -1;
	uk_wipe(cc->buf, sizeof(cc->buf));
	cc->len = 0;
}

void emu_ctl_close(emu_ctl *c)
{
	int i;

	for (i = 0; i < EMU_CTL_CONNS; i++)
		conn_close(&c->conn[i]);
	if (c->lfd >= 0) {
		close(c->lfd);
		if (c->path != NULL)
			unlink(c->path);
	}
	c->lfd = -1;
	free(c->path);
	c->path = NULL;
}

size_t emu_ctl_pollfds(const emu_ctl *c, struct pollfd *pfd)
{
	size_t n = 0;
	int i;

	pfd[n++] = (struct pollfd){ .fd = c->lfd, .events = POLLIN };
	for (i = 0; i < EMU_CTL_CONNS; i++)
		pfd[n++] = (struct pollfd){ .fd = c->conn[i].fd, .events = POLLIN };
	return n;
}

static void ctl_accept(emu_ctl *c)
{
	int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC), i;

	if (fd < 0)
		return;
	for (i = 0; i < EMU_CTL_CONNS; i++) {
		if (c->conn[i].fd < 0) {
			c->conn[i].fd = fd;
			c->conn[i].len = 0;
			return;
		}
	}
	(void)!write(fd, "error too many control connections\n", 36);
	close(fd);
}

static int send_reply(int fd, const char *reply)
{
	char line[EMU_CTL_LINE_MAX + 2];
	int n = snprintf(line, sizeof(line), "%s\n", reply);

	if (n < 0 || (size_t)n >= sizeof(line))
		n = snprintf(line, sizeof(line), "error reply too long\n");
	return send(fd, line, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/* Run every complete line in the connection's buffer. */
static int conn_lines(emu *e, emu_ctl_conn *cc)
{
	char reply[EMU_CTL_LINE_MAX];
	char *nl;
	size_t used;
	int r = 0;

	while (r == 0 && (nl = memchr(cc->buf, '\n', cc->len)) != NULL) {
		*nl = '\0';
		used = (size_t)(nl - cc->buf) + 1;
		emu_ctl_exec(e, cc->buf, reply, sizeof(reply));
		r = send_reply(cc->fd, reply);
		uk_wipe(cc->buf, used);
		memmove(cc->buf, cc->buf + used, cc->len - used);
		cc->len -= used;
	}
	return r;
}

static void conn_readable(emu *e, emu_ctl_conn *cc)
{
	ssize_t r = read(cc->fd, cc->buf + cc->len, sizeof(cc->buf) - cc->len);

	if (r < 0 && errno == EINTR)
		return;
	if (r <= 0) {
		conn_close(cc);
		return;
	}
	cc->len += (size_t)r;
	if (conn_lines(e, cc) != 0) {
		conn_close(cc);
		return;
	}
	if (cc->len == sizeof(cc->buf)) {
		send_reply(cc->fd, "error line too long");
		conn_close(cc);
	}
}

void emu_ctl_serve(emu_ctl *c, emu *e, const struct pollfd *pfd, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (c->conn[i - 1].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
			conn_readable(e, &c->conn[i - 1]);
	if (pfd[0].revents & POLLIN)
		ctl_accept(c);
}

/* ---- PIN sources ---- */

long emu_pin_source(const char *file, const char *env, uint8_t buf[EMU_PIN_MAX])
{
	const char *v = file == NULL ? getenv(env) : NULL;
	FILE *f;
	size_t n = 0;

	if (file == NULL && v == NULL)
		return 0;
	if (v != NULL) {
		n = strlen(v);
		if (n == 0 || n >= EMU_PIN_MAX)
			return fprintf(stderr, "ukey-emu: %s: bad length\n", env), -1;
		memcpy(buf, v, n);
		return (long)n;
	}
	f = fopen(file, "re");
	if (f == NULL)
		return fprintf(stderr, "ukey-emu: %s: %s\n", file, strerror(errno)), -1;
	if (fgets((char *)buf, EMU_PIN_MAX, f) != NULL)
		n = strcspn((char *)buf, "\r\n");
	fclose(f);
	if (n == 0 || n >= EMU_PIN_MAX - 1) {
		uk_wipe(buf, EMU_PIN_MAX);
		return fprintf(stderr, "ukey-emu: %s: no PIN on its first line\n", file), -1;
	}
	return (long)n;
}
