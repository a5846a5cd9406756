/* module_e2e_apdu_budget: the APDU cost of each PKCS#11 call of $UKEY_MODULE (inside
 * tools/ukey-sandbox, argv[1] = pcscd's -a log), read through the module's vendor interface
 * "ukey" asked for exactly 1.0 (get_apdu_count, ukey-pkcs11.h) and asserted against the budgets of
 * docs/pkcs11-profile.md "APDU budget" (DESIGN.md: C_Initialize 0, C_GetTokenInfo and
 * C_FindObjects 0 once cached, C_Sign 1, C_Login <= 2). The counter itself is proven against
 * pcscd: over the whole run it must equal the number of "APDU: " lines pcscd logged.
 * Signatures are checked by C_Verify (no APDU) and, for ECDSA and RSA, by OpenSSL from the
 * key's CKA_PUBLIC_KEY_INFO. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "ukey-pkcs11-3.h"
#include "uk_test.h"

static CK_FUNCTION_LIST_PTR fl;
static CK_UKEY_FUNCTION_LIST *uk;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE h;
static const char *apdu_log;
static CK_ULONG mark;

static const uint8_t p256_oid[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };
static const char msg[] = "APDU budget: one command per signature";

struct key {
	const char *label;
	CK_OBJECT_HANDLE pub, priv;
	EVP_PKEY *pk;
};

static CK_ULONG count_total(void)
{
	CK_ULONG n = 0;

	UK_CHECK_EQ(uk->get_apdu_count(UKEY_ALL_SLOTS, &n), CKR_OK);
	return n;
}

/* APDUs since the previous call (also starts the next measurement). */
static CK_ULONG spent(const char *what)
{
	CK_ULONG now = count_total(), d = now - mark;

	printf("  %-40s %lu APDU\n", what, d);
	mark = now;
	return d;
}

static long log_apdus(void)
{
	FILE *f = fopen(apdu_log, "r");
	char line[8192];
	long n = 0;

	UK_CHECK(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "APDU: ") != NULL)
			n++;
	fclose(f);
	return n;
}

/* pcscd writes its log line before answering; still, allow it a moment to reach the file. */
static long log_apdus_settled(long want)
{
	struct timespec ts = { 0, 50 * 1000000L };
	long n = log_apdus();
	int i;

	for (i = 0; i < 40 && n != want; i++) {
		nanosleep(&ts, NULL);
		n = log_apdus();
	}
	return n;
}

static void load_module(const char *path)
{
	CK_VERSION v = { 1, 0 };        /* get_apdu_count only: 1.0 callers keep working */
	CK_C_GetInterface get_iface;
	CK_C_GetFunctionList get;
	CK_INTERFACE_PTR i = NULL;
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	UK_CHECK(dl != NULL);
	get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	*(void **)&get_iface = dlsym(dl, "C_GetInterface");
	UK_CHECK(get != NULL && get_iface != NULL && get(&fl) == CKR_OK);
	UK_CHECK_EQ(get_iface((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, &v, &i, 0), CKR_OK);
	uk = i->pFunctionList;
	UK_CHECK(uk->version.major == 1 && uk->version.minor == 0);
}

/* C_Initialize, the slot list and the slot info: no card I/O at all. The first
 * C_GetTokenInfo reads the card, the second answers from the cache. */
static void test_cold(void)
{
	CK_SLOT_ID slots[4];
	CK_ULONG n = 0;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_ULONG cold;

	UK_CHECK_EQ(count_total(), 0);
	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(spent("C_Initialize"), 0);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
	UK_CHECK(n >= 1);
	n = 4;
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	slot = slots[0];
	UK_CHECK_EQ(spent("C_GetSlotList"), 0);
	UK_CHECK_EQ(fl->C_GetSlotInfo(slot, &si), CKR_OK);
	UK_CHECK(si.flags & CKF_TOKEN_PRESENT);
	/* The slot description shows the full 20-digit serial (docs/pkcs11-profile.md): SELECT
	 * and GET DATA 00 once per card. */
	UK_CHECK(spent("C_GetSlotInfo (cold)") <= 2);
	UK_CHECK_EQ(fl->C_GetSlotInfo(slot, &si), CKR_OK);
	UK_CHECK_EQ(spent("C_GetSlotInfo (warm)"), 0);
	UK_CHECK_EQ(fl->C_GetTokenInfo(slot, &ti), CKR_OK);
	cold = spent("C_GetTokenInfo (cold)");
	UK_CHECK(cold > 0 && cold <= 4);   /* SELECT + GET DATA 01, 02, 01 03 */
	UK_CHECK_EQ(fl->C_GetTokenInfo(slot, &ti), CKR_OK);
	UK_CHECK_EQ(spent("C_GetTokenInfo (warm)"), 0);
	UK_CHECK_EQ(fl->C_GetSlotInfo(slot, &si), CKR_OK);
	UK_CHECK_EQ(spent("C_GetSlotInfo (warm)"), 0);
}

/* Finds objects of a class (and label when given); returns how many. */
static CK_ULONG find(CK_OBJECT_CLASS cls, const char *label, CK_OBJECT_HANDLE *out)
{
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
		             { CKA_LABEL, (void *)label, label ? strlen(label) : 0 } };
	CK_OBJECT_HANDLE found[64];
	CK_ULONG n = 0;

	UK_CHECK_EQ(fl->C_FindObjectsInit(h, t, label ? 2 : 1), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjects(h, found, 64, &n), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjectsFinal(h), CKR_OK);
	if (out != NULL && n > 0)
		*out = found[0];
	return n;
}

