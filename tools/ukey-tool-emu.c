/* ukey-tool emu: a client of ukey-emu's control socket (docs/ukey-emu.md "Control protocol"):
 * one line per command, one reply line, `ok ...` or `error ...`; values that may hold
 * anything (labels, PINs) %XX-encoded. The line carrying PINs is wiped after use. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "uk_wipe.h"
#include "ukey-tool.h"

#define EMU_LINE_MAX 1024       /* the protocol's bound, newline included */
#define EMU_REPLY_MAX 8192
#define EMU_TIMEOUT_MS 60000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *control_path(struct ut *t)
{
	return t->o.control != NULL ? t->o.control : getenv("UKEY_EMU_CONTROL");
}

/* Send line, read one reply line into reply (bounded in time and size). */
static int emu_exchange(struct ut *t, const char *line, size_t n, char *reply, size_t cap)
{
	const char *path = control_path(t);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + EMU_TIMEOUT_MS;
	size_t len = 0;
	int fd = -1, rc = UT_EXIT_FAILED;

	if (path == NULL || strlen(path) >= sizeof(sa.sun_path))
		return ut_usage_error(t, "no ukey-emu control socket: use --control PATH or "
		                      "$UKEY_EMU_CONTROL");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = ut_error(t, UT_EXIT_FAILED, "failed", "cannot reach ukey-emu at %s: %s", path,
		              strerror(errno));
		goto out;
	}
	if (send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n)
		goto fail;
	while (memchr(reply, '\n', len) == NULL && len < cap - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t r;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			goto fail;
		r = read(fd, reply + len, cap - 1 - len);
		if (r <= 0)
			goto fail;
		len += (size_t)r;
	}
	reply[len] = '\0';
	if (strchr(reply, '\n') == NULL)
		goto fail;
	*strchr(reply, '\n') = '\0';
	if (strncmp(reply, "ok", 2) == 0 && (reply[2] == '\0' || reply[2] == ' ')) {
		rc = 0;
		goto out;
	}
	rc = ut_error(t, UT_EXIT_FAILED, "failed", "ukey-emu: %s", reply);
	goto out;
fail:
	rc = ut_error(t, UT_EXIT_FAILED, "failed", "no answer from ukey-emu at %s", path);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* " key=%XX%XX..." every byte encoded: a PIN or label needs no thought about what is safe. */
static int put_encoded(char *line, size_t cap, size_t *o, const char *key, const uint8_t *v,
                       size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	int w = snprintf(line + *o, cap - *o, " %s=", key);

	if (w < 0 || (size_t)w >= cap - *o || *o + (size_t)w + 3 * n + 2 > cap)
		return -1;
	*o += (size_t)w;
	for (size_t i = 0; i < n; i++) {
		line[(*o)++] = '%';
		line[(*o)++] = hx[v[i] >> 4];
		line[(*o)++] = hx[v[i] & 15];
	}
	line[*o] = '\0';
	return 0;
}

static int put_word(char *line, size_t cap, size_t *o, const char *w)
{
	int n = snprintf(line + *o, cap - *o, " %s", w);

	if (n < 0 || (size_t)n >= cap - *o)
		return -1;
	*o += (size_t)n;
	return 0;
}

static int put_kv(char *line, size_t cap, size_t *o, const char *key, const char *v)
{
	int n = snprintf(line + *o, cap - *o, " %s=%s", key, v);

	if (n < 0 || (size_t)n >= cap - *o)
		return -1;
	*o += (size_t)n;
	return 0;
}

