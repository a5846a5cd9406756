/* ukey-bench-s0: the SPEC S0 performance table (seeds/000, the floors a real device meets
 * through its vendor's interface) measured against ukey. A benchmark, not a test: it
 * asserts no timing; it fails only when an operation itself fails.
 *
 *   ukey-bench-s0 [-n N]            in-process, against libukey-token (a fresh card in a
 *                                   temporary state directory under $TMPDIR)
 *   ukey-bench-s0 [-n N] --pcsc     through the real stack (libpcsclite, pcscd, the ukey
 *                                   driver, ukey-emu); run it under
 *                                   `ukey-sandbox -- ukey-bench-s0 --pcsc`
 *
 * N (default 100) scales every loop. The card side speaks the APDU profile (docs/apdu.md)
 * through the conformance harness (conformance/conf.h), so both modes send the same APDUs.
 * Where the card has no instruction for an operation (SM2 verification and encryption are
 * public-key operations done by the host, as the PKCS#11 module does) the row is measured
 * on the host with OpenSSL and says so. SM3 has both rows: the card's PSO HASH (a 64 KiB
 * message streamed in 4 KiB chained parts) and OpenSSL on the host, for comparison. The
 * SM4 row is still the host's (the card's SM4 with session keys is not benchmarked yet).
 * KB = 1024 bytes, as in docs/ukey-emu.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "conf.h"
#include "conf_ops.h"

#define FILE_FID 0xD000
#define FILE_SIZE 32768u
#define FILE_CHUNK 4096u
#define PT_LEN 1024u            /* SM2 encryption / decryption message size */
#define HASH_BUF 65536u
#define HASH_PART 4096u         /* PSO HASH: 64 KiB streamed in chained 4 KiB commands */

typedef struct row {
	const char *op, *where, *unit;
	double measured, floor;
	int lower_better;       /* a time: lower is better */
} row;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned at_least1(unsigned v)
{
	return v ? v : 1;
}

/* ---- card rows ---- */

static void bench_files(conf_ctx *c, unsigned n, row *wr, row *rd)
{
	static uint8_t buf[FILE_SIZE];
	unsigned i, reps_w = at_least1(n / 10), reps_r = at_least1(n / 2);
	size_t off;
	double t;

	UK_CHECK_EQ(RAND_bytes(buf, sizeof(buf)), 1);
	UK_CHECK_EQ(conf_file_create(c, FILE_FID, FILE_SIZE, "bench"), 0x9000);
	UK_CHECK_EQ(conf_file_select(c, FILE_FID), 0x9000);
	t = now();
	for (i = 0; i < reps_w; i++)
		for (off = 0; off < FILE_SIZE; off += FILE_CHUNK) {
			UK_CHECK_EQ(conf_file_update(c, off, buf + off, FILE_CHUNK), 0x9000);
			conf_capture_reset(c);
		}
	wr->measured = reps_w * (FILE_SIZE / 1024.0) / (now() - t);
	t = now();
	for (i = 0; i < reps_r; i++)
		for (off = 0; off < FILE_SIZE; off += FILE_CHUNK) {
			UK_CHECK_EQ(conf_file_read(c, off, FILE_CHUNK), 0x9000);
			UK_CHECK_MEM(c->h.resp, buf + off, FILE_CHUNK);
			conf_capture_reset(c);
		}
	rd->measured = reps_r * (FILE_SIZE / 1024.0) / (now() - t);
}

static void bench_keygen(conf_ctx *c, unsigned n, row *r, uint8_t pub[65])
{
	unsigned i, reps = at_least1(n / 5);
	double t = now();

	for (i = 0; i < reps; i++) {
		conf_generate(c, 0x01, pub);    /* the encryption pair of container 0 */
		conf_capture_reset(c);
	}
	r->measured = (now() - t) * 1000.0 / reps;
}