static void load_spki(struct key *k)
{
	uint8_t buf[1024];
	const uint8_t *p = buf;
	CK_ATTRIBUTE a = { CKA_PUBLIC_KEY_INFO, buf, sizeof(buf) };

	UK_CHECK_EQ(fl->C_GetAttributeValue(h, k->pub, &a, 1), CKR_OK);
	k->pk = d2i_PUBKEY(NULL, &p, (long)a.ulValueLen);
	UK_CHECK(k->pk != NULL);
}

/* C_GenerateKeyPair writes the card; the object list is then refreshed at a bounded cost
 * (one GET DATA 02 at most) and the new pair is found; after that, finding is free again. */
static void generate(CK_MECHANISM_TYPE mt, CK_ATTRIBUTE *pubt, CK_ULONG np, struct key *k)
{
	CK_MECHANISM m = { mt, NULL, 0 };
	CK_BBOOL t = CK_TRUE;
	CK_ATTRIBUTE privt[] = { { CKA_SIGN, &t, 1 }, { CKA_TOKEN, &t, 1 } };
	CK_OBJECT_HANDLE pub = 0, priv = 0;
	char what[64];
	CK_ULONG gen, refresh;

	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, pubt, np, privt, 2, &k->pub, &k->priv), CKR_OK);
	snprintf(what, sizeof(what), "C_GenerateKeyPair %s", k->label);
	gen = spent(what);
	UK_CHECK_EQ(find(CKO_PUBLIC_KEY, k->label, &pub), 1);
	UK_CHECK_EQ(find(CKO_PRIVATE_KEY, k->label, &priv), 1);
	UK_CHECK(pub == k->pub && priv == k->priv);
	refresh = spent("  find the new pair (after a write)");
	/* CREATE CONTAINER, GENERATE ASYMMETRIC KEY PAIR, one GET DATA 02 for the new list,
	 * wherever the module issues it (in C_GenerateKeyPair or the next C_FindObjects). */
	UK_CHECK(refresh <= 1 && gen + refresh <= 3);
	UK_CHECK_EQ(find(CKO_PUBLIC_KEY, k->label, NULL), 1);
	UK_CHECK_EQ(spent("  find it again (warm)"), 0);
}

static void generate_keys(struct key *sm2, struct key *ec, struct key *rsa)
{
	CK_ULONG bits = 2048;
	uint8_t e[] = { 1, 0, 1 };
	CK_ATTRIBUTE sm2t[] = { { CKA_EC_PARAMS, (void *)UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN },
		                { CKA_LABEL, (void *)sm2->label, strlen(sm2->label) } };
	CK_ATTRIBUTE ect[] = { { CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid) },
		               { CKA_LABEL, (void *)ec->label, strlen(ec->label) } };
	CK_ATTRIBUTE rsat[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) },
		                { CKA_PUBLIC_EXPONENT, e, sizeof(e) },
		                { CKA_LABEL, (void *)rsa->label, strlen(rsa->label) } };

	generate(CKM_EC_KEY_PAIR_GEN, sm2t, 2, sm2);
	generate(CKM_EC_KEY_PAIR_GEN, ect, 2, ec);
	generate(CKM_RSA_PKCS_KEY_PAIR_GEN, rsat, 3, rsa);
}

