/* ukey-emu: serves emulated ukey cards over the vpcd-framed link (docs/design.md "Link
 * between ifd/ and ukey-emu") or as USB CCID devices on a usbsock bus (docs/ccid.md), one
 * connection per key, and takes operator commands on a
 * control socket (docs/ukey-emu.md): keys created, pulled out and plugged back at run time,
 * faults injected. `ukey-emu ctl ...` is the control client.
 *
 * The keys' threads live in emu_key.c, the control protocol in emu_ctl.c; this file parses
 * the command line and runs the main thread (control socket, signals). */
#define _GNU_SOURCE /* ppoll */
#include "emu.h"

#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uk_wipe.h"

#define MAIN_TICK_MS 100

typedef struct emu_opts {
	const char *link;
	const char *state;
	const char *control;
	const char *user_pin_file, *so_pin_file;
	unsigned keys;
	int retry;
	int ccid_short;
	unsigned long ccid_maxlen;
	emu_new_key nk;
	uint8_t user_pin[EMU_PIN_MAX], so_pin[EMU_PIN_MAX];
} emu_opts;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: ukey-emu --link unix:PATH|tcp:HOST:PORT|usb:PATH --state DIR [--keys N]\n"
	        "                [--serial S] [--ccid-level short|extended] [--ccid-maxlen N]\n"
	        "                [--label L] [--zone green|yellow] [--user-pin-file F]\n"
	        "                [--so-pin-file F] [--button] [--auto-confirm]\n"
	        "                [--confirm-timeout MS] [--pinpad] [--auto-pinpad-file F]\n"
	        "                [--control PATH] [--retry | --once]\n"
	        "                [--max-tries N (each PIN, 3-15, default 10; new keys only)]\n"
	        "       ukey-emu ctl [--control PATH] COMMAND...   (see docs/ukey-emu.md)\n"
	        "Serves N emulated ukey cards (state in DIR/key-<i>/), one link connection each.\n"
	        "PINs: --user-pin-file/--so-pin-file or $UKEY_EMU_USER_PIN/$UKEY_EMU_SO_PIN;\n"
	        "--user-pin/--so-pin P also work but show the PIN to every user (ps).\n"
	        "--button: sign only after `ctl confirm N` (--auto-confirm: at once); --pinpad: the\n"
	        "user PIN is typed on the key (`ctl pinpad N`), --auto-pinpad-file F: always the PIN\n"
	        "on F's first line (implies --pinpad); --confirm-timeout bounds both waits.\n"
	        "usb:PATH: each key is a USB CCID device on the usbsock bus PATH; --ccid-level\n"
	        "(default extended) and --ccid-maxlen (23-65546; default 271 short, 1034\n"
	        "extended) set its exchange level and dwMaxCCIDMessageLength.\n");
}

static void set_pin(const uint8_t **p, size_t *len, uint8_t *buf, const char *v)
{
	size_t n = strlen(v);

	if (n >= EMU_PIN_MAX)
		n = EMU_PIN_MAX - 1;    /* too long for any key: provisioning refuses it */
	memcpy(buf, v, n);
	*p = buf;
	*len = n;
}

static int parse_opt(emu_opts *o, int c)
{
	unsigned long v;

	switch (c) {
	case 'l': o->link = optarg; return 0;
	case 's': o->state = optarg; return 0;
	case 'c': o->control = optarg; return 0;
	case 'n': o->keys = (unsigned)strtoul(optarg, NULL, 10); return 0;
	case 'S': o->nk.prov.serial = optarg; return 0;
	case 'L': o->nk.prov.label = optarg; return 0;
	case 'z':
		o->nk.prov.zone = strcmp(optarg, "green") == 0 ? 2 : strcmp(optarg, "yellow") == 0 ? 1 : 0xFF;
		return 0;
	case 'u': set_pin(&o->nk.prov.user_pin, &o->nk.prov.user_pin_len, o->user_pin, optarg); return 0;
	case 'o': set_pin(&o->nk.prov.so_pin, &o->nk.prov.so_pin_len, o->so_pin, optarg); return 0;
	case 'U': o->user_pin_file = optarg; return 0;
	case 'O': o->so_pin_file = optarg; return 0;
	case 'b': o->nk.button = 1; return 0;
	case 'a': o->nk.auto_confirm = 1; return 0;
	case 'p': o->nk.pinpad = 1; return 0;
	case 'P': o->nk.auto_pinpad_file = optarg; return 0;
	case 'w':
		v = strtoul(optarg, NULL, 10);
		o->nk.confirm_ms = v > 0 && v <= EMU_CONFIRM_MS_MAX ? (unsigned)v : 0;
		return v > 0 && v <= EMU_CONFIRM_MS_MAX ? 0 : -1;
	case 'm': o->nk.prov.max_tries = (unsigned)strtoul(optarg, NULL, 10); return 0;
	case 'x':
		o->ccid_short = strcmp(optarg, "short") == 0;
		return o->ccid_short || strcmp(optarg, "extended") == 0 ? 0 : -1;
	case 'X':
		o->ccid_maxlen = strtoul(optarg, NULL, 10);
		return o->ccid_maxlen >= EMU_CCID_MSG_MIN && o->ccid_maxlen <= EMU_CCID_MSG_MAX ? 0 : -1;
	case 'r': o->retry = 1; return 0;
	case '1': o->retry = 0; return 0;
	case 'h': usage(stdout); exit(0);
	default: return -1;
	}
}

