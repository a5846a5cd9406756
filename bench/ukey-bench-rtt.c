/* ukey-bench-rtt: the per-APDU round trip through PC/SC, side by side with the bare floor
 * (DESIGN.md "Performance targets": pcscd + ifd + ukey-emu <= 1.2 x the floor, a minimal
 * C card behind the same pcscd). A benchmark, not a test: it asserts no timing; it fails only
 * when a reader is missing or an exchange fails.
 *
 *   ukey-bench-rtt [-n N] [-w W] [-t SECONDS] [--wait SECONDS] [--apdu HEX] [--setup HEX]
 *                  [--target LABEL] [--skip LABEL=REASON]... ROW...
 *   ROW = LABEL=READER   READER: the start of a pcscd reader name ("ukey-floor" matches
 *                        "ukey-floor 00 00"); the first ROW is the floor
 *
 * For each row: connect (shared, as the PKCS#11 module does), send the setup APDU once
 * (default SELECT of the ukey application, which GET CHALLENGE needs), W warm-up exchanges
 * (default 200), then N timed exchanges (default 2000) of the APDU (default GET CHALLENGE 8,
 * 00 84 00 00 08). Rows are measured in interleaved blocks of BLOCK exchanges, so slow drift
 * of the machine (frequency, other load) falls on every row alike. A row stops early when it
 * has used its time budget (-t, default 10 s: the vpcd row takes tens of ms per APDU), and
 * its warm-up after W exchanges or 1 s.
 * Every answer must end in 90 00. Prints one markdown table: samples, median, p90, mean
 * (microseconds), APDUs/s (1 / mean), and median and mean over the floor's; with --target,
 * a line saying whether that row's median ratio meets the design's 1.2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <PCSC/winscard.h>

#include "uk_buf.h"

#define MAX_ROWS 8
#define MAX_APDU 261
#define BLOCK 50
#define TARGET_RATIO 1.2        /* DESIGN.md "Performance targets" */
#define READERS_BUF 8192
#define WARM_BUDGET_S 1.0       /* warm-up of a slow row (vpcd) ends after this, whatever W */

typedef struct rtt_row {
	const char *label;
	const char *reader;     /* prefix given; NULL for a skipped row */
	const char *skip;       /* why the row was not measured */
	char name[256];         /* full reader name */
	SCARDHANDLE card;
	const SCARD_IO_REQUEST *pci;
	double *us;             /* timed samples, microseconds */
	unsigned count, warm;
	double spent, warm_spent;       /* seconds of timed / warm-up exchanges */
	double median, p90, mean;
} rtt_row;

typedef struct rtt_opts {
	unsigned n, warm;
	double budget_s, wait_s;
	uint8_t apdu[MAX_APDU], setup[MAX_APDU];
	size_t apdu_len, setup_len;
	const char *target;
	rtt_row rows[MAX_ROWS];
	unsigned nrows;
} rtt_opts;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- arguments ---- */

static int parse_hex(const char *s, uint8_t *out, size_t *len)
{
	long n = uk_hex_decode(s, out, MAX_APDU);

	if (n < 4)
		return -1;      /* ISO 7816-4 §5.1: at least CLA INS P1 P2 */
	*len = (size_t)n;
	return 0;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int add_row(rtt_opts *o, const char *spec, int skipped)
{
	const char *eq = strchr(spec, '=');
	rtt_row *r;

	if (eq == NULL || eq == spec || eq[1] == '\0' || o->nrows == MAX_ROWS)
		return -1;
	r = &o->rows[o->nrows++];
	r->label = strndup(spec, (size_t)(eq - spec));
	if (r->label == NULL)
		return -1;
	if (skipped)
		r->skip = eq + 1;
	else
		r->reader = eq + 1;
	return 0;
}

/* One option with a value; 1 when argv[i] is not such an option, -1 on a bad value. */
static int parse_valued(rtt_opts *o, const char *opt, const char *v)
{
	unsigned secs;

	if (strcmp(opt, "-n") == 0)
		return parse_uint(v, 1, 10000000, &o->n);
	if (strcmp(opt, "-w") == 0)
		return parse_uint(v, 0, 1000000, &o->warm);
	if (strcmp(opt, "-t") == 0) {
		if (parse_uint(v, 1, 3600, &secs) != 0)
			return -1;
		o->budget_s = secs;
		return 0;
	}
	if (strcmp(opt, "--wait") == 0) {
		if (parse_uint(v, 1, 3600, &secs) != 0)
			return -1;
		o->wait_s = secs;
		return 0;
	}
	if (strcmp(opt, "--apdu") == 0)
		return parse_hex(v, o->apdu, &o->apdu_len);
	if (strcmp(opt, "--setup") == 0)
		return parse_hex(v, o->setup, &o->setup_len);
	if (strcmp(opt, "--skip") == 0)
		return add_row(o, v, 1);
	if (strcmp(opt, "--target") != 0)
		return 1;
	o->target = v;
	return 0;
}

static int parse(int argc, char **argv, rtt_opts *o)
{
	int i, r;

	o->n = 2000;
	o->warm = 200;
	o->budget_s = 10;
	o->wait_s = 10;
	parse_hex("0084000008", o->apdu, &o->apdu_len);
	parse_hex("00A4040006F0756B657901", o->setup, &o->setup_len);
	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-') {
			if (add_row(o, argv[i], 0) != 0)
				return -1;
			continue;
		}
		if (i + 1 >= argc)
			return -1;
		r = parse_valued(o, argv[i], argv[i + 1]);
		if (r != 0)
			return -1;
		i++;
	}
	return o->nrows > 0 && o->rows[0].reader != NULL ? 0 : -1;
}

