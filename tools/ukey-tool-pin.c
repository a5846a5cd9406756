/* ukey-tool: PINs and the PIN commands (docs/ukey-tool.md "PINs").
 *
 * Sources in order: --pin-file/--so-pin-file/--new-pin-file (first line), the environment
 * ($UKEY_USER_PIN, $UKEY_SO_PIN, $UKEY_NEW_PIN), a prompt on /dev/tty with echo off. PINs are
 * pointer + length buffers (struct ut_pin), wiped after use, never printed, never in argv.
 * The terminal's settings are restored on every path, and on SIGINT before the signal
 * takes its default course. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "uk_wipe.h"
#include "ukey-tool.h"

struct pin_source {
	const char *env;
	const char *prompt;
	const char *name;       /* for "no user PIN: use --pin-file, $UKEY_USER_PIN ..." */
	const char *option;
};

static const struct pin_source pin_sources[] = {
	[UT_PIN_USER] = { "UKEY_USER_PIN", "User PIN: ", "user PIN", "--pin-file" },
	[UT_PIN_SO] = { "UKEY_SO_PIN", "SO PIN: ", "SO PIN", "--so-pin-file" },
	[UT_PIN_NEW] = { "UKEY_NEW_PIN", "New PIN: ", "new PIN", "--new-pin-file" },
};

void ut_pin_wipe(struct ut_pin *pin)
{
	uk_wipe(pin, sizeof(*pin));
}

static const char *pin_file_of(const struct ut *t, enum ut_who who)
{
	const char *files[] = { t->o.pin_file, t->o.so_pin_file, t->o.new_pin_file };

	return files[who];
}

/* ---- the terminal ----------------------------------------------------------------------- */

static volatile sig_atomic_t tty_saved_fd = -1;
static struct termios tty_saved;