/* PINs from files or the environment (the preferred sources) override --user-pin/--so-pin. */
static int pins_from_sources(emu_opts *o)
{
	long n;

	n = emu_pin_source(o->user_pin_file, "UKEY_EMU_USER_PIN", o->user_pin);
	if (n > 0) {
		o->nk.prov.user_pin = o->user_pin;
		o->nk.prov.user_pin_len = (size_t)n;
	}
	if (n < 0)
		return -1;
	n = emu_pin_source(o->so_pin_file, "UKEY_EMU_SO_PIN", o->so_pin);
	if (n > 0) {
		o->nk.prov.so_pin = o->so_pin;
		o->nk.prov.so_pin_len = (size_t)n;
	}
	return n < 0 ? -1 : 0;
}

static int parse_opts(int argc, char **argv, emu_opts *o)
{
	static const struct option longopts[] = {
		{ "link", required_argument, NULL, 'l' }, { "state", required_argument, NULL, 's' },
		{ "keys", required_argument, NULL, 'n' }, { "serial", required_argument, NULL, 'S' },
		{ "label", required_argument, NULL, 'L' }, { "zone", required_argument, NULL, 'z' },
		{ "user-pin", required_argument, NULL, 'u' }, { "so-pin", required_argument, NULL, 'o' },
		{ "user-pin-file", required_argument, NULL, 'U' },
		{ "so-pin-file", required_argument, NULL, 'O' },
		{ "control", required_argument, NULL, 'c' }, { "button", no_argument, NULL, 'b' },
		{ "auto-confirm", no_argument, NULL, 'a' },
		{ "pinpad", no_argument, NULL, 'p' },
		{ "auto-pinpad-file", required_argument, NULL, 'P' },
		{ "confirm-timeout", required_argument, NULL, 'w' },
		{ "max-tries", required_argument, NULL, 'm' },
		{ "ccid-level", required_argument, NULL, 'x' },
		{ "ccid-maxlen", required_argument, NULL, 'X' },
		{ "retry", no_argument, NULL, 'r' }, { "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c;

	o->keys = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		if (parse_opt(o, c) != 0)
			return -1;
	if (optind != argc || o->link == NULL || o->state == NULL || o->keys > EMU_MAX_KEYS ||
	    (o->keys < 1 && o->control == NULL) || o->nk.prov.zone == 0xFF ||
	    (o->nk.prov.serial && o->keys != 1) ||
	    (o->nk.prov.max_tries != 0 && (o->nk.prov.max_tries < 3 || o->nk.prov.max_tries > 15)))
		return -1;
	return pins_from_sources(o);
}

/* ---- the main thread ---- */

static int all_out(emu *e, int *failed)
{
	unsigned i;
	int out = 1;

	*failed = 0;
	pthread_mutex_lock(&e->lock);
	for (i = 0; i < e->nkeys; i++) {
		out &= !e->keys[i]->want_in && !e->keys[i]->connected;
		*failed |= e->keys[i]->failed;
	}
	pthread_mutex_unlock(&e->lock);
	return out;
}

/* Without a control socket ukey-emu ends when every key is out for good (nobody could plug
 * one back); with one it runs until signalled. */
static int serve(emu *e, emu_ctl *ctl, const sigset_t *mask)
{
	struct pollfd pfd[1 + EMU_CTL_CONNS];
	struct timespec ts = { 0, MAIN_TICK_MS * 1000000L };
	size_t n;
	int failed = 0;

	while (!stop_requested) {
		if (ctl == NULL && all_out(e, &failed))
			break;
		n = ctl != NULL ? emu_ctl_pollfds(ctl, pfd) : 0;
		if (ppoll(pfd, n, &ts, mask) > 0 && ctl != NULL)
			emu_ctl_serve(ctl, e, pfd, n);
	}
	return failed ? 1 : 0;
}

static int start_keys(emu *e, emu_opts *o)
{
	const char *why;
	unsigned i;
	int ret = 0;

	for (i = 0; i < o->keys && ret == 0; i++)
		if (emu_key_create(e, &o->nk, &why) == NULL)
			ret = -1;
	uk_wipe(o->user_pin, sizeof(o->user_pin));
	uk_wipe(o->so_pin, sizeof(o->so_pin));
	return ret;
}

/* SIGTERM and SIGINT are blocked in every thread and delivered only inside the main
 * thread's ppoll, so a stop request is never missed. */
static void setup_signals(sigset_t *orig)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, orig);
}

int main(int argc, char **argv)
{
	static emu_opts o;
	static emu e = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
	emu_ctl ctl;
	sigset_t orig;
	int ret = 2, have_ctl = 0;

	if (argc > 1 && strcmp(argv[1], "ctl") == 0)
		return emu_ctl_client(argc - 1, argv + 1);
	if (parse_opts(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	e.link = o.link;
	e.ops = emu_link_find(o.link, &e.link_spec);
	if (e.ops == NULL) {
		usage(stderr);
		return 2;
	}
	e.ccid_extended = !o.ccid_short;
	e.ccid_maxlen = o.ccid_maxlen ? (unsigned)o.ccid_maxlen
	                : o.ccid_short ? EMU_CCID_MAXLEN_SHORT : EMU_CCID_MAXLEN_EXTENDED;
	e.state = o.state;
	e.retry = o.retry;
	setup_signals(&orig);
	if (o.control != NULL) {
		if (emu_ctl_open(&ctl, o.control) != 0) {
			fprintf(stderr, "ukey-emu: cannot listen on the control socket %s\n", o.control);
			goto out;
		}
		have_ctl = 1;
	}
	if (start_keys(&e, &o) != 0)
		goto out;
	ret = serve(&e, have_ctl ? &ctl : NULL, &orig);
out:
	emu_keys_stop(&e);
	if (have_ctl)
		emu_ctl_close(&ctl);
	return ret;
}
