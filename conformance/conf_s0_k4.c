/* SPEC S0-K4 (keys in the device are protected against dissection, probing and reading).
 *
 * What the clause means for a software key: a hardware key's keys sit in a secure element
 * that resists opening the chip (dissection), micro-probing its buses and reading its
 * memory. The emulated key has no chip; its keys exist at rest only in the key's state
 * directory (docs/apdu.md "Persistence"), and in RAM only unsealed for one operation. So
 * "dissecting" it is reading its files, "probing" it is altering them and watching how the
 * card reacts, and the protection that can be tested is:
 *   (a) reading: every file of the state directory, read whole, holds no 8-byte run of any
 *       private key (SM2 d, P-256 d, RSA-2048 p, q, d and its CRT values) nor of either PIN,
 *       while the public keys are found there (the search can fail);
 *   (b) altering (in-process only: the test must stop the card to rewrite its file): a
 *       flipped byte anywhere in the state file, the sealed keys included, makes the state
 *       refused when the key is opened (SHA-256 integrity check), and the directory is left
 *       as it was (the state is not replaced by a new provisioning); an attacker who knows
 *       the format and recomputes that digest still cannot change a sealed private key
 *       unnoticed: the key fails its AES-256-GCM tag, PSO answers 6F00 (internal failure,
 *       docs/apdu.md "General status words") with no data, never a wrong signature or
 *       plaintext, and the original file signs correctly again;
 *   (c) the state directory is mode 0700 and its files 0600 (only the key's owner reads it).
 * The private keys are known to the test only through the token's TEST-ONLY accessor
 * (token/tests/ukt_test_access.h, never in libukey-token or ukey-emu), which unseals them
 * with the user PIN; signatures are checked with OpenSSL. What software cannot give is
 * protection against the owner's own root account reading the process memory: that is the
 * limit of an emulator, and the reason a hardware key exists. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "conf.h"
#include "conf_ops.h"
#include "uk_tlv.h"
#include "uk_wipe.h"
#include "ukt_test_access.h"

#define WINDOW 8
#define RSA_K 256
#define PRIV_MAX 2048
#define SEALED_MAX 2048
#define NSECRET 10

enum { ALG_SM2 = 0x01, ALG_P256 = 0x02, ALG_RSA = 0x03 };
enum { MECH_SM2 = 0x01, MECH_ECDSA = 0x02, MECH_RSA_PKCS = 0x03, MECH_SM2_DEC = 0x11 };
enum { K_SM2, K_P256, K_RSA, NKEY };

typedef struct key {
	uint8_t kr, alg;
	uint8_t pub[RSA_K + 4];         /* stored public encoding: 04||X||Y, or n || e */
	size_t pub_len;
} key;

/* A secret the files must not hold: big-endian bytes. */
typedef struct secret {
	const char *what;
	uint8_t v[RSA_K];
	size_t n;
} secret;

typedef struct k4 {
	key k[NKEY];
	secret s[NSECRET];
	unsigned ns;
} k4;

static const char *const key_name[NKEY] = { "SM2", "P-256", "RSA-2048" };

/* ---- the keys ---- */

/* The public key of a GENERATE answer: 7F49 { 86 point } or 7F49 { 81 n, 82 e }. */
static void parse_template(const uint8_t *p, size_t len, key *k)
{
	uk_tlv t, a, b;

	UK_CHECK_EQ(uk_tlv_find(p, len, 0x7F49, &t), 1);
	if (k->alg != ALG_RSA) {
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x86, &a), 1);
		UK_CHECK_EQ(a.len, 65);
		memcpy(k->pub, a.value, 65);
		k->pub_len = 65;
		return;
	}
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x81, &a), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x82, &b), 1);
	UK_CHECK(a.len == RSA_K && b.len >= 1 && b.len <= 4);
	memcpy(k->pub, a.value, RSA_K);
	memcpy(k->pub + RSA_K, b.value, b.len);
	k->pub_len = RSA_K + b.len;
}

static void generate(conf_ctx *c, key *k, uint8_t kr, uint8_t alg)
{
	k->kr = kr;
	k->alg = alg;
	UK_CHECK_EQ(conf_generate_alg(c, kr, alg), 0x9000);
	parse_template(c->h.resp, c->h.rlen, k);
}

static void add_secret(k4 *t, const char *what, const uint8_t *v, size_t n)
{
	UK_CHECK(t->ns < NSECRET && n >= WINDOW && n <= RSA_K);
	t->s[t->ns].what = what;
	memcpy(t->s[t->ns].v, v, n);
	t->s[t->ns].n = n;
	t->ns++;
}

