/* ukey-pcsc-wait: wait, with a bound, until a pcscd answers and shows N cards present.
 *
 * Used by ukey-sandbox between starting its private pcscd + ukey-emu and running the
 * command, so the command never races the card insertion. PC/SC (PCSC workgroup part 5,
 * as implemented by pcsc-lite): SCardEstablishContext fails with SCARD_E_NO_SERVICE until
 * the daemon listens; SCardGetStatusChange reports SCARD_STATE_PRESENT per reader (one
 * reader per slot of the ukey driver).
 *
 * usage: ukey-pcsc-wait [--cards N] [--absent] [--timeout SECONDS] [--quiet]
 * exit: 0 reached, 1 timed out (what was seen goes to stderr), 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <PCSC/winscard.h>

#define WAIT_MAX_READERS 32
#define WAIT_STEP_MS 100

struct wait_opts {
	long cards;     /* cards wanted present (or, with absent, at most this many) */
	int absent;     /* wait until at most `cards` cards are present */
	long timeout_ms;
	int quiet;
};

struct wait_seen {
	int service;    /* pcscd answered */
	long readers;
	long present;
};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Count readers and present cards once; returns 0 when pcscd answered. */
static int wait_count(SCARDCONTEXT ctx, struct wait_seen *seen)
{
	char names[4096];
	DWORD len = sizeof(names);
	SCARD_READERSTATE rs[WAIT_MAX_READERS];
	DWORD n = 0;
	LONG rv;

	seen->readers = 0;
	seen->present = 0;
	rv = SCardListReaders(ctx, NULL, names, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		return 0;
	if (rv != SCARD_S_SUCCESS)
		return -1;
	for (const char *p = names; *p != '\0' && n < WAIT_MAX_READERS; p += strlen(p) + 1) {
		memset(&rs[n], 0, sizeof(rs[n]));
		rs[n].szReader = p;
		rs[n].dwCurrentState = SCARD_STATE_UNAWARE;
		n++;
	}
	rv = SCardGetStatusChange(ctx, 0, rs, n);
	if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
		return -1;
	seen->readers = (long)n;
	for (DWORD i = 0; i < n; i++)
		if (rs[i].dwEventState & SCARD_STATE_PRESENT)
			seen->present++;
	return 0;
}

static int wait_reached(const struct wait_opts *o, const struct wait_seen *s)
{
	if (!s->service)
		return 0;
	return o->absent ? s->present <= o->cards : s->present >= o->cards;
}

/* One poll: connect to pcscd if not yet, then count. */
static void wait_poll(SCARDCONTEXT *ctx, int *have_ctx, struct wait_seen *seen)
{
	if (!*have_ctx) {
		if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, ctx) != SCARD_S_SUCCESS)
			return;
		*have_ctx = 1;
	}
	if (wait_count(*ctx, seen) == 0) {
		seen->service = 1;
		return;
	}
	/* pcscd restarted or went away: reconnect on the next poll. */
	SCardReleaseContext(*ctx);
	*have_ctx = 0;
}

static int wait_run(const struct wait_opts *o)
{
	SCARDCONTEXT ctx = 0;
	int have_ctx = 0;
	struct wait_seen seen = { 0, 0, 0 };
	long deadline = now_ms() + o->timeout_ms;
	int ok = 0;

	for (;;) {
		wait_poll(&ctx, &have_ctx, &seen);
		ok = wait_reached(o, &seen);
		if (ok || now_ms() >= deadline)
			break;
		sleep_ms(WAIT_STEP_MS);
	}
	if (have_ctx)
		SCardReleaseContext(ctx);
	if (!ok)
		fprintf(stderr, "ukey-pcsc-wait: timed out after %ld ms: %s, %ld reader(s), "
		        "%ld card(s) present, wanted %s %ld\n", o->timeout_ms,
		        seen.service ? "pcscd answers" : "pcscd does not answer",
		        seen.readers, seen.present, o->absent ? "at most" : "at least", o->cards);
	else if (!o->quiet)
		printf("%ld reader(s), %ld card(s) present\n", seen.readers, seen.present);
	return ok ? 0 : 1;
}

static int parse_long(const char *s, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: ukey-pcsc-wait [--cards N] [--absent] [--timeout SECONDS] "
	        "[--quiet]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct wait_opts o = { 1, 0, 10000, 0 };
	long secs = 10;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--absent") == 0) {
			o.absent = 1;
		} else if (strcmp(a, "--quiet") == 0) {
			o.quiet = 1;
		} else if (strcmp(a, "--cards") == 0 && v && parse_long(v, 1000, &o.cards) == 0) {
			i++;
		} else if (strcmp(a, "--timeout") == 0 && v && parse_long(v, 3600, &secs) == 0) {
			i++;
		} else {
			return usage();
		}
	}
	o.timeout_ms = secs * 1000;
	return wait_run(&o);
}