/* Reading the keys' public attributes answers from the cache. */
static void test_attributes(struct key *keys, size_t n)
{
	uint8_t id[64], label[64], point[128], mod[512];
	CK_KEY_TYPE kt;
	CK_BBOOL sign;
	size_t i;

	for (i = 0; i < n; i++) {
		CK_ATTRIBUTE a[] = { { CKA_KEY_TYPE, &kt, sizeof(kt) }, { CKA_ID, id, sizeof(id) },
			             { CKA_LABEL, label, sizeof(label) } };
		CK_ATTRIBUTE s = { CKA_SIGN, &sign, sizeof(sign) };
		CK_ATTRIBUTE v;

		UK_CHECK_EQ(fl->C_GetAttributeValue(h, keys[i].pub, a, 3), CKR_OK);
		UK_CHECK(a[2].ulValueLen == strlen(keys[i].label) &&
		         memcmp(label, keys[i].label, a[2].ulValueLen) == 0);
		v.type = kt == CKK_RSA ? CKA_MODULUS : CKA_EC_POINT;
		v.pValue = kt == CKK_RSA ? (void *)mod : (void *)point;
		v.ulValueLen = kt == CKK_RSA ? sizeof(mod) : sizeof(point);
		UK_CHECK_EQ(fl->C_GetAttributeValue(h, keys[i].pub, &v, 1), CKR_OK);
		UK_CHECK_EQ(fl->C_GetAttributeValue(h, keys[i].priv, &s, 1), CKR_OK);
		UK_CHECK(sign == CK_TRUE);
		load_spki(&keys[i]);
	}
	UK_CHECK_EQ(spent("C_GetAttributeValue (all keys)"), 0);
}

/* OpenSSL's check of an ECDSA P-256 r || s over the hash, or of an RSA PKCS#1 v1.5
 * signature over DigestInfo-less raw data (what CKM_RSA_PKCS signs). */
static void openssl_check(const struct key *k, CK_MECHANISM_TYPE mt, const uint8_t *in,
                          size_t n, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k->pk, NULL);
	uint8_t der[80], *p = der;
	ECDSA_SIG *es = NULL;
	int dl = 0;

	UK_CHECK(c != NULL && EVP_PKEY_verify_init(c) == 1);
	if (mt == CKM_ECDSA) {
		UK_CHECK(sig_len == 64 && (es = ECDSA_SIG_new()) != NULL);
		UK_CHECK(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)));
		dl = i2d_ECDSA_SIG(es, &p);
		UK_CHECK(dl > 0);
		UK_CHECK_EQ(EVP_PKEY_verify(c, der, (size_t)dl, in, n), 1);
	} else {
		UK_CHECK(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1);
		UK_CHECK_EQ(EVP_PKEY_verify(c, sig, sig_len, in, n), 1);
	}
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(c);
}

/* C_Sign is exactly one APDU (C_SignInit none); C_Verify none. */
static void sign_verify(const struct key *k, CK_MECHANISM_TYPE mt, const uint8_t *in, size_t n,
                        const char *name)
{
	CK_MECHANISM m = { mt, NULL, 0 };
	uint8_t sig[256];
	CK_ULONG len = sizeof(sig);
	char what[64];

	UK_CHECK_EQ(fl->C_SignInit(h, &m, k->priv), CKR_OK);
	snprintf(what, sizeof(what), "C_SignInit %s", name);
	UK_CHECK_EQ(spent(what), 0);
	UK_CHECK_EQ(fl->C_Sign(h, (CK_BYTE_PTR)in, n, sig, &len), CKR_OK);
	snprintf(what, sizeof(what), "C_Sign %s", name);
	UK_CHECK_EQ(spent(what), 1);
	UK_CHECK_EQ(fl->C_VerifyInit(h, &m, k->pub), CKR_OK);
	UK_CHECK_EQ(fl->C_Verify(h, (CK_BYTE_PTR)in, n, sig, len), CKR_OK);
	snprintf(what, sizeof(what), "C_VerifyInit + C_Verify %s", name);
	UK_CHECK_EQ(spent(what), 0);
	if (mt == CKM_ECDSA || mt == CKM_RSA_PKCS)
		openssl_check(k, mt, in, n, sig, len);
}