static void add_bn(k4 *t, const EVP_PKEY *pk, const char *param)
{
	BIGNUM *v = NULL;
	uint8_t b[RSA_K];
	int n;

	UK_CHECK(EVP_PKEY_get_bn_param(pk, param, &v) == 1);
	n = BN_bn2bin(v, b);
	UK_CHECK(n > 0);
	add_secret(t, param, b, (size_t)n);
	uk_wipe(b, sizeof(b));
	BN_clear_free(v);
}

/* The private values of each key, unsealed with the user PIN by the test-only accessor and
 * checked to belong to the public key answered (so the search looks for the right bytes). */
static void learn_secrets(conf_ctx *c, k4 *t)
{
	const char *dir = conf_state_dir(c);
	uint8_t der[PRIV_MAX], d[32];
	const unsigned char *q = der;
	EVP_PKEY *pk;
	BIGNUM *n = NULL;
	size_t len = 0;

	UK_CHECK_EQ(conf_state_private(c, t->k[K_SM2].pub, d), 1);
	UK_CHECK(conf_sm2_pair_matches(d, t->k[K_SM2].pub));
	add_secret(t, "SM2 d", d, 32);
	UK_CHECK_EQ(conf_state_private(c, t->k[K_P256].pub, d), 1);
	add_secret(t, "P-256 d", d, 32);
	UK_CHECK_EQ(ukt_test_private_encoding(dir, c->user_pin, c->user_pin_len, t->k[K_RSA].pub,
	                                      t->k[K_RSA].pub_len, der, sizeof(der), &len), 1);
	pk = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &q, (long)len);
	UK_CHECK(pk != NULL && EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) == 1);
	UK_CHECK_EQ(BN_num_bytes(n), RSA_K);
	UK_CHECK(BN_bn2binpad(n, der, RSA_K) == RSA_K && memcmp(der, t->k[K_RSA].pub, RSA_K) == 0);
	add_bn(t, pk, OSSL_PKEY_PARAM_RSA_FACTOR1);
	add_bn(t, pk, OSSL_PKEY_PARAM_RSA_FACTOR2);
	add_bn(t, pk, OSSL_PKEY_PARAM_RSA_D);
	add_bn(t, pk, OSSL_PKEY_PARAM_RSA_EXPONENT1);
	add_bn(t, pk, OSSL_PKEY_PARAM_RSA_EXPONENT2);
	add_bn(t, pk, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
	add_secret(t, "user PIN", c->user_pin, c->user_pin_len);
	add_secret(t, "SO PIN", c->so_pin, c->so_pin_len);
	BN_free(n);
	EVP_PKEY_free(pk);
	uk_wipe(der, sizeof(der));
	uk_wipe(d, sizeof(d));
	conf_say(c, "private keys unsealed with the user PIN (test-only accessor): SM2 d "
	         "(d*G = Q), P-256 d, RSA p, q, d, dP, dQ, qInv (n = the modulus answered)");
}

/* ---- signatures, checked with OpenSSL ---- */

static EVP_PKEY *p256_public(const uint8_t pub[65])
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	char group[] = "prime256v1";

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, 65);
	params[2] = OSSL_PARAM_construct_end();
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(pctx);
	return pk;
}