static int plain_value(const char *v)
{
	return strspn(v, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") ==
	       strlen(v);
}

/* The PIN for create: --pin-file/--so-pin-file or the environment, never a prompt (the
 * command provisions a key for tests and CI). */
static int put_pin(struct ut *t, char *line, size_t cap, size_t *o, enum ut_who who,
                   const char *key)
{
	const char *file = who == UT_PIN_USER ? t->o.pin_file : t->o.so_pin_file;
	const char *env = getenv(who == UT_PIN_USER ? "UKEY_USER_PIN" : "UKEY_SO_PIN");
	struct ut_pin pin;
	int rc = 0;

	if (file == NULL && env == NULL)
		return 0;
	if ((rc = ut_pin_get(t, who, &pin)) != 0)
		return rc;
	if (put_encoded(line, cap, o, key, pin.buf, pin.len) != 0)
		rc = ut_usage_error(t, "the command line for ukey-emu is too long");
	ut_pin_wipe(&pin);
	return rc;
}

static int build_create(struct ut *t, char *line, size_t cap, size_t *o)
{
	const struct ut_opts *op = &t->o;
	int rc;

	*o = (size_t)snprintf(line, cap, "create");
	if (op->serial != NULL && (!plain_value(op->serial) ||
	                           strspn(op->serial, "0123456789") != strlen(op->serial)))
		return ut_usage_error(t, "--serial wants digits");
	if (op->zone != NULL && strcmp(op->zone, "green") != 0 && strcmp(op->zone, "yellow") != 0)
		return ut_usage_error(t, "--zone is green or yellow");
	if (op->max_tries != NULL && (strspn(op->max_tries, "0123456789") !=
	                              strlen(op->max_tries) || *op->max_tries == '\0'))
		return ut_usage_error(t, "--max-tries wants a number");
	if ((op->serial && put_kv(line, cap, o, "serial", op->serial)) ||
	    (op->label && put_encoded(line, cap, o, "label", (const uint8_t *)op->label,
	                              strlen(op->label))) ||
	    (op->zone && put_kv(line, cap, o, "zone", op->zone)) ||
	    (op->max_tries && put_kv(line, cap, o, "max-tries", op->max_tries)) ||
	    (op->pinpad && put_word(line, cap, o, "pinpad")) ||
	    (op->button && put_word(line, cap, o, "button")))
		return ut_usage_error(t, "the command line for ukey-emu is too long");
	if ((rc = put_pin(t, line, cap, o, UT_PIN_USER, "user-pin")) != 0 ||
	    (rc = put_pin(t, line, cap, o, UT_PIN_SO, "so-pin")) != 0)
		return rc;
	return 0;
}

/* `ok <index> <serial> <state>` */
int cmd_emu_create(struct ut *t)
{
	char line[EMU_LINE_MAX], reply[EMU_REPLY_MAX] = "";
	char serial[64] = "", state[32] = "";
	size_t o = 0;
	long index = -1;
	int rc;

	if ((rc = build_create(t, line, sizeof(line) - 1, &o)) != 0)
		goto out;
	line[o++] = '\n';
	if ((rc = emu_exchange(t, line, o, reply, sizeof(reply))) != 0)
		goto out;
	if (sscanf(reply, "ok %ld %63s %31s", &index, serial, state) != 3) {
		rc = ut_error(t, UT_EXIT_FAILED, "failed", "ukey-emu: unexpected answer: %s", reply);
		goto out;
	}
	ut_printf(t, "emulated key %ld created: serial %s, %s\n", index, serial, state);
	ut_json_open(t, NULL);
	ut_json_int(t, "index", index);
	ut_json_str(t, "serial", serial);
	ut_json_str(t, "state", state);
	ut_json_close(t);
out:
	uk_wipe(line, sizeof(line));
	return rc;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static size_t pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return o;
}

/* One " index,serial,label,zone,state,flags" entry of the list reply. */
static void emu_entry(struct ut *t, char *e)
{
	char *f[6] = { 0 }, label[256], *save = NULL, *flag;
	int k = 0;

	for (char *p = strtok_r(e, ",", &save); p != NULL && k < 6; p = strtok_r(NULL, ",", &save))
		f[k++] = p;
	if (k < 6)
		return;
	pct_decode(f[2], strlen(f[2]), label, sizeof(label));
	ut_printf(t, "%-3s %s  \"%s\"  %s  %s  %s\n", f[0], f[1], label, f[3], f[4], f[5]);
	ut_json_open(t, NULL);
	ut_json_int(t, "index", strtol(f[0], NULL, 10));
	ut_json_str(t, "serial", f[1]);
	ut_json_str(t, "label", label);
	ut_json_str(t, "zone", f[3]);
	ut_json_str(t, "state", f[4]);
	ut_json_array(t, "flags");
	for (flag = strtok_r(f[5], "+", &save); flag != NULL; flag = strtok_r(NULL, "+", &save))
		if (strcmp(flag, "-") != 0)
			ut_json_str(t, NULL, flag);
	ut_json_array_end(t);
	ut_json_close(t);
}

int cmd_emu_list(struct ut *t)
{
	char reply[EMU_REPLY_MAX] = "", *save = NULL, *w;
	int rc;

	if ((rc = emu_exchange(t, "list\n", 5, reply, sizeof(reply))) != 0)
		return rc;
	ut_json_open(t, NULL);
	ut_json_array(t, "keys");
	w = strtok_r(reply, " ", &save);        /* "ok" */
	w = w != NULL ? strtok_r(NULL, " ", &save) : NULL;     /* count */
	while (w != NULL && (w = strtok_r(NULL, " ", &save)) != NULL)
		emu_entry(t, w);
	ut_json_array_end(t);
	ut_json_close(t);
	return 0;
}

static int emu_index_cmd(struct ut *t, const char *verb)
{
	char line[64], reply[EMU_REPLY_MAX] = "";
	const char *n = t->o.args[0];
	int len, rc;

	if (*n == '\0' || strspn(n, "0123456789") != strlen(n) || strlen(n) > 6)
		return ut_usage_error(t, "N is a key index (ukey-tool emu list)");
	len = snprintf(line, sizeof(line), "%s %s\n", verb, n);
	if ((rc = emu_exchange(t, line, (size_t)len, reply, sizeof(reply))) != 0)
		return rc;
	ut_printf(t, "emulated key %s: %s\n", n, reply[2] == ' ' ? reply + 3 : "ok");
	ut_json_open(t, NULL);
	ut_json_int(t, "index", strtol(n, NULL, 10));
	ut_json_str(t, "state", reply[2] == ' ' ? reply + 3 : "ok");
	ut_json_close(t);
	return 0;
}

int cmd_emu_remove(struct ut *t) { return emu_index_cmd(t, "remove"); }
int cmd_emu_insert(struct ut *t) { return emu_index_cmd(t, "insert"); }