static void bench_sign(conf_ctx *c, unsigned n, const uint8_t pub[65], row *sg, row *vf,
                       row *both)
{
	static const char msg[] = "ukey-bench-s0: message to sign";
	uint8_t e[32], sig[64];
	unsigned i;
	double t;

	conf_sm2_e(pub, msg, sizeof(msg) - 1, e);
	t = now();
	for (i = 0; i < n; i++) {
		UK_CHECK_EQ(ukt_host_sign(&c->h, 0x00, e, sig), 0x9000);
		conf_capture_reset(c);
	}
	sg->measured = n / (now() - t);
	t = now();
	for (i = 0; i < n; i++)
		UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig));
	vf->measured = n / (now() - t);
	t = now();
	for (i = 0; i < n; i++) {
		conf_sm2_e(pub, msg, sizeof(msg) - 1, e);
		UK_CHECK_EQ(ukt_host_sign(&c->h, 0x00, e, sig), 0x9000);
		UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig));
		conf_capture_reset(c);
	}
	both->measured = n / (now() - t);
}

static void bench_sm2_cipher(conf_ctx *c, unsigned n, const uint8_t pub[65], row *enc,
                             row *dec)
{
	static uint8_t pt[PT_LEN], ct[PT_LEN + 97];
	size_t ctlen = 0;
	unsigned i;
	double t;

	UK_CHECK_EQ(RAND_bytes(pt, sizeof(pt)), 1);
	t = now();
	for (i = 0; i < n; i++)
		ctlen = conf_sm2_encrypt_raw(pub, pt, sizeof(pt), ct);
	enc->measured = n * (PT_LEN / 1024.0) / (now() - t);
	t = now();
	for (i = 0; i < n; i++) {
		UK_CHECK_EQ(conf_decipher(c, 0x01, 0x11, ct, ctlen), 0x9000);
		UK_CHECK_EQ(c->h.rlen, PT_LEN);
		conf_capture_reset(c);
	}
	UK_CHECK_MEM(c->h.resp, pt, PT_LEN);
	dec->measured = n * (PT_LEN / 1024.0) / (now() - t);
}

/* PSO HASH (ISO 7816-8 §5.2): N × 64 KiB, each a streamed chain of 4 KiB parts; the last
 * digest is compared with OpenSSL's. */
static void bench_sm3_card(conf_ctx *c, unsigned n, row *r)
{
	static uint8_t buf[HASH_BUF];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned i, mdlen;
	double t;

	UK_CHECK_EQ(RAND_bytes(buf, sizeof(buf)), 1);
	t = now();
	for (i = 0; i < n; i++) {
		UK_CHECK_EQ(ukt_host_hash(&c->h, buf, sizeof(buf), HASH_PART), 0x9000);
		conf_capture_reset(c);
	}
	r->measured = n * (HASH_BUF / 1024.0) / (now() - t);
	UK_CHECK_EQ(EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sm3(), NULL), 1);
	UK_CHECK_EQ(c->h.rlen, mdlen);
	UK_CHECK_MEM(c->h.resp, md, mdlen);
}

/* ---- host rows (OpenSSL EVP) ---- */

static void bench_sm3(unsigned n, row *r)
{
	static uint8_t buf[HASH_BUF];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned i, mdlen;
	double t = now();

	for (i = 0; i < n; i++)
		UK_CHECK_EQ(EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sm3(), NULL), 1);
	r->measured = n * (HASH_BUF / 1024.0) / (now() - t);
}

static void bench_sm4(unsigned n, row *r)
{
	static uint8_t buf[HASH_BUF], out[HASH_BUF + 16];
	uint8_t key[16];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned i;
	int len;
	double t;

	UK_CHECK(ctx != NULL && RAND_bytes(key, sizeof(key)) == 1);
	UK_CHECK_EQ(EVP_EncryptInit_ex(ctx, EVP_sm4_ecb(), NULL, key, NULL), 1);
	UK_CHECK_EQ(EVP_CIPHER_CTX_set_padding(ctx, 0), 1);
	t = now();
	for (i = 0; i < n; i++)
		UK_CHECK_EQ(EVP_EncryptUpdate(ctx, out, &len, buf, (int)sizeof(buf)), 1);
	r->measured = n * (HASH_BUF / 1024.0) / (now() - t);
	EVP_CIPHER_CTX_free(ctx);
}

/* ---- the table ---- */