static EVP_PKEY *rsa_public(const key *k)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *n = BN_bin2bn(k->pub, RSA_K, NULL);
	BIGNUM *e = BN_bin2bn(k->pub + RSA_K, (int)(k->pub_len - RSA_K), NULL);
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pk = NULL;

	if (bld != NULL && n != NULL && e != NULL && pctx != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1 &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
	    EVP_PKEY_fromdata_init(pctx) == 1 &&
	    EVP_PKEY_fromdata(pctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(pctx);
	BN_free(n);
	BN_free(e);
	return pk;
}

/* ECDSA r||s to DER for EVP_PKEY_verify. */
static int p256_verify(const uint8_t pub[65], const uint8_t h[32], const uint8_t *sig,
                       size_t n)
{
	EVP_PKEY *pk = p256_public(pub);
	EVP_PKEY_CTX *v = pk ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
	unsigned char *der = NULL;
	int dl = -1, ok = 0;

	if (n == 64 && s != NULL && r != NULL && ss != NULL && ECDSA_SIG_set0(s, r, ss) == 1) {
		r = ss = NULL;
		dl = i2d_ECDSA_SIG(s, &der);
	}
	ok = v != NULL && dl > 0 && EVP_PKEY_verify_init(v) == 1 &&
	     EVP_PKEY_verify(v, der, (size_t)dl, h, 32) == 1;
	OPENSSL_free(der);
	BN_free(r);
	BN_free(ss);
	ECDSA_SIG_free(s);
	EVP_PKEY_CTX_free(v);
	EVP_PKEY_free(pk);
	return ok;
}

/* RSASSA-PKCS1-v1_5 with SHA-256 over the hash h (PKCS #1 v2.2 §8.2.2). */
static int rsa_verify(const key *k, const uint8_t h[32], const uint8_t *sig, size_t n)
{
	EVP_PKEY *pk = rsa_public(k);
	EVP_PKEY_CTX *v = pk ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
	int ok = v != NULL && n == RSA_K && EVP_PKEY_verify_init(v) == 1 &&
	         EVP_PKEY_CTX_set_rsa_padding(v, RSA_PKCS1_PADDING) == 1 &&
	         EVP_PKEY_CTX_set_signature_md(v, EVP_sha256()) == 1 &&
	         EVP_PKEY_verify(v, sig, n, h, 32) == 1;

	EVP_PKEY_CTX_free(v);
	EVP_PKEY_free(pk);
	return ok;
}

/* PSO COMPUTE DIGITAL SIGNATURE with key k over a fixed message; returns the SW. On 9000
 * the signature must verify (OpenSSL); otherwise there must be no data. */
static uint16_t sign_checked(conf_ctx *c, const key *k)
{
	static const char msg[] = "S0-K4 message";
	static const uint8_t sha256_info[19] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86,
	                                         0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
	                                         0x00, 0x04, 0x20 };
	uint8_t h[32], data[19 + 32];
	uint16_t sw;
	int ok;

	UK_CHECK(EVP_Digest(msg, sizeof(msg) - 1, h, NULL, EVP_sha256(), NULL) == 1);
	if (k->alg == ALG_SM2)
		conf_sm2_e(k->pub, msg, sizeof(msg) - 1, h);
	memcpy(data, sha256_info, sizeof(sha256_info));
	memcpy(data + sizeof(sha256_info), h, 32);
	sw = k->alg == ALG_SM2 ? conf_pso_sign(c, k->kr, MECH_SM2, h, 32)
	     : k->alg == ALG_P256 ? conf_pso_sign(c, k->kr, MECH_ECDSA, h, 32)
	     : conf_pso_sign(c, k->kr, MECH_RSA_PKCS, data, sizeof(data));
	if (sw != 0x9000) {
		UK_CHECK_EQ(c->h.rlen, 0);
		return sw;
	}
	ok = k->alg == ALG_SM2 ? c->h.rlen == 64 &&
	                         conf_sm2_verify_msg(k->pub, msg, sizeof(msg) - 1, c->h.resp)
	     : k->alg == ALG_P256 ? p256_verify(k->pub, h, c->h.resp, c->h.rlen)
	     : rsa_verify(k, h, c->h.resp, c->h.rlen);
	UK_CHECK(ok);
	return sw;
}

/* ---- (a) reading the files, (c) their modes ---- */

static int has_window(const uk_buf *hay, const uint8_t *needle, size_t n, size_t w)
{
	size_t i, j;

	for (i = 0; i + w <= n; i++)
		for (j = 0; j + w <= hay->len; j++)
			if (memcmp(hay->data + j, needle + i, w) == 0)
				return 1;
	return 0;
}

static int read_whole(const char *path, uk_buf *out)
{
	uint8_t chunk[4096];
	size_t n;
	FILE *f = fopen(path, "rb");

	uk_buf_reset(out);
	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		uk_buf_put(out, chunk, n);
	fclose(f);
	return out->failed ? -1 : 0;
}

/* One file of the directory: mode 0600, no secret, and (state) the public keys present. */
static void check_file(conf_ctx *c, const k4 *t, const char *path, const char *name)
{
	struct stat sb;
	uk_buf img;
	unsigned i;

	uk_buf_init(&img, 0, 1);
	UK_CHECK(stat(path, &sb) == 0 && S_ISREG(sb.st_mode));
	UK_CHECK_EQ(sb.st_mode & 07777, 0600);
	UK_CHECK_EQ(read_whole(path, &img), 0);
	for (i = 0; i < t->ns; i++)
		if (has_window(&img, t->s[i].v, t->s[i].n, WINDOW)) {
			fprintf(stderr, "%s holds a piece of %s\n", name, t->s[i].what);
			UK_CHECK(0);
		}
	if (strcmp(name, "state") == 0)         /* the search can fail */
		for (i = 0; i < NKEY; i++)
			UK_CHECK(has_window(&img, t->k[i].pub + 1, 32, WINDOW));
	conf_say(c, "%s (%zu bytes, mode 0600): no %d-byte run of any of the %u secrets%s",
	         name, img.len, WINDOW, t->ns,
	         strcmp(name, "state") == 0 ? "; the three public keys are there" : "");
	uk_buf_free(&img);
}

