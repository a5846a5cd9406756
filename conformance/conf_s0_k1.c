/* SPEC S0-K1: random numbers from the device pass randomness tests. 20,000 bits gathered
 * with GET CHALLENGE (ISO 7816-4 §11.5.3; 2,500 bytes = 10 challenges of 250 bytes) go
 * through the four FIPS 140-2 §4.9.1 power-up tests
 * (the 2001 text, bounds as printed there):
 *   monobit   number of ones X: 9,725 < X < 10,275
 *   poker     5,000 4-bit nibbles, X = 16/5000 * sum f(i)^2 - 5000: 2.16 < X < 46.17
 *   runs      runs of 0s and of 1s of length 1..5 and 6+, each within the table's interval
 *   long run  no run of 26 or more equal bits.
 * False failures: for a perfect source the per-sample failure probability is 1.03e-4
 * (monobit, exact binomial), 0.99e-4 (poker, exact chi-square with 15 degrees of freedom)
 * and 3.9e-3 for runs + long run (the FIPS 140-2 runs intervals are tight: 1,556 failures
 * in 400,000 OpenSSL RAND_bytes samples), so one sample fails with p <= 4.1e-3 (at most 1,648 of the
 * 400,000; docs/performance.md). The test draws up to three independent samples and fails
 * only when all three fail: false failure about 7e-8 per run. A broken source (constant,
 * alternating, biased) fails every sample. The statistics are checked first against
 * known-bad sequences (they must reject them) so they can fail.
 * Also: two challenges are never equal (8-byte challenges, and all the 250-byte ones). */
#include <string.h>

#include <openssl/rand.h>

#include "conf.h"
#include "conf_ops.h"

#define BITS 20000
#define BYTES (BITS / 8)
#define CHUNK 250
#define SAMPLES 3               /* fail only when this many samples all fail */

static int bit_at(const uint8_t *b, size_t i)
{
	return b[i / 8] >> (7 - i % 8) & 1;
}

static int monobit(const uint8_t *b, char *why, size_t wn)
{
	size_t i, ones = 0;

	for (i = 0; i < BITS; i++)
		ones += (size_t)bit_at(b, i);
	snprintf(why, wn, "monobit ones=%zu", ones);
	return ones > 9725 && ones < 10275;
}

static int poker(const uint8_t *b, char *why, size_t wn)
{
	unsigned f[16] = { 0 };
	double x = 0;
	size_t i;

	for (i = 0; i < BYTES; i++) {
		f[b[i] >> 4]++;
		f[b[i] & 15]++;
	}
	for (i = 0; i < 16; i++)
		x += (double)f[i] * f[i];
	x = 16.0 / 5000.0 * x - 5000.0;
	snprintf(why, wn, "poker X=%.2f", x);
	return x > 2.16 && x < 46.17;
}

/* FIPS 140-2 §4.9.1 runs table: lengths 1-5 and 6+ (index 5), same bounds for 0s and 1s */
static const unsigned runs_lo[6] = { 2343, 1135, 542, 251, 111, 111 };
static const unsigned runs_hi[6] = { 2657, 1365, 708, 373, 201, 201 };

static int runs(const uint8_t *b, char *why, size_t wn)
{
	unsigned cnt[2][6] = { { 0 } };
	size_t i, len = 1, longest = 0;
	int v, ok = 1;

	for (i = 1; i <= BITS; i++) {
		if (i < BITS && bit_at(b, i) == bit_at(b, i - 1)) {
			len++;
			continue;
		}
		cnt[bit_at(b, i - 1)][len > 6 ? 5 : len - 1]++;
		longest = len > longest ? len : longest;
		len = 1;
	}
	for (v = 0; v < 2; v++)
		for (i = 0; i < 6; i++)
			ok &= cnt[v][i] >= runs_lo[i] && cnt[v][i] <= runs_hi[i];
	snprintf(why, wn, "runs(1s) %u/%u/%u/%u/%u/%u longest=%zu", cnt[1][0], cnt[1][1],
	         cnt[1][2], cnt[1][3], cnt[1][4], cnt[1][5], longest);
	return ok && longest < 26;
}

/* All four; the reasons are written to why. */
static int fips_ok(const uint8_t *b, char *why, size_t wn)
{
	char m[64], p[64], r[128];
	int ok = monobit(b, m, sizeof(m));

	ok &= poker(b, p, sizeof(p));
	ok &= runs(b, r, sizeof(r));
	snprintf(why, wn, "%s, %s, %s", m, p, r);
	return ok;
}

/* The statistics reject what they must: 0x55.. (balanced, alternating), a counter. */
static void self_check(const conf_ctx *c)
{
	static uint8_t bad[BYTES];
	char why[320];
	size_t i;

	memset(bad, 0x55, sizeof(bad));
	UK_CHECK(monobit(bad, why, sizeof(why)));       /* exactly 10,000 ones passes monobit */
	UK_CHECK(!fips_ok(bad, why, sizeof(why)));
	UK_CHECK_EQ(RAND_bytes(bad, sizeof(bad)), 1);
	for (i = 0; i < BYTES; i += 8)
		bad[i] = 0;                     /* OpenSSL random with every 8th byte zero */
	UK_CHECK(!fips_ok(bad, why, sizeof(why)));
	memset(bad, 0, sizeof(bad));
	bad[0] = 1;
	UK_CHECK(!fips_ok(bad, why, sizeof(why)));
	conf_say(c, "self-check: the four tests reject 0x55 repeated, random with every 8th byte "
	         "zero, zeros");
}

static void sample(conf_ctx *c, uint8_t *b)
{
	size_t i, j;

	for (i = 0; i < BYTES; i += CHUNK) {
		UK_CHECK_EQ(conf_challenge(c, b + i, CHUNK), 0x9000);
		for (j = 0; j < i; j += CHUNK)
			UK_CHECK(memcmp(b + j, b + i, CHUNK) != 0);
	}
	conf_capture_reset(c);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-K1_random";
	static conf_ctx c;
	static uint8_t b[BYTES];
	uint8_t x[8], y[8];
	char why[320];
	int r, ok, tries;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	self_check(&c);
	conf_start(&c, 0);
	UK_CHECK_EQ(conf_challenge(&c, x, sizeof(x)), 0x9000);
	UK_CHECK_EQ(conf_challenge(&c, y, sizeof(y)), 0x9000);
	UK_CHECK(memcmp(x, y, sizeof(x)) != 0);
	conf_say(&c, "two 8-byte challenges differ");
	sample(&c, b);
	ok = fips_ok(b, why, sizeof(why));
	conf_say(&c, "20,000 bits from %d GET CHALLENGEs: %s: %s", BYTES / CHUNK, why,
	         ok ? "pass" : "FAIL (drawing another sample)");
	for (tries = 1; !ok && tries < SAMPLES; tries++) {
		sample(&c, b);
		ok = fips_ok(b, why, sizeof(why));
		conf_say(&c, "sample %d: %s: %s", tries + 1, why, ok ? "pass" : "FAIL");
	}
	UK_CHECK(ok);
	conf_say(&c, "FIPS 140-2 monobit, poker, runs, long run: pass (all 250-byte "
	         "challenges distinct)");
	conf_close(&c);
	return uk_test_done(name);
}
