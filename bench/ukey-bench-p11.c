/* ukey-bench-p11: signing speed of ANY PKCS#11 module (DESIGN.md "Performance targets").
 * A benchmark, not a test: it asserts no timing.
 *
 *   ukey-bench-p11 --module PATH [--slot N | --token-label L] [--pin-env VAR]
 *                  [--mech sm2,sm2e,p256,rsa] [--threads T] [--seconds S] [--keygen K]
 *                  [--load-runs R] [--session-keys] [--name NAME]
 *   ukey-bench-p11 --module PATH --probe-load      (one load measurement; used internally)
 *
 * Per mechanism: a key pair is generated (K pairs, mean time; the first is kept), then T
 * threads, one session each, call C_SignInit + C_Sign for S seconds over distinct messages,
 * then C_VerifyInit + C_Verify over those signatures for S seconds. Every signature is kept
 * and afterwards verified with OpenSSL against the public key read from the module
 * (CKA_PUBLIC_KEY_INFO, else CKA_EC_PARAMS + CKA_EC_POINT / CKA_MODULUS + CKA_PUBLIC_EXPONENT):
 * only signatures OpenSSL accepts are counted, so a module returning garbage cannot score.
 *   sm2   CKM_UKEY_SM2_SM3 (0xD54B0202) over the message (Z and e on the host, as
 *         `openssl speed sm2` does them)
 *   sm2e  CKM_UKEY_SM2 (0xD54B0201) over a precomputed e = SM3(Z || M)
 *   p256  CKM_ECDSA over SHA-256(M) (as SoftHSM2 also offers it)
 *   rsa   CKM_SHA256_RSA_PKCS, RSA-2048 (PKCS#1 v1.5)
 * Load latency: C_Initialize -> C_GetSlotList -> first C_GetTokenInfo in R fresh child
 * processes (this program re-run with --probe-load), median. APDUs per operation through the
 * ukey vendor interface (get_apdu_count, module/include/ukey-pkcs11.h) when the module has it.
 * The PIN is read from the environment variable VAR (default UKEY_USER_PIN), never argv.
 * Besides the table, one "result" line per figure (key=value) for bench/run-p11.sh.
 * Exit: 0 when every signature counted verified; 1 on any failure; 2 usage. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "ukey-pkcs11-3.h"
#include "uk_crypto.h"

#define MAX_THREADS 64
#define MAX_SIG 512
#define MSG_LEN 48

enum kind { K_SM2, K_SM2E, K_P256, K_RSA, K_COUNT };

struct mech_def {
	const char *name, *desc;
	CK_MECHANISM_TYPE sign;         /* the signing mechanism */
	int ec;                         /* EC key (else RSA) */
};

static const struct mech_def mech_defs[K_COUNT] = {
	[K_SM2] = { "sm2", "SM2 (CKM_UKEY_SM2_SM3, Z+e on host)", CKM_UKEY_SM2_SM3, 1 },
	[K_SM2E] = { "sm2e", "SM2 (CKM_UKEY_SM2, precomputed e)", CKM_UKEY_SM2, 1 },
	[K_P256] = { "p256", "ECDSA P-256 (CKM_ECDSA, SHA-256 digest)", CKM_ECDSA, 1 },
	[K_RSA] = { "rsa", "RSA-2048 PKCS#1 v1.5 (CKM_SHA256_RSA_PKCS)", CKM_SHA256_RSA_PKCS, 0 },
};

static const uint8_t p256_oid[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };

struct opts {
	const char *module, *label, *pin_env, *name;
	long slot;
	int threads, keygen, load_runs, session_keys, probe;
	double seconds;
	int want[K_COUNT];
};

struct sig_rec {                /* one signature made in the sign phase */
	uint32_t msg_no;
	uint16_t len;
	uint8_t sig[MAX_SIG];
};

struct worker {
	const struct mech_def *md;
	CK_OBJECT_HANDLE priv, pub;
	const uint8_t *pub_point;       /* SM2 e: 04||X||Y */
	int thread_no, verify_phase, failed_rv;
	double deadline;
	struct sig_rec *sigs;           /* sign phase: grows; verify phase: the sign phase's */
	size_t nsig, cap, nverify_src;
	double *lat;                    /* microseconds */
	size_t nlat, latcap;
	unsigned long ok, fail;
	pthread_t tid;
};