static void check_dir(conf_ctx *c, const k4 *t)
{
	const char *dir = conf_state_dir(c);
	char path[1200];
	struct dirent *e;
	struct stat sb;
	unsigned files = 0;
	DIR *d;

	UK_CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
	UK_CHECK_EQ(sb.st_mode & 07777, 0700);
	d = opendir(dir);
	UK_CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		check_file(c, t, path, e->d_name);
		files++;
	}
	closedir(d);
	UK_CHECK(files >= 2);                   /* the state and the data file at least */
	conf_say(c, "state directory mode 0700, %u files, every one read whole", files);
}

/* ---- (b) altering the state file (in-process) ---- */

static void write_whole(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	UK_CHECK(f != NULL);
	UK_CHECK_EQ(fwrite(p, 1, n, f), n);
	UK_CHECK_EQ(fclose(f), 0);
}

/* Names and contents of every file of the directory, in readdir order sorted by name. */
static void snapshot(const char *dir, uk_buf *out)
{
	struct dirent **list = NULL;
	char path[1200];
	uk_buf one;
	int i, n = scandir(dir, &list, NULL, alphasort);

	UK_CHECK(n >= 0);
	uk_buf_init(&one, 0, 1);
	uk_buf_reset(out);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		uk_buf_put(out, (const uint8_t *)list[i]->d_name, strlen(list[i]->d_name) + 1);
		if (list[i]->d_name[0] != '.') {
			UK_CHECK_EQ(read_whole(path, &one), 0);
			uk_buf_put_u32(out, (uint32_t)one.len);
			uk_buf_put(out, one.data, one.len);
		}
		free(list[i]);
	}
	free(list);
	uk_buf_free(&one);
	UK_CHECK(!out->failed);
}

/* Write img as the state; the key must refuse to open and leave the directory as it was. */
static void expect_refused(conf_ctx *c, const char *state, const uint8_t *img, size_t n)
{
	uk_buf before, after;
	ukt_card *card;

	uk_buf_init(&before, 0, 1);
	uk_buf_init(&after, 0, 1);
	write_whole(state, img, n);
	snapshot(c->dir, &before);
	card = ukt_card_open(c->dir, NULL);
	UK_CHECK(card == NULL);
	snapshot(c->dir, &after);
	UK_CHECK(before.len == after.len && memcmp(before.data, after.data, before.len) == 0);
	uk_buf_free(&before);
	uk_buf_free(&after);
}

/* Every byte of the state flipped in turn (the sealed keys, PIN records, header, digest). */
static void flip_everywhere(conf_ctx *c, const char *state, const uk_buf *orig)
{
	uint8_t *img = malloc(orig->len);
	size_t i;

	UK_CHECK(img != NULL);
	memcpy(img, orig->data, orig->len);
	for (i = 0; i < orig->len; i++) {
		img[i] ^= 0x01;
		expect_refused(c, state, img, orig->len);
		img[i] ^= 0x01;
	}
	expect_refused(c, state, img, orig->len - 1);   /* truncated by one byte */
	uk_wipe(img, orig->len);
	free(img);
	conf_say(c, "each of the %zu bytes of the state flipped in turn (sealed keys, PIN "
	         "records, header, digest), and the file cut by one byte: the key refuses to "
	         "open (SHA-256 check), the directory is left as it was", orig->len);
}

/* Where the sealed private encoding of k sits in the state image (exactly once). */
static size_t sealed_offset(conf_ctx *c, const key *k, const uk_buf *img, size_t *len)
{
	uint8_t blob[SEALED_MAX];
	size_t i, at = 0, hits = 0;

	UK_CHECK_EQ(ukt_test_sealed_key(c->dir, k->pub, k->pub_len, blob, sizeof(blob), len), 1);
	for (i = 0; i + *len <= img->len; i++)
		if (memcmp(img->data + i, blob, *len) == 0) {
			at = i;
			hits++;
		}
	UK_CHECK_EQ(hits, 1);
	return at;
}

/* SHA-256 of everything before the last 32 bytes (docs/apdu.md "Persistence"). */
static void redigest(uint8_t *img, size_t n)
{
	UK_CHECK(EVP_Digest(img, n - 32, img + n - 32, NULL, EVP_sha256(), NULL) == 1);
}