/* Async-signal-safe: put the terminal back, then let SIGINT do what it would have done. */
static void tty_on_signal(int sig)
{
	if (tty_saved_fd >= 0)
		tcsetattr(tty_saved_fd, TCSAFLUSH, &tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int tty_open(void)
{
	return open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
}

/* One line from the terminal (echo off when noecho); length or -1. buf is wiped on error. */
static long tty_read_line(int fd, const char *prompt, int noecho, uint8_t *buf, size_t cap)
{
	struct sigaction sa, old_int, old_term;
	struct termios quiet;
	size_t n = 0;
	long rc = -1;
	char c;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_on_signal;
	sigemptyset(&sa.sa_mask);
	if (write(fd, prompt, strlen(prompt)) < 0)
		return -1;
	if (noecho && tcgetattr(fd, &tty_saved) == 0) {
		quiet = tty_saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		tty_saved_fd = fd;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	for (;;) {
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out;
		if (c == '\n' || c == '\r')
			break;
		if (n == cap)
			goto out;
		buf[n++] = (uint8_t)c;
	}
	rc = (long)n;
out:
	c = 0;
	if (tty_saved_fd >= 0) {
		tcsetattr(fd, TCSAFLUSH, &tty_saved);
		tty_saved_fd = -1;
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		if (write(fd, "\n", 1) < 0)
			rc = -1;
	}
	if (rc < 0)
		uk_wipe(buf, cap);
	return rc;
}

static int pin_from_tty(struct ut *t, enum ut_who who, struct ut_pin *pin)
{
	struct ut_pin again;
	int fd = tty_open(), rc = UT_EXIT_FAILED;
	long n;

	memset(&again, 0, sizeof(again));
	if (fd < 0)
		return -1;
	n = tty_read_line(fd, pin_sources[who].prompt, 1, pin->buf, sizeof(pin->buf));
	if (n < 0) {
		rc = ut_error(t, UT_EXIT_FAILED, "failed", "no %s read from the terminal",
		              pin_sources[who].name);
		goto out;
	}
	pin->len = (size_t)n;
	if (who == UT_PIN_NEW) {
		n = tty_read_line(fd, "Repeat new PIN: ", 1, again.buf, sizeof(again.buf));
		if (n < 0 || (size_t)n != pin->len || !uk_ct_equal(pin->buf, again.buf, pin->len)) {
			rc = ut_error(t, UT_EXIT_POLICY, "pin-policy", "the new PINs do not match");
			goto out;
		}
	}
	rc = 0;
out:
	ut_pin_wipe(&again);
	if (rc != 0)
		ut_pin_wipe(pin);
	close(fd);
	return rc;
}

static int pin_from_file(struct ut *t, const char *path, struct ut_pin *pin)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL)
		return ut_error(t, UT_EXIT_FAILED, "failed", "cannot open %s: %s", path,
		                strerror(errno));
	setvbuf(f, NULL, _IONBF, 0);    /* no stdio copy of the PIN left behind */
	n = fread(pin->buf, 1, sizeof(pin->buf), f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (pin->buf[i] == '\n' || pin->buf[i] == '\r') {
			pin->len = i;
			uk_wipe(pin->buf + i, sizeof(pin->buf) - i);
			return 0;
		}
	if (n == sizeof(pin->buf)) {
		ut_pin_wipe(pin);
		return ut_error(t, UT_EXIT_FAILED, "failed", "%s: the PIN is too long", path);
	}
	pin->len = n;
	return 0;
}

int ut_pin_source_exists(struct ut *t, enum ut_who who)
{
	int fd;

	if (pin_file_of(t, who) != NULL || getenv(pin_sources[who].env) != NULL)
		return 1;
	fd = tty_open();
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* The PIN of who from the first source that has one; an error (already reported) when none. */
int ut_pin_get(struct ut *t, enum ut_who who, struct ut_pin *pin)
{
	const struct pin_source *src = &pin_sources[who];
	const char *file = pin_file_of(t, who), *env;
	size_t n;
	int rc;

	memset(pin, 0, sizeof(*pin));
	if (file != NULL)
		return pin_from_file(t, file, pin);
	env = getenv(src->env);
	if (env != NULL) {
		n = strnlen(env, sizeof(pin->buf));
		if (n == sizeof(pin->buf))
			return ut_error(t, UT_EXIT_FAILED, "failed", "$%s is too long", src->env);
		memcpy(pin->buf, env, n);
		pin->len = n;
		return 0;
	}
	rc = pin_from_tty(t, who, pin);
	if (rc >= 0)
		return rc;
	return ut_error(t, UT_EXIT_USAGE, "usage", "no %s: use %s, $%s or run on a terminal",
	                src->name, src->option, src->env);
}

/* "yes" from --yes, else from the terminal; no terminal: a usage error (exit 2). */
int ut_confirm(struct ut *t, const char *question)
{
	uint8_t answer[16];
	char prompt[300];
	int fd;
	long n;

	if (t->o.yes)
		return 0;
	fd = tty_open();
	if (fd < 0)
		return ut_error(t, UT_EXIT_USAGE, "usage", "%s: confirm with --yes", question);
	snprintf(prompt, sizeof(prompt), "%s [y/N] ", question);
	n = tty_read_line(fd, prompt, 0, answer, sizeof(answer));
	close(fd);
	if (n >= 1 && (answer[0] == 'y' || answer[0] == 'Y'))
		return 0;
	return ut_error(t, UT_EXIT_FAILED, "failed", "not confirmed: nothing changed");
}

/* ---- policy --------------------------------------------------------------------------------- */

/* docs/pkcs11-profile.md C_SetPIN, SPEC S0-P1: 8-12 letters and digits, at least one of each;
 * checked before anything is sent to the key. */
static int pin_policy_ok(const struct ut_pin *pin)
{
	int letter = 0, digit = 0;

	if (pin->len < 8 || pin->len > 12)
		return 0;
	for (size_t i = 0; i < pin->len; i++) {
		uint8_t c = pin->buf[i];
		if (c >= '0' && c <= '9')
			digit = 1;
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			letter = 1;
		else
			return 0;
	}
	return letter && digit;
}

static int new_pin_get(struct ut *t, struct ut_pin *pin)
{
	int rc = ut_pin_get(t, UT_PIN_NEW, pin);

	if (rc != 0)
		return rc;
	if (!pin_policy_ok(pin)) {
		ut_pin_wipe(pin);
		return ut_error(t, UT_EXIT_POLICY, "pin-policy", "the new PIN must be 8-12 "
		                "letters and digits, with at least one of each");
	}
	return 0;
}

/* ---- commands ------------------------------------------------------------------------------ */

static void pin_json_status(struct ut *t, const struct ut_pin_status *st)
{
	if (st->tries_left >= 0)
		ut_json_int(t, "tries_left", st->tries_left);
	if (st->max_tries >= 0)
		ut_json_int(t, "max_tries", st->max_tries);
}

/* verify-pin [--so]: C_Login then C_Logout (PKCS#11 3.0 §5.6.8, §5.6.9). */
int cmd_verify_pin(struct ut *t)
{
	CK_USER_TYPE user = t->o.so ? CKU_SO : CKU_USER;
	struct ut_pin_status st;
	int rc;

	/* an SO login needs a R/W session (§5.6.8 CKR_SESSION_READ_ONLY_EXISTS) */
	if ((rc = ut_open(t, t->o.so)) != 0 || (rc = ut_login(t, user, 1)) != 0)
		return rc;
	t->p11->C_Logout(t->session);
	if ((rc = ut_pin_status(t, t->key.slot, user, &st)) != 0)
		return rc;
	if (st.tries_left >= 0 && st.max_tries >= 0)
		ut_printf(t, "%s correct (%ld of %ld tries left)\n", t->o.so ? "SO PIN" : "PIN",
		       st.tries_left, st.max_tries);
	else
		ut_printf(t, "%s correct\n", t->o.so ? "SO PIN" : "PIN");
	ut_json_open(t, NULL);
	ut_json_bool(t, "verified", 1);
	ut_json_str(t, "who", t->o.so ? "so" : "user");
	pin_json_status(t, &st);
	ut_json_close(t);
	return 0;
}

/* change-pin [--so]: old PIN, new PIN (twice on a terminal); C_Login then C_SetPIN
 * (§5.6.3: the SO's PIN when the SO is logged in, else the user's). */
int cmd_change_pin(struct ut *t)
{
	CK_USER_TYPE user = t->o.so ? CKU_SO : CKU_USER;
	struct ut_pin old, new;
	CK_RV rv;
	int rc;

	memset(&old, 0, sizeof(old));
	memset(&new, 0, sizeof(new));
	if ((rc = ut_choose_key(t)) != 0 ||
	    (rc = ut_pin_get(t, t->o.so ? UT_PIN_SO : UT_PIN_USER, &old)) != 0 ||
	    (rc = new_pin_get(t, &new)) != 0 || (rc = ut_open(t, 1)) != 0 ||
	    (rc = ut_login_pin(t, user, &old)) != 0)
		goto out;
	rv = t->p11->C_SetPIN(t->session, old.buf, (CK_ULONG)old.len, new.buf, (CK_ULONG)new.len);
	if (rv != CKR_OK) {
		rc = rv == CKR_PIN_INCORRECT ? ut_pin_error(t, user, rv) : ut_rv(t, "C_SetPIN", rv);
		goto out;
	}
	t->p11->C_Logout(t->session);
	ut_printf(t, "%s changed\n", t->o.so ? "SO PIN" : "PIN");
	ut_json_open(t, NULL);
	ut_json_bool(t, "changed", 1);
	ut_json_str(t, "who", t->o.so ? "so" : "user");
	ut_json_close(t);
out:
	ut_pin_wipe(&old);
	ut_pin_wipe(&new);
	return rc;
}

/* unlock: the SO sets a new user PIN (C_InitPIN, §5.6.2), which unblocks it; the key marks
 * it must-change. */
int cmd_unlock(struct ut *t)
{
	struct ut_pin so, new;
	CK_RV rv;
	int rc;

	memset(&so, 0, sizeof(so));
	memset(&new, 0, sizeof(new));
	if ((rc = ut_choose_key(t)) != 0 || (rc = ut_pin_get(t, UT_PIN_SO, &so)) != 0 ||
	    (rc = new_pin_get(t, &new)) != 0 || (rc = ut_open(t, 1)) != 0 ||
	    (rc = ut_login_pin(t, CKU_SO, &so)) != 0)
		goto out;
	rv = t->p11->C_InitPIN(t->session, new.buf, (CK_ULONG)new.len);
	t->p11->C_Logout(t->session);
	if (rv != CKR_OK) {
		rc = ut_rv(t, "C_InitPIN", rv);
		goto out;
	}
	ut_printf(t, "user PIN set; the key asks for a change at next use: ukey-tool change-pin\n");
	ut_json_open(t, NULL);
	ut_json_bool(t, "unlocked", 1);
	ut_json_close(t);
out:
	ut_pin_wipe(&so);
	ut_pin_wipe(&new);
	return rc;
}

/* init --label LABEL: C_InitToken (§5.6.4) with the SO PIN; no session may be open. */
int cmd_init(struct ut *t)
{
	CK_UTF8CHAR label[32];
	struct ut_pin so;
	char q[160];
	size_t n = strlen(t->o.label);
	CK_RV rv;
	int rc;

	memset(&so, 0, sizeof(so));
	if (n == 0 || n > sizeof(label))
		return ut_usage_error(t, "--label wants 1 to 32 bytes");
	memset(label, ' ', sizeof(label));
	memcpy(label, t->o.label, n);
	if ((rc = ut_choose_key(t)) != 0)
		return rc;
	snprintf(q, sizeof(q), "erase every container, key, certificate and data file on key %s",
	         t->key.serial);
	if ((rc = ut_confirm(t, q)) != 0 || (rc = ut_pin_get(t, UT_PIN_SO, &so)) != 0)
		goto out;
	ut_close(t);
	rv = t->p11->C_InitToken(t->key.slot, so.buf, (CK_ULONG)so.len, label);
	if (rv != CKR_OK) {
		rc = rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ? ut_pin_error(t, CKU_SO, rv)
		                                                      : ut_rv(t, "C_InitToken", rv);
		goto out;
	}
	ut_printf(t, "key %s re-initialised as \"%s\"; set the user PIN: ukey-tool unlock\n",
	       t->key.serial, t->o.label);
	ut_json_open(t, NULL);
	ut_json_bool(t, "initialized", 1);
	ut_json_str(t, "serial", t->key.serial);
	ut_json_str(t, "label", t->o.label);
	ut_json_close(t);
out:
	ut_pin_wipe(&so);
	return rc;
}