static CK_FUNCTION_LIST_PTR fl;
static CK_UKEY_FUNCTION_LIST *ukf;
static CK_SLOT_ID the_slot;
static struct opts o;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_msg(int thread_no, uint32_t i, uint8_t out[MSG_LEN])
{
	memset(out, 0, MSG_LEN);
	snprintf((char *)out, MSG_LEN, "ukey-bench-p11 thread %d message %u", thread_no, i);
}

/* ---- module loading ---- */

static int load_module(const char *path)
{
	CK_C_GetFunctionList get;
	CK_C_GetInterface get_iface;
	CK_INTERFACE_PTR iface = NULL;
	CK_VERSION v = { UKEY_INTERFACE_VERSION_MAJOR, 0 };
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (dl == NULL) {
		fprintf(stderr, "ukey-bench-p11: dlopen %s: %s\n", path, dlerror());
		return -1;
	}
	*(void **)&get = dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&fl) != CKR_OK) {
		fprintf(stderr, "ukey-bench-p11: %s: no C_GetFunctionList\n", path);
		return -1;
	}
	*(void **)&get_iface = dlsym(dl, "C_GetInterface");
	if (get_iface != NULL &&
	    get_iface((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, &v, &iface, 0) == CKR_OK && iface != NULL)
		ukf = iface->pFunctionList;
	return 0;
}

static long apdus(void)
{
	CK_ULONG n = 0;

	if (ukf == NULL || ukf->get_apdu_count(UKEY_ALL_SLOTS, &n) != CKR_OK)
		return -1;
	return (long)n;
}

static int label_matches(const CK_TOKEN_INFO *ti, const char *label)
{
	size_t n = strlen(label), i;

	if (n > sizeof(ti->label) || memcmp(ti->label, label, n) != 0)
		return 0;
	for (i = n; i < sizeof(ti->label); i++)
		if (ti->label[i] != ' ')
			return 0;
	return 1;
}

/* The slot: --slot, else the token labelled --token-label, else the first with a token. */
static int find_slot(CK_TOKEN_INFO *ti)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64, i;

	if (fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return -1;
	for (i = 0; i < n; i++) {
		if (o.slot >= 0 && slots[i] != (CK_SLOT_ID)o.slot)
			continue;
		if (fl->C_GetTokenInfo(slots[i], ti) != CKR_OK)
			continue;
		if (o.label != NULL && !label_matches(ti, o.label))
			continue;
		the_slot = slots[i];
		return 0;
	}
	return -1;
}

/* --probe-load: one fresh process's C_Initialize -> first C_GetTokenInfo, in microseconds,
 * printed as "load init_us=A total_us=B slots=N". */
static int probe_load(void)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	double t0, t1, t2;
	CK_RV rv;

	if (load_module(o.module) != 0)
		return 1;
	t0 = now();
	rv = fl->C_Initialize(&args);
	t1 = now();
	if (rv != CKR_OK) {
		printf("load init_rv=0x%lx\n", rv);
		return 1;
	}
	if (fl->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		n = 0;
	if (n > 0 && fl->C_GetTokenInfo(slots[0], &ti) != CKR_OK)
		n = 0;
	t2 = now();
	printf("load init_us=%.1f total_us=%.1f slots=%lu\n", (t1 - t0) * 1e6, (t2 - t0) * 1e6, n);
	fl->C_Finalize(NULL);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)  /* nearest rank; v sorted */
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)(p * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	return v[(k > n ? n : k) - 1];
}

/* Run this program with --probe-load R times; median of total_us. */
static int measure_load(double *median_us, double *init_us, unsigned long *slots)
{
	double tot[64], ini[64];
	int r, runs = o.load_runs > 64 ? 64 : o.load_runs, got = 0;

	for (r = 0; r < runs; r++) {
		char cmd[4096], line[256];
		FILE *p;

		snprintf(cmd, sizeof(cmd), "'/proc/%d/exe' --probe-load --module '%s'", (int)getpid(),
		         o.module);
		p = popen(cmd, "r");
		if (p == NULL)
			return -1;
		while (fgets(line, sizeof(line), p) != NULL)
			if (sscanf(line, "load init_us=%lf total_us=%lf slots=%lu", &ini[got], &tot[got],
			           slots) == 3)
				got++;
		pclose(p);
	}
	if (got == 0)
		return -1;
	qsort(tot, (size_t)got, sizeof(double), cmp_double);
	qsort(ini, (size_t)got, sizeof(double), cmp_double);
	*median_us = tot[got / 2];
	*init_us = ini[got / 2];
	return got;
}