static void print_table(const conf_ctx *c, unsigned n, const row *r, size_t nr)
{
	size_t i;

	printf("\nSPEC S0 performance table, ukey %s, N=%u\n", c->pcsc ?
	       "through PC/SC (pcscd + ifd + ukey-emu)" : "in-process (libukey-token)", n);
	printf("| operation | where | measured | S0 floor | measured/floor | meets |\n");
	printf("|---|---|---|---|---|---|\n");
	for (i = 0; i < nr; i++)
		printf("| %s | %s | %.2f %s | %s %.2f %s | %.2f | %s |\n", r[i].op, r[i].where,
		       r[i].measured, r[i].unit, r[i].lower_better ? "<=" : ">=", r[i].floor,
		       r[i].unit, r[i].measured / r[i].floor,
		       (r[i].lower_better ? r[i].measured <= r[i].floor
		                          : r[i].measured >= r[i].floor) ? "yes" : "NO");
	fflush(stdout);
}

enum { R_WRITE, R_READ, R_KEYGEN, R_SIGN, R_VERIFY, R_BOTH, R_ENC, R_DEC, R_SM3_CARD,
       R_SM3, R_SM4, R_COUNT };

static const row rows_init[R_COUNT] = {
	{ "file write (UPDATE BINARY, 4 KiB APDUs)", "card", "KB/s", 0, 4.06, 0 },
	{ "file read (READ BINARY, 4 KiB APDUs)", "card", "KB/s", 0, 63.44, 0 },
	{ "SM2 key-pair generation (GENERATE)", "card", "ms", 0, 90.0, 1 },
	{ "SM2 signature (PSO, e from host SM3)", "card", "/s", 0, 79.49, 0 },
	{ "SM2 verification (OpenSSL EVP)", "host", "/s", 0, 50.94, 0 },
	{ "SM2 sign + verify", "card+host", "/s", 0, 24.06, 0 },
	{ "SM2 encryption, 1 KiB (OpenSSL EVP)", "host", "KB/s", 0, 6.07, 0 },
	{ "SM2 decryption, 1 KiB (PSO DECIPHER 11)", "card", "KB/s", 0, 11.85, 0 },
	{ "SM3 hash, 64 KiB (PSO HASH, 4 KiB streamed parts)", "card", "KB/s", 0, 1.97, 0 },
	{ "SM3 hash, 64 KiB (OpenSSL EVP, for comparison)", "host", "KB/s", 0, 1.97, 0 },
	{ "SM4 ECB, 64 KiB (OpenSSL EVP; card SM4 not measured yet)", "host", "KB/s", 0, 31.5, 0 },
};

static int parse(int argc, char **argv, unsigned *n, int *pcsc)
{
	int i;

	*n = 100;
	*pcsc = 0;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pcsc") == 0)
			*pcsc = 1;
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			*n = (unsigned)strtoul(argv[++i], NULL, 10);
		else
			return -1;
	}
	return *n >= 1 && *n <= 100000 ? 0 : -1;
}

int main(int argc, char **argv)
{
	static conf_ctx c;
	char *cargv[3] = { argv[0], (char *)"--pcsc", NULL };
	row r[R_COUNT];
	uint8_t sig_pub[65], enc_pub[65];
	unsigned n;
	int pcsc, rc;

	if (parse(argc, argv, &n, &pcsc) != 0) {
		fprintf(stderr, "usage: %s [-n N (1-100000)] [--pcsc]\n", argv[0]);
		return 2;
	}
	rc = conf_open(&c, "ukey-bench-s0", pcsc ? 2 : 1, cargv, NULL);
	if (rc != 0)
		return rc;
	memcpy(r, rows_init, sizeof(r));
	conf_start(&c, 1);
	UK_CHECK_EQ(conf_create_container(&c, "bench"), 0);
	conf_generate(&c, 0x00, sig_pub);
	bench_files(&c, n, &r[R_WRITE], &r[R_READ]);
	bench_keygen(&c, n, &r[R_KEYGEN], enc_pub);
	bench_sign(&c, n, sig_pub, &r[R_SIGN], &r[R_VERIFY], &r[R_BOTH]);
	bench_sm2_cipher(&c, n, enc_pub, &r[R_ENC], &r[R_DEC]);
	bench_sm3_card(&c, n, &r[R_SM3_CARD]);
	bench_sm3(n, &r[R_SM3]);
	bench_sm4(n, &r[R_SM4]);
	print_table(&c, n, r, R_COUNT);
	conf_close(&c);
	return 0;
}