static void reopen(conf_ctx *c)
{
	c->card = ukt_card_open(c->dir, NULL);
	UK_CHECK(c->card != NULL);
	conf_start(c, 1);
}

/* A flipped byte in the middle of the sealed key, the digest made right again. */
static void forge_sealed(conf_ctx *c, const char *state, const uk_buf *orig, const k4 *t,
                         unsigned which)
{
	uint8_t ct[160];
	size_t len = 0, at = sealed_offset(c, &t->k[which], orig, &len), ctn;
	uint8_t *img = malloc(orig->len);

	UK_CHECK(img != NULL);
	memcpy(img, orig->data, orig->len);
	img[at + len / 2] ^= 0x80;
	redigest(img, orig->len);
	write_whole(state, img, orig->len);
	reopen(c);                              /* the file is well formed: the key opens */
	UK_CHECK_EQ(sign_checked(c, &t->k[which]), 0x6F00);
	if (which == K_SM2) {
		ctn = conf_sm2_encrypt_raw(t->k[K_SM2].pub, (const uint8_t *)"secret", 6, ct);
		UK_CHECK_EQ(conf_decipher(c, t->k[K_SM2].kr, MECH_SM2_DEC, ct, ctn), 0x6F00);
		UK_CHECK_EQ(c->h.rlen, 0);
	}
	UK_CHECK_EQ(sign_checked(c, &t->k[(which + 1) % NKEY]), 0x9000);  /* others work */
	ukt_card_close(c->card);
	c->card = NULL;
	write_whole(state, orig->data, orig->len);
	reopen(c);
	UK_CHECK_EQ(sign_checked(c, &t->k[which]), 0x9000);
	ukt_card_close(c->card);
	c->card = NULL;
	uk_wipe(img, orig->len);
	free(img);
	conf_say(c, "%s: a byte of its sealed key (%zu bytes at offset %zu) flipped and the "
	         "file's SHA-256 recomputed: the key opens, PSO %sanswers 6F00 with no data (AEAD "
	         "tag), another key still signs; the original file signs again (OpenSSL "
	         "verifies)", key_name[which], len, at, which == K_SM2 ? "sign and decipher " : "");
}

static void tamper(conf_ctx *c, const k4 *t)
{
	char state[1100];
	uk_buf orig;
	unsigned i;

	snprintf(state, sizeof(state), "%s/state", c->dir);
	uk_buf_init(&orig, 0, 1);
	ukt_card_close(c->card);                /* power off: the file is the whole key */
	c->card = NULL;
	UK_CHECK_EQ(read_whole(state, &orig), 0);
	flip_everywhere(c, state, &orig);
	write_whole(state, orig.data, orig.len);
	for (i = 0; i < NKEY; i++)
		forge_sealed(c, state, &orig, t, i);
	write_whole(state, orig.data, orig.len);
	reopen(c);
	uk_buf_free(&orig);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-K4_stored_keys";
	static const uint8_t pub_data[64] = "public data of a data file, for the directory sweep";
	static conf_ctx c;
	static k4 t;
	unsigned i;
	uint8_t idx;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	if (conf_state_dir(&c) == NULL) {
		conf_close(&c);
		printf("%s: the state directory is not reachable: skipped\n", name);
		return UK_TEST_SKIP;
	}
	conf_start(&c, 1);
	idx = conf_create_container(&c, "k4-ec");
	generate(&c, &t.k[K_SM2], (uint8_t)(idx * 2), ALG_SM2);
	generate(&c, &t.k[K_P256], (uint8_t)(idx * 2 + 1), ALG_P256);
	idx = conf_create_container(&c, "k4-rsa");
	generate(&c, &t.k[K_RSA], (uint8_t)(idx * 2), ALG_RSA);
	UK_CHECK_EQ(conf_file_create(&c, 0xD000, sizeof(pub_data), "k4"), 0x9000);
	UK_CHECK_EQ(conf_file_update(&c, 0, pub_data, sizeof(pub_data)), 0x9000);
	for (i = 0; i < NKEY; i++)
		UK_CHECK_EQ(sign_checked(&c, &t.k[i]), 0x9000);
	conf_say(&c, "SM2, P-256 and RSA-2048 pairs generated; each signs (OpenSSL verifies)");
	learn_secrets(&c, &t);
	check_dir(&c, &t);
	if (c.pcsc)
		conf_say(&c, "altering the state needs the card stopped: in-process only");
	else
		tamper(&c, &t);
	uk_wipe(&t, sizeof(t));
	conf_close(&c);
	return uk_test_done(name);
}