/* ---- keys ---- */

static CK_RV gen_pair(CK_SESSION_HANDLE h, const struct mech_def *md, CK_OBJECT_HANDLE *pub,
                      CK_OBJECT_HANDLE *priv)
{
	CK_BBOOL t = CK_TRUE, tok = o.session_keys ? CK_FALSE : CK_TRUE;
	CK_ULONG bits = 2048;
	uint8_t e65537[] = { 1, 0, 1 };
	CK_MECHANISM m = { md->ec ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE ecpub[] = { { CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid) },
		                 { CKA_VERIFY, &t, 1 }, { CKA_TOKEN, &tok, 1 } };
	CK_ATTRIBUTE rsapub[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) },
		                  { CKA_PUBLIC_EXPONENT, e65537, sizeof(e65537) },
		                  { CKA_VERIFY, &t, 1 }, { CKA_TOKEN, &tok, 1 } };
	CK_ATTRIBUTE privt[] = { { CKA_SIGN, &t, 1 }, { CKA_TOKEN, &tok, 1 },
		                 { CKA_PRIVATE, &t, 1 }, { CKA_SENSITIVE, &t, 1 } };

	if (md->sign == CKM_UKEY_SM2 || md->sign == CKM_UKEY_SM2_SM3) {
		ecpub[0].pValue = (void *)UKEY_SM2_EC_PARAMS;
		ecpub[0].ulValueLen = UKEY_SM2_EC_PARAMS_LEN;
	}
	if (md->ec)
		return fl->C_GenerateKeyPair(h, &m, ecpub, 3, privt, 4, pub, priv);
	return fl->C_GenerateKeyPair(h, &m, rsapub, 4, privt, 4, pub, priv);
}

static int get_attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                    uint8_t *buf, size_t cap, size_t *len)
{
	CK_ATTRIBUTE a = { type, buf, cap };

	if (fl->C_GetAttributeValue(h, obj, &a, 1) != CKR_OK)
		return -1;
	*len = a.ulValueLen;
	return 0;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *b)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(b);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *k = NULL;

	if (params == NULL || c == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	return k;
}

/* CKA_EC_POINT: DER OCTET STRING (PKCS#11 2.40 §2.3.3), some modules give the raw point. */
static EVP_PKEY *ec_from_point(const struct mech_def *md, const uint8_t *pt, size_t n)
{
	const uint8_t *p = pt;
	ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)n);
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	int sm2 = md->sign == CKM_UKEY_SM2 || md->sign == CKM_UKEY_SM2_SM3;
	EVP_PKEY *k = NULL;

	if (os != NULL && p == pt + n) {
		pt = ASN1_STRING_get0_data(os);
		n = (size_t)ASN1_STRING_length(os);
	}
	if (b != NULL &&
	    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, sm2 ? "SM2" : "prime256v1",
	                                    0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, n) == 1)
		k = pkey_from_params(sm2 ? "SM2" : "EC", b);
	OSSL_PARAM_BLD_free(b);
	ASN1_OCTET_STRING_free(os);
	return k;
}

static EVP_PKEY *rsa_from_parts(const uint8_t *mod, size_t nm, const uint8_t *e, size_t ne)
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(mod, (int)nm, NULL), *be = BN_bin2bn(e, (int)ne, NULL);
	EVP_PKEY *k = NULL;

	if (b != NULL && bn != NULL && be != NULL &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) == 1)
		k = pkey_from_params("RSA", b);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	BN_free(be);
	return k;
}

/* The public key as OpenSSL sees it, read from the module. SM2 keys are always rebuilt from
 * the point so that OpenSSL treats them as SM2 (a SPKI with id-ecPublicKey + the SM2 curve
 * parses as a plain EC key). */