/* ---- PC/SC ---- */

/* The first reader whose name starts with prefix and holds a card; 1 when none yet. */
static int find_reader(SCARDCONTEXT ctx, const char *prefix, char *name, size_t cap)
{
	static char buf[READERS_BUF];
	SCARD_READERSTATE st;
	DWORD len = sizeof(buf);
	const char *p;

	if (SCardListReaders(ctx, NULL, buf, &len) != SCARD_S_SUCCESS)
		return 1;
	for (p = buf; *p != '\0'; p += strlen(p) + 1) {
		if (strncmp(p, prefix, strlen(prefix)) != 0 || strlen(p) >= cap)
			continue;
		memset(&st, 0, sizeof(st));
		st.szReader = p;
		st.dwCurrentState = SCARD_STATE_UNAWARE;
		if (SCardGetStatusChange(ctx, 0, &st, 1) == SCARD_S_SUCCESS &&
		    (st.dwEventState & SCARD_STATE_PRESENT)) {
			memcpy(name, p, strlen(p) + 1);
			return 0;
		}
	}
	return 1;
}

/* Wait (bounded) until the row's reader shows a card, then connect. */
static int row_connect(SCARDCONTEXT ctx, rtt_row *r, double wait_s)
{
	double deadline = now() + wait_s;
	struct timespec step = { 0, 50 * 1000 * 1000 };
	DWORD proto = 0;
	LONG rv;

	while (find_reader(ctx, r->reader, r->name, sizeof(r->name)) != 0) {
		if (now() > deadline) {
			fprintf(stderr, "ukey-bench-rtt: %s: no reader '%s*' with a card after %.0f s\n",
			        r->label, r->reader, wait_s);
			return -1;
		}
		nanosleep(&step, NULL);
	}
	rv = SCardConnect(ctx, r->name, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
	                  &r->card, &proto);
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "ukey-bench-rtt: %s: SCardConnect(%s): %s\n", r->label, r->name,
		        pcsc_stringify_error(rv));
		return -1;
	}
	r->pci = proto == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
	return 0;
}

/* One exchange; the answer must end in 90 00 (ISO 7816-4 §5.1.3). */
static int exchange(rtt_row *r, const uint8_t *apdu, size_t len)
{
	uint8_t resp[258 + 2];
	DWORD rlen = sizeof(resp);
	LONG rv = SCardTransmit(r->card, r->pci, apdu, (DWORD)len, NULL, resp, &rlen);

	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "ukey-bench-rtt: %s: SCardTransmit: %s\n", r->label,
		        pcsc_stringify_error(rv));
		return -1;
	}
	if (rlen < 2 || resp[rlen - 2] != 0x90 || resp[rlen - 1] != 0x00) {
		fprintf(stderr, "ukey-bench-rtt: %s: answer without 90 00 (%lu bytes, SW %02X%02X)\n",
		        r->label, (unsigned long)rlen, rlen >= 2 ? resp[rlen - 2] : 0,
		        rlen >= 2 ? resp[rlen - 1] : 0);
		return -1;
	}
	return 0;
}

static int row_warm(const rtt_opts *o, const rtt_row *r)
{
	return r->warm >= o->warm || r->warm_spent >= WARM_BUDGET_S;
}

static int row_done(const rtt_opts *o, const rtt_row *r)
{
	return r->reader == NULL ||
	       (row_warm(o, r) && (r->count >= o->n || r->spent >= o->budget_s));
}

/* Up to BLOCK exchanges of one row: warm-up first, then timed ones. */
static int row_block(const rtt_opts *o, rtt_row *r)
{
	unsigned i;
	double t0, dt;

	for (i = 0; i < BLOCK && !row_done(o, r); i++) {
		t0 = now();
		if (exchange(r, o->apdu, o->apdu_len) != 0)
			return -1;
		dt = now() - t0;
		if (!row_warm(o, r)) {
			r->warm++;
			r->warm_spent += dt;
			continue;
		}
		r->us[r->count++] = dt * 1e6;
		r->spent += dt;
	}
	return 0;
}