static void test_sign(const struct key *sm2, const struct key *ec, const struct key *rsa)
{
	uint8_t e[32];
	unsigned el = 0;

	UK_CHECK(EVP_Digest(msg, strlen(msg), e, &el, EVP_sha256(), NULL) == 1 && el == 32);
	/* CKM_UKEY_SM2 signs a 32-byte e as given (any 32 bytes will do for the count). */
	sign_verify(sm2, CKM_UKEY_SM2, e, sizeof(e), "CKM_UKEY_SM2");
	sign_verify(sm2, CKM_UKEY_SM2_SM3, (const uint8_t *)msg, strlen(msg), "CKM_UKEY_SM2_SM3");
	sign_verify(ec, CKM_ECDSA, e, sizeof(e), "CKM_ECDSA (P-256)");
	sign_verify(rsa, CKM_RSA_PKCS, (const uint8_t *)msg, strlen(msg), "CKM_RSA_PKCS");
}

static void test_digest(void)
{
	CK_MECHANISM_TYPE mt[] = { CKM_UKEY_SM3, CKM_SHA256 };
	uint8_t out[64], ref[64];
	unsigned rl = 0;
	CK_ULONG len;
	size_t i;

	for (i = 0; i < sizeof(mt) / sizeof(mt[0]); i++) {
		CK_MECHANISM m = { mt[i], NULL, 0 };

		len = sizeof(out);
		UK_CHECK_EQ(fl->C_DigestInit(h, &m), CKR_OK);
		UK_CHECK_EQ(fl->C_Digest(h, (CK_BYTE_PTR)msg, strlen(msg), out, &len), CKR_OK);
		UK_CHECK(EVP_Digest(msg, strlen(msg), ref, &rl,
		                    EVP_get_digestbyname(i == 0 ? "SM3" : "SHA256"), NULL) == 1);
		UK_CHECK(len == rl && memcmp(out, ref, rl) == 0);
	}
	UK_CHECK_EQ(spent("C_Digest (SM3, SHA-256)"), 0);
}

static void test_session(const char *pin, struct key *keys)
{
	CK_ULONG n;

	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	            CKR_OK);
	UK_CHECK_EQ(spent("C_OpenSession"), 0);
	n = find(CKO_PUBLIC_KEY, NULL, NULL);
	UK_CHECK_EQ(spent("C_FindObjects* (public keys, warm)"), 0);
	printf("  (%lu public keys before)\n", n);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
	UK_CHECK(spent("C_Login") <= 2);
	find(CKO_PRIVATE_KEY, NULL, NULL);
	UK_CHECK_EQ(spent("C_FindObjects* (private keys, logged in)"), 0);
	generate_keys(&keys[0], &keys[1], &keys[2]);
	test_attributes(keys, 3);
	test_sign(&keys[0], &keys[1], &keys[2]);
	test_digest();
	UK_CHECK_EQ(fl->C_Logout(h), CKR_OK);
	UK_CHECK(spent("C_Logout") <= 1);
	UK_CHECK_EQ(find(CKO_PRIVATE_KEY, NULL, NULL), 0);
	UK_CHECK_EQ(find(CKO_PUBLIC_KEY, NULL, NULL), n + 3);
	UK_CHECK_EQ(spent("C_FindObjects* (logged out)"), 0);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
	spent("C_CloseSession");
}

int main(int argc, char **argv)
{
	const char *path = getenv("UKEY_MODULE"), *pin = getenv("UKEY_USER_PIN");
	struct key keys[3] = { { "budget-sm2", 0, 0, NULL }, { "budget-p256", 0, 0, NULL },
		               { "budget-rsa", 0, 0, NULL } };
	CK_ULONG per_slot = 0, total;
	long log0, log1;
	size_t i;

	if (path == NULL || pin == NULL || argc < 2)
		return uk_test_skip("run inside tools/ukey-sandbox with an APDU log (e2e_mech.sh)");
	apdu_log = argv[1];
	load_module(path);
	log0 = log_apdus();
	test_cold();
	test_session(pin, keys);
	UK_CHECK_EQ(uk->get_apdu_count(slot, &per_slot), CKR_OK);
	/* One key: every APDU went to this slot. */
	UK_CHECK_EQ(per_slot, count_total());
	UK_CHECK_EQ(uk->get_apdu_count(slot + 100, &total), CKR_SLOT_ID_INVALID);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	spent("C_Finalize");
	total = count_total();
	/* The counter against pcscd's own log of the same run. */
	log1 = log_apdus_settled(log0 + (long)total);
	printf("  counter %lu APDUs (slot %lu: %lu), pcscd logged %ld\n", total, slot, per_slot,
	       log1 - log0);
	UK_CHECK(log1 - log0 > 0);
	UK_CHECK_EQ(log1 - log0, total);
	for (i = 0; i < 3; i++)
		EVP_PKEY_free(keys[i].pk);
	return uk_test_done("module_e2e_apdu_budget");
}