static EVP_PKEY *public_key(CK_SESSION_HANDLE h, const struct mech_def *md, CK_OBJECT_HANDLE pub,
                            uint8_t point[UK_SM2_POINT_LEN])
{
	static uint8_t a[2048], b[16];
	size_t na, nb;
	const uint8_t *p = a;
	EVP_PKEY *k = NULL;
	int sm2 = md->sign == CKM_UKEY_SM2 || md->sign == CKM_UKEY_SM2_SM3;

	if (!sm2 && get_attr(h, pub, CKA_PUBLIC_KEY_INFO, a, sizeof(a), &na) == 0 && na > 0)
		k = d2i_PUBKEY(NULL, &p, (long)na);
	if (k == NULL && md->ec && get_attr(h, pub, CKA_EC_POINT, a, sizeof(a), &na) == 0)
		k = ec_from_point(md, a, na);
	if (k == NULL && !md->ec && get_attr(h, pub, CKA_MODULUS, a, sizeof(a), &na) == 0 &&
	    get_attr(h, pub, CKA_PUBLIC_EXPONENT, b, sizeof(b), &nb) == 0)
		k = rsa_from_parts(a, na, b, nb);
	if (k != NULL && sm2 && uk_sm2_get_public(k, point) != 0) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

/* ---- OpenSSL verification of one signature ---- */

static int rs_to_der(const uint8_t *rs, size_t n, uint8_t *der, size_t *dlen)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, (int)(n / 2), NULL), *ss = BN_bin2bn(rs + n / 2, (int)(n / 2), NULL);
	uint8_t *p = der;
	int len = -1;

	if (s != NULL && r != NULL && ss != NULL && ECDSA_SIG_set0(s, r, ss) == 1) {
		r = ss = NULL;
		len = i2d_ECDSA_SIG(s, &p);
	}
	BN_free(r);
	BN_free(ss);
	ECDSA_SIG_free(s);
	if (len <= 0)
		return -1;
	*dlen = (size_t)len;
	return 0;
}

static int osl_verify(EVP_PKEY *k, const struct mech_def *md, const uint8_t *msg,
                      const uint8_t *sig, size_t siglen)
{
	uint8_t der[160], dg[32];
	size_t dlen = 0;
	unsigned dglen = 0;
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	int ok = 0;

	if (mc == NULL)
		return 0;
	if (md->sign == CKM_SHA256_RSA_PKCS) {
		ok = EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, k) == 1 &&
		     EVP_DigestVerify(mc, sig, siglen, msg, MSG_LEN) == 1;
		goto out;
	}
	if (siglen % 2 != 0 || siglen > 132 || rs_to_der(sig, siglen, der, &dlen) != 0)
		goto out;
	if (md->sign == CKM_ECDSA) {
		pc = EVP_PKEY_CTX_new(k, NULL);
		ok = pc != NULL && EVP_Digest(msg, MSG_LEN, dg, &dglen, EVP_sha256(), NULL) == 1 &&
		     EVP_PKEY_verify_init(pc) == 1 && EVP_PKEY_verify(pc, der, dlen, dg, dglen) == 1;
		goto out;
	}
	/* SM2 with SM3 and the default ID: OpenSSL computes Z and e itself (GM/T 0003.2 §6.1). */
	ok = EVP_DigestVerifyInit(mc, &pc, EVP_sm3(), NULL, k) == 1 &&
	     EVP_PKEY_CTX_set1_id(pc, UKEY_SM2_DEFAULT_ID, UKEY_SM2_DEFAULT_ID_LEN) == 1 &&
	     EVP_DigestVerify(mc, der, dlen, msg, MSG_LEN) == 1;
	pc = NULL;      /* owned by mc */
out:
	EVP_PKEY_CTX_free(pc);
	EVP_MD_CTX_free(mc);
	return ok;
}

/* ---- the worker threads ---- */

/* What C_Sign gets for message M: the message, SHA-256(M) or e = SM3(Z || M). */
static int sign_input(const struct worker *w, const uint8_t *msg, uint8_t *in, CK_ULONG *n)
{
	unsigned len = 0;

	switch (w->md->sign) {
	case CKM_ECDSA:
		if (EVP_Digest(msg, MSG_LEN, in, &len, EVP_sha256(), NULL) != 1)
			return -1;
		*n = len;
		return 0;
	case CKM_UKEY_SM2:
		if (uk_sm2_compute_e(w->pub_point, NULL, 0, msg, MSG_LEN, in) != 0)
			return -1;
		*n = UK_SM3_LEN;
		return 0;
	default:
		memcpy(in, msg, MSG_LEN);
		*n = MSG_LEN;
		return 0;
	}
}