static int all_done(const rtt_opts *o)
{
	unsigned i;

	for (i = 0; i < o->nrows; i++)
		if (!row_done(o, &o->rows[i]))
			return 0;
	return 1;
}

static int measure(SCARDCONTEXT ctx, rtt_opts *o)
{
	unsigned i;
	rtt_row *r;

	for (i = 0; i < o->nrows; i++) {
		r = &o->rows[i];
		if (r->reader == NULL)
			continue;
		r->us = calloc(o->n, sizeof(*r->us));
		if (r->us == NULL || row_connect(ctx, r, o->wait_s) != 0 ||
		    exchange(r, o->setup, o->setup_len) != 0)
			return -1;
	}
	while (!all_done(o))
		for (i = 0; i < o->nrows; i++)
			if (row_block(o, &o->rows[i]) != 0)
				return -1;
	return 0;
}

/* ---- statistics and the table ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double percentile(const double *v, unsigned n, unsigned pct)
{
	unsigned rank = (n * pct + 99) / 100;

	return v[rank > 0 ? rank - 1 : 0];
}

static void row_stats(rtt_row *r)
{
	double sum = 0;
	unsigned i;

	if (r->count == 0)
		return;
	qsort(r->us, r->count, sizeof(*r->us), cmp_double);
	for (i = 0; i < r->count; i++)
		sum += r->us[i];
	r->mean = sum / r->count;
	r->p90 = percentile(r->us, r->count, 90);
	r->median = r->count % 2 ? r->us[r->count / 2]
	                         : (r->us[r->count / 2 - 1] + r->us[r->count / 2]) / 2;
}

static void print_apdu(const char *what, const uint8_t *p, size_t n)
{
	size_t i;

	printf("%s", what);
	for (i = 0; i < n; i++)
		printf(" %02X", p[i]);
}

static void print_table(const rtt_opts *o)
{
	const rtt_row *f = &o->rows[0], *r;
	unsigned i;

	printf("### Per-APDU round trip through PC/SC (N=%u after %u warm-up, budget %.0f s a row;",
	       o->n, o->warm, o->budget_s);
	print_apdu(" APDU", o->apdu, o->apdu_len);
	printf(")\n| path | reader | samples | median us | p90 us | mean us | APDUs/s |"
	       " median / floor | mean / floor |\n|---|---|---|---|---|---|---|---|---|\n");
	for (i = 0; i < o->nrows; i++) {
		r = &o->rows[i];
		if (r->reader == NULL) {
			printf("| %s | skipped: %s | | | | | | | |\n", r->label, r->skip);
			continue;
		}
		printf("| %s | %s | %u | %.1f | %.1f | %.1f | %.0f | %.2f | %.2f |\n", r->label,
		       r->name, r->count, r->median, r->p90, r->mean, 1e6 / r->mean,
		       r->median / f->median, r->mean / f->mean);
	}
}

static int print_target(const rtt_opts *o)
{
	const rtt_row *f = &o->rows[0];
	unsigned i;

	if (o->target == NULL)
		return 0;
	for (i = 0; i < o->nrows; i++) {
		if (strcmp(o->rows[i].label, o->target) != 0 || o->rows[i].reader == NULL)
			continue;
		printf("round trip %s / %s (median): %.2f x, target <= %.1f x: %s\n", o->target,
		       f->label, o->rows[i].median / f->median, TARGET_RATIO,
		       o->rows[i].median / f->median <= TARGET_RATIO ? "meets" : "misses");
		return 0;
	}
	fprintf(stderr, "ukey-bench-rtt: --target %s: no measured row of that label\n", o->target);
	return -1;
}

int main(int argc, char **argv)
{
	static rtt_opts o;
	SCARDCONTEXT ctx = 0;
	LONG rv;
	unsigned i;
	int rc = 1;

	if (parse(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: %s [-n N] [-w W] [-t SECONDS] [--wait SECONDS] [--apdu HEX]"
		        " [--setup HEX] [--target LABEL] [--skip LABEL=REASON]... LABEL=READER...\n"
		        "(the first LABEL=READER is the floor)\n", argv[0]);
		return 2;
	}
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "ukey-bench-rtt: SCardEstablishContext: %s\n",
		        pcsc_stringify_error(rv));
		return 1;
	}
	if (measure(ctx, &o) != 0)
		goto out;
	for (i = 0; i < o.nrows; i++)
		row_stats(&o.rows[i]);
	print_table(&o);
	rc = print_target(&o) == 0 ? 0 : 1;
out:
	for (i = 0; i < o.nrows; i++) {
		if (o.rows[i].card != 0)
			SCardDisconnect(o.rows[i].card, SCARD_LEAVE_CARD);
		free(o.rows[i].us);
		free((void *)o.rows[i].label);
	}
	SCardReleaseContext(ctx);
	return rc;
}