static int push_lat(struct worker *w, double us)
{
	if (w->nlat == w->latcap) {
		size_t cap = w->latcap ? w->latcap * 2 : 4096;
		double *p = realloc(w->lat, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		w->lat = p;
		w->latcap = cap;
	}
	w->lat[w->nlat++] = us;
	return 0;
}

static struct sig_rec *next_rec(struct worker *w)
{
	if (w->nsig == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 1024;
		struct sig_rec *p = realloc(w->sigs, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		w->sigs = p;
		w->cap = cap;
	}
	return &w->sigs[w->nsig];
}

static int sign_one(struct worker *w, CK_SESSION_HANDLE h, uint32_t i)
{
	CK_MECHANISM m = { w->md->sign, NULL, 0 };
	uint8_t msg[MSG_LEN], in[MSG_LEN];
	CK_ULONG n = 0, siglen = MAX_SIG;
	struct sig_rec *r = next_rec(w);
	double t0;
	CK_RV rv;

	if (r == NULL)
		return -1;
	make_msg(w->thread_no, i, msg);
	t0 = now();
	if (sign_input(w, msg, in, &n) != 0)
		return -1;
	rv = fl->C_SignInit(h, &m, w->priv);
	if (rv == CKR_OK)
		rv = fl->C_Sign(h, in, n, r->sig, &siglen);
	if (rv != CKR_OK) {
		w->failed_rv = (int)rv;
		w->fail++;
		return rv == CKR_DEVICE_REMOVED || rv == CKR_SESSION_HANDLE_INVALID ? -1 : 0;
	}
	if (push_lat(w, (now() - t0) * 1e6) != 0)
		return -1;
	r->msg_no = i;
	r->len = (uint16_t)siglen;
	w->nsig++;
	return 0;
}

static int verify_one(struct worker *w, CK_SESSION_HANDLE h, size_t k)
{
	CK_MECHANISM m = { w->md->sign, NULL, 0 };
	const struct sig_rec *r = &w->sigs[k % w->nverify_src];
	uint8_t msg[MSG_LEN], in[MSG_LEN];
	CK_ULONG n = 0;
	double t0;
	CK_RV rv;

	make_msg(w->thread_no, r->msg_no, msg);
	t0 = now();
	if (sign_input(w, msg, in, &n) != 0)
		return -1;
	rv = fl->C_VerifyInit(h, &m, w->pub);
	if (rv == CKR_OK)
		rv = fl->C_Verify(h, in, n, (CK_BYTE_PTR)r->sig, r->len);
	if (rv != CKR_OK) {
		w->failed_rv = (int)rv;
		w->fail++;
		return 0;
	}
	w->ok++;
	return push_lat(w, (now() - t0) * 1e6);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	CK_SESSION_HANDLE h;
	uint32_t i = 0;

	if (w->verify_phase && w->nverify_src == 0)
		return NULL;
	if (fl->C_OpenSession(the_slot, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK) {
		w->fail++;
		return NULL;
	}
	while (now() < w->deadline) {
		int rc = w->verify_phase ? verify_one(w, h, i) : sign_one(w, h, i);

		if (rc != 0)
			break;
		i++;
	}
	fl->C_CloseSession(h);
	return NULL;
}

/* ---- one mechanism ---- */

struct result {
	double sign_ops, sign_p50, sign_p99, verify_ops, verify_p50, verify_p99, keygen_ms;
	unsigned long signed_n, verified_n, bad_n, sign_fail, verify_fail, verify_ok;
	double apdu_per_sign;
	int keygen_n;
};

static int run_phase(struct worker *w, int threads, int verify, double *ops, double *p50,
                     double *p99)
{
	double t0, el, *all;
	size_t total = 0, at = 0;
	int i;

	t0 = now();
	for (i = 0; i < threads; i++) {
		w[i].verify_phase = verify;
		w[i].deadline = t0 + o.seconds;
		w[i].nlat = 0;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0)
			return -1;
	}
	for (i = 0; i < threads; i++)
		pthread_join(w[i].tid, NULL);
	el = now() - t0;
	for (i = 0; i < threads; i++)
		total += w[i].nlat;
	all = malloc((total ? total : 1) * sizeof(double));
	if (all == NULL)
		return -1;
	for (i = 0; i < threads; i++) {
		memcpy(all + at, w[i].lat, w[i].nlat * sizeof(double));
		at += w[i].nlat;
	}
	qsort(all, total, sizeof(double), cmp_double);
	*p50 = pct(all, total, 0.50);
	*p99 = pct(all, total, 0.99);
	*ops = (double)total / el;
	free(all);
	return 0;
}

/* Every signature of the sign phase, checked by OpenSSL; ops/s counts only verified ones. */
static unsigned long osl_check(struct worker *w, int threads, EVP_PKEY *k, unsigned long *bad)
{
	unsigned long good = 0;
	uint8_t msg[MSG_LEN];
	size_t j;
	int i;

	*bad = 0;
	for (i = 0; i < threads; i++)
		for (j = 0; j < w[i].nsig; j++) {
			make_msg(w[i].thread_no, w[i].sigs[j].msg_no, msg);
			if (osl_verify(k, w[i].md, msg, w[i].sigs[j].sig, w[i].sigs[j].len))
				good++;
			else
				(*bad)++;
		}
	return good;
}

static int keygen_time(CK_SESSION_HANDLE h, const struct mech_def *md, CK_OBJECT_HANDLE *pub,
                       CK_OBJECT_HANDLE *priv, struct result *r)
{
	double t0, sum = 0;
	int i, n = o.keygen < 1 ? 1 : o.keygen;
	CK_RV rv;

	for (i = 0; i < n; i++) {
		CK_OBJECT_HANDLE a, b;

		t0 = now();
		rv = gen_pair(h, md, &a, &b);
		sum += now() - t0;
		if (rv != CKR_OK) {
			fprintf(stderr, "ukey-bench-p11: %s: C_GenerateKeyPair: 0x%lx\n", md->name, rv);
			return -1;
		}
		if (i == 0) {
			*pub = a;
			*priv = b;
			continue;
		}
		fl->C_DestroyObject(h, b);   /* the card has a bounded number of containers */
		fl->C_DestroyObject(h, a);
	}
	r->keygen_ms = sum / n * 1e3;
	r->keygen_n = n;
	return 0;
}

static int bench_mech(CK_SESSION_HANDLE h, const struct mech_def *md, struct result *r)
{
	static struct worker w[MAX_THREADS];
	uint8_t point[UK_SM2_POINT_LEN];
	CK_OBJECT_HANDLE pub = 0, priv = 0;
	EVP_PKEY *k = NULL;
	long a0, a1;
	int i, rc = -1;
	unsigned long sum = 0;

	memset(r, 0, sizeof(*r));
	if (keygen_time(h, md, &pub, &priv, r) != 0)
		return -1;
	k = public_key(h, md, pub, point);
	if (k == NULL) {
		fprintf(stderr, "ukey-bench-p11: %s: cannot read the public key\n", md->name);
		goto out;
	}
	memset(w, 0, sizeof(w));
	for (i = 0; i < o.threads; i++)
		w[i] = (struct worker){ .md = md, .priv = priv, .pub = pub, .pub_point = point,
			                .thread_no = i };
	a0 = apdus();
	if (run_phase(w, o.threads, 0, &r->sign_ops, &r->sign_p50, &r->sign_p99) != 0)
		goto out;
	a1 = apdus();
	for (i = 0; i < o.threads; i++) {
		sum += w[i].nsig;
		r->sign_fail += w[i].fail;
		if (w[i].failed_rv)
			fprintf(stderr, "ukey-bench-p11: %s: C_Sign failed: 0x%x\n", md->name,
			        w[i].failed_rv);
		w[i].nverify_src = w[i].nsig;
		w[i].fail = 0;
		w[i].failed_rv = 0;
	}
	r->apdu_per_sign = a0 >= 0 && sum > 0 ? (double)(a1 - a0) / (double)sum : -1;
	r->verified_n = osl_check(w, o.threads, k, &r->bad_n);
	r->signed_n = sum;
	/* only OpenSSL-verified signatures count toward the rate */
	r->sign_ops = sum ? r->sign_ops * (double)r->verified_n / (double)sum : 0;
	if (run_phase(w, o.threads, 1, &r->verify_ops, &r->verify_p50, &r->verify_p99) != 0)
		goto out;
	for (i = 0; i < o.threads; i++) {
		r->verify_fail += w[i].fail;
		r->verify_ok += w[i].ok;
	}
	rc = 0;
out:
	for (i = 0; i < o.threads; i++) {
		free(w[i].sigs);
		free(w[i].lat);
	}
	EVP_PKEY_free(k);
	fl->C_DestroyObject(h, priv);
	fl->C_DestroyObject(h, pub);
	return rc;
}

/* ---- APDUs per operation (ukey vendor interface only) ---- */

static void apdu_costs(CK_SESSION_HANDLE h, long init_apdus, long first_ti)
{
	CK_TOKEN_INFO ti;
	CK_OBJECT_HANDLE objs[16];
	CK_ULONG n = 0;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t = { CKA_CLASS, &cls, sizeof(cls) };
	long a;

	printf("result name=%s what=apdu op=C_Initialize n=%ld\n", o.name, init_apdus);
	printf("result name=%s what=apdu op=C_GetTokenInfo_first n=%ld\n", o.name, first_ti);
	a = apdus();
	fl->C_GetTokenInfo(the_slot, &ti);
	printf("result name=%s what=apdu op=C_GetTokenInfo n=%ld\n", o.name, apdus() - a);
	a = apdus();
	if (fl->C_FindObjectsInit(h, &t, 1) == CKR_OK) {
		fl->C_FindObjects(h, objs, 16, &n);
		fl->C_FindObjectsFinal(h);
	}
	printf("result name=%s what=apdu op=C_FindObjects n=%ld\n", o.name, apdus() - a);
}

static int login(CK_SESSION_HANDLE h)
{
	const char *pin = getenv(o.pin_env);
	long a = apdus();
	CK_RV rv;

	if (pin == NULL)
		return 0;
	rv = fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		fprintf(stderr, "ukey-bench-p11: C_Login: 0x%lx\n", rv);
		return -1;
	}
	if (ukf != NULL)
		printf("result name=%s what=apdu op=C_Login n=%ld\n", o.name, apdus() - a);
	return 0;
}

static int supports(const struct mech_def *md)
{
	CK_MECHANISM_INFO mi;

	return fl->C_GetMechanismInfo(the_slot, md->sign, &mi) == CKR_OK &&
	       (mi.flags & CKF_SIGN) != 0;
}

static void print_row(const struct mech_def *md, const struct result *r)
{
	char apdu[32] = "n/a";

	if (r->apdu_per_sign >= 0)
		snprintf(apdu, sizeof(apdu), "%.2f", r->apdu_per_sign);
	printf("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %lu | %lu | %lu | %.2f (%d) | %s |\n",
	       o.name, md->name, r->sign_ops, r->sign_p50, r->sign_p99, r->verify_ops,
	       r->verify_p50, r->verify_p99, r->signed_n, r->verified_n, r->bad_n + r->sign_fail,
	       r->keygen_ms, r->keygen_n, apdu);
	printf("result name=%s what=sign mech=%s threads=%d sign_ops=%.1f sign_p50_us=%.1f "
	       "sign_p99_us=%.1f verify_ops=%.1f verify_p50_us=%.1f verify_p99_us=%.1f signed=%lu "
	       "verified=%lu bad=%lu sign_fail=%lu verify_fail=%lu keygen_ms=%.2f apdu_per_sign=%s\n",
	       o.name, md->name, o.threads, r->sign_ops, r->sign_p50, r->sign_p99, r->verify_ops,
	       r->verify_p50, r->verify_p99, r->signed_n, r->verified_n, r->bad_n, r->sign_fail,
	       r->verify_fail, r->keygen_ms, apdu);
}

static int bench_all(void)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_TOKEN_INFO ti;
	CK_SESSION_HANDLE h;
	struct result r;
	double load = 0, init = 0;
	unsigned long slots = 0;
	long a_init, a_ti;
	int k, bad = 0;

	if (o.load_runs > 0 && measure_load(&load, &init, &slots) > 0)
		printf("result name=%s what=load runs=%d init_us=%.1f total_us=%.1f slots=%lu\n",
		       o.name, o.load_runs, init, load, slots);
	if (load_module(o.module) != 0)
		return 1;
	if (fl->C_Initialize(&args) != CKR_OK)
		return 1;
	a_init = apdus();
	if (find_slot(&ti) != 0) {
		fprintf(stderr, "ukey-bench-p11: no token found\n");
		return 1;
	}
	a_ti = apdus() - a_init;
	if (fl->C_OpenSession(the_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) !=
	    CKR_OK || login(h) != 0)
		return 1;
	if (ukf != NULL)
		apdu_costs(h, a_init, a_ti);
	printf("\n| module | mech | sign/s | sign p50 us | sign p99 us | verify/s | verify p50 us "
	       "| verify p99 us | signed | OpenSSL-verified | failed | keygen ms (n) | APDU/sign |\n"
	       "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (k = 0; k < K_COUNT; k++) {
		if (!o.want[k])
			continue;
		if (!supports(&mech_defs[k])) {
			printf("result name=%s what=sign mech=%s unsupported=1\n", o.name,
			       mech_defs[k].name);
			continue;
		}
		if (bench_mech(h, &mech_defs[k], &r) != 0) {
			bad = 1;
			continue;
		}
		print_row(&mech_defs[k], &r);
		if (r.bad_n || r.sign_fail || r.verify_fail || r.verified_n == 0)
			bad = 1;
	}
	fl->C_CloseSession(h);
	fl->C_Finalize(NULL);
	return bad;
}

/* ---- options ---- */

static int parse_mechs(const char *s)
{
	char buf[256], *tok, *save = NULL;
	int k, found;

	snprintf(buf, sizeof(buf), "%s", s);
	memset(o.want, 0, sizeof(o.want));
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		found = 0;
		for (k = 0; k < K_COUNT; k++)
			if (strcmp(tok, mech_defs[k].name) == 0)
				o.want[k] = found = 1;
		if (!found)
			return -1;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: ukey-bench-p11 --module PATH [--slot N | --token-label L] "
	                "[--pin-env VAR] [--mech sm2,sm2e,p256,rsa] [--threads T] [--seconds S] "
	                "[--keygen K] [--load-runs R] [--session-keys] [--name NAME] [--probe-load]\n");
	return 2;
}

static int parse(int argc, char **argv)
{
	int i;

	o = (struct opts){ .pin_env = "UKEY_USER_PIN", .name = "module", .slot = -1, .threads = 1,
		           .keygen = 3, .load_runs = 5, .seconds = 2 };
	if (parse_mechs("sm2,sm2e,p256,rsa") != 0)
		return -1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--session-keys") == 0)
			o.session_keys = 1;
		else if (strcmp(a, "--probe-load") == 0)
			o.probe = 1;
		else if (v == NULL)
			return -1;
		else if (strcmp(a, "--module") == 0)
			o.module = v, i++;
		else if (strcmp(a, "--slot") == 0)
			o.slot = strtol(v, NULL, 0), i++;
		else if (strcmp(a, "--token-label") == 0)
			o.label = v, i++;
		else if (strcmp(a, "--pin-env") == 0)
			o.pin_env = v, i++;
		else if (strcmp(a, "--name") == 0)
			o.name = v, i++;
		else if (strcmp(a, "--threads") == 0)
			o.threads = atoi(v), i++;
		else if (strcmp(a, "--seconds") == 0)
			o.seconds = atof(v), i++;
		else if (strcmp(a, "--keygen") == 0)
			o.keygen = atoi(v), i++;
		else if (strcmp(a, "--load-runs") == 0)
			o.load_runs = atoi(v), i++;
		else if (strcmp(a, "--mech") == 0) {
			if (parse_mechs(v) != 0)
				return -1;
			i++;
		} else
			return -1;
	}
	if (o.module == NULL || o.threads < 1 || o.threads > MAX_THREADS || o.seconds <= 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (parse(argc, argv) != 0)
		return usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.probe)
		return probe_load();
	printf("# ukey-bench-p11 %s: module %s, %d thread(s), %.1f s a phase\n", o.name, o.module,
	       o.threads, o.seconds);
	return bench_all();
}
