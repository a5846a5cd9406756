/* module_card fuzz target: the PKCS#11 module driven by a malicious card.
 *
 * The module's own sources run over a fake PC/SC layer (fake_winscard.c: one reader, a card
 * whose every answer comes from the input), through the sequence an application makes:
 * C_Initialize, C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo, C_GetMechanismList,
 * C_OpenSession, C_FindObjects over everything, C_GetAttributeValue of the attributes an
 * application reads (sizes first, then values), C_Login, C_SignInit/C_Sign and
 * C_DecryptInit/C_Decrypt with the first private keys found, C_Logout, C_CloseSession,
 * C_Finalize. Every call must return a CK_RV; the module must not crash, leak, hang or read
 * past a card's answer (LeakSanitizer runs after every input; libFuzzer's -timeout bounds
 * the time).
 *
 *   input  = flags (1 byte) , answer *          (answers: fake_winscard.c)
 *   flags  bit 0: log in as the SO instead of the user (signing must then be refused)
 *          bit 1: C_Initialize with CKF_OS_LOCKING_OK
 *          bits 2-3: the mechanism variant tried on each key (mechs below)
 *          bit 4: after login, C_GenerateKeyPair (SM2, CKM_EC_KEY_PAIR_GEN: CREATE CONTAINER
 *                 and GENERATE, whose public-key template the module parses) and
 *                 C_GenerateRandom (GET CHALLENGE) of 300 bytes
 *          bit 7: a stuck card: at the end of the script it repeats its last answer for
 *                 ever (the module must still return, libFuzzer's -timeout says if not)
 *
 * The card's answers that matter (the module's APDUs, docs/apdu.md): SELECT, GET DATA 00/01/02
 * (device, PINs, containers), GENERAL AUTHENTICATE (7C 80 SID 82 Q_card: the module checks
 * the point and derives the session keys from it), VERIFY, GENERATE 81 (public keys),
 * READ BINARY of certificates, PSO. Seeds: fuzz/apdu_log_to_seeds.py --card. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_winscard.h"
#include "uk_log.h"
#include "ukm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OBJECTS 16
#define MAX_KEYS 5

static int trace;               /* MODULE_CARD_TRACE set: how far an input gets */

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "module_card: %s\n", what);
		abort();
	}
}

/* The attributes applications read (pkcs11-tool -O, p11-kit, NSS, OpenSSL's engines). */
static const CK_ATTRIBUTE_TYPE read_attrs[] = {
	CKA_CLASS, CKA_KEY_TYPE, CKA_ID, CKA_LABEL, CKA_TOKEN, CKA_PRIVATE, CKA_VALUE,
	CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_CERTIFICATE_TYPE, CKA_CHECK_VALUE,
	CKA_PUBLIC_KEY_INFO, CKA_EC_PARAMS, CKA_EC_POINT, CKA_MODULUS, CKA_PUBLIC_EXPONENT,
	CKA_MODULUS_BITS, CKA_ALLOWED_MECHANISMS, CKA_SIGN, CKA_DECRYPT, CKA_SENSITIVE,
	CKA_ALWAYS_AUTHENTICATE, CKA_CERTIFICATE_CATEGORY, CKA_APPLICATION, CKA_OBJECT_ID,
};
#define N_ATTRS (sizeof(read_attrs) / sizeof(read_attrs[0]))

/* Each attribute alone (so one refusal does not hide the others), size then value; a
 * length the module announces must be what it then writes. */
static void read_object(CK_SESSION_HANDLE sh, CK_OBJECT_HANDLE oh)
{
	CK_ATTRIBUTE a;
	CK_ULONG want;
	size_t i;

	for (i = 0; i < N_ATTRS; i++) {
		a.type = read_attrs[i];
		a.pValue = NULL;
		a.ulValueLen = 0;
		if (C_GetAttributeValue(sh, oh, &a, 1) != CKR_OK ||
		    a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > (1u << 20))
			continue;
		want = a.ulValueLen;
		a.pValue = malloc(want ? want : 1);
		check(a.pValue != NULL, "out of memory");
		if (C_GetAttributeValue(sh, oh, &a, 1) == CKR_OK)
			check(a.ulValueLen <= want, "attribute grew between two reads");
		free(a.pValue);
	}
}

static CK_ULONG find_all(CK_SESSION_HANDLE sh, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                         CK_OBJECT_HANDLE *objs, CK_ULONG cap)
{
	CK_ULONG got = 0;

	if (C_FindObjectsInit(sh, tmpl, n) != CKR_OK)
		return 0;
	if (C_FindObjects(sh, objs, cap, &got) != CKR_OK)
		got = 0;
	C_FindObjectsFinal(sh);
	return got;
}

static CK_KEY_TYPE key_type(CK_SESSION_HANDLE sh, CK_OBJECT_HANDLE k)
{
	CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
	CK_ATTRIBUTE a = { CKA_KEY_TYPE, &kt, sizeof(kt) };

	return C_GetAttributeValue(sh, k, &a, 1) == CKR_OK ? kt : (CK_KEY_TYPE)-1;
}

/* Sign and decrypt mechanisms per key type, by variant (flags bits 2-3). */
static void mechs(CK_KEY_TYPE kt, unsigned v, CK_MECHANISM_TYPE *sign, CK_MECHANISM_TYPE *dec)
{
	static const CK_MECHANISM_TYPE ec_sign[4] = { CKM_UKEY_SM2, CKM_ECDSA, CKM_UKEY_SM2_SM3,
	                                              CKM_ECDSA_SHA256 };
	static const CK_MECHANISM_TYPE rsa_sign[4] = { CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS,
	                                               CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS };
	static const CK_MECHANISM_TYPE rsa_dec[4] = { CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP, CKM_RSA_PKCS,
	                                              CKM_RSA_PKCS_OAEP };

	*sign = kt == CKK_RSA ? rsa_sign[v & 3] : ec_sign[v & 3];
	*dec = kt == CKK_RSA ? rsa_dec[v & 3] : CKM_UKEY_SM2_ENCRYPT;
}

static void use_key(CK_SESSION_HANDLE sh, CK_OBJECT_HANDLE k, unsigned v, int so)
{
	static const CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	static const CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA_1, CKG_MGF1_SHA1, 0, NULL, 0 };
	uint8_t in[256], out[512];
	CK_MECHANISM m = { 0, NULL, 0 };
	CK_MECHANISM_TYPE sign, dec;
	CK_ULONG outlen;
	CK_RV rv;

	mechs(key_type(sh, k), v, &sign, &dec);
	memset(in, 0x5A, sizeof(in));
	in[0] = 0x00;                       /* an RSA input below the modulus */
	m.mechanism = sign;
	if (sign == CKM_RSA_PKCS_PSS) {
		m.pParameter = (void *)&pss;
		m.ulParameterLen = sizeof(pss);
	}
	if (C_SignInit(sh, &m, k) == CKR_OK) {
		outlen = sizeof(out);
		rv = C_Sign(sh, in, 32, out, &outlen);
		if (trace)
			fprintf(stderr, "module_card: C_Sign 0x%lx: 0x%lx\n", m.mechanism, rv);
		check(!so || rv != CKR_OK, "signed with only the SO logged in");
		check(rv != CKR_OK || outlen <= sizeof(out), "signature longer than its room");
	}
	m.mechanism = dec;
	m.pParameter = dec == CKM_RSA_PKCS_OAEP ? (void *)&oaep : NULL;
	m.ulParameterLen = dec == CKM_RSA_PKCS_OAEP ? sizeof(oaep) : 0;
	if (C_DecryptInit(sh, &m, k) == CKR_OK) {
		outlen = sizeof(out);
		rv = C_Decrypt(sh, in, dec == CKM_UKEY_SM2_ENCRYPT ? 120 : 256, out, &outlen);
		if (trace)
			fprintf(stderr, "module_card: C_Decrypt 0x%lx: 0x%lx\n", m.mechanism, rv);
		check(rv != CKR_OK || outlen <= sizeof(out), "plaintext longer than its room");
	}
}

/* PKCS#11 3.0 §5.14 C_GenerateKeyPair of an SM2 pair (DESIGN.md: CKK_EC with the SM2 OID),
 * and §5.15 C_GenerateRandom across two GET CHALLENGE commands. */
static void generate(CK_SESSION_HANDLE sh)
{
	static const uint8_t sm2_oid[] = { 0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82,
	                                   0x2D };
	static const char label[] = "gen";
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, (void *)sm2_oid, sizeof(sm2_oid) },
		               { CKA_LABEL, (void *)label, sizeof(label) - 1 },
		               { CKA_TOKEN, &yes, sizeof(yes) } };
	CK_ATTRIBUTE priv[] = { { CKA_LABEL, (void *)label, sizeof(label) - 1 },
		                { CKA_TOKEN, &yes, sizeof(yes) }, { CKA_SIGN, &yes, sizeof(yes) } };
	CK_OBJECT_HANDLE hpub, hpriv;
	uint8_t rnd[300];

	if (C_GenerateKeyPair(sh, &m, pub, 3, priv, 3, &hpub, &hpriv) == CKR_OK) {
		read_object(sh, hpub);
		read_object(sh, hpriv);
	}
	C_GenerateRandom(sh, rnd, sizeof(rnd));
}

static void session(CK_SLOT_ID slot, uint8_t flags)
{
	static const uint8_t user_pin[] = "user1234", so_pin[] = "admin1234";
	CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl = { CKA_CLASS, &priv, sizeof(priv) };
	CK_OBJECT_HANDLE objs[MAX_OBJECTS];
	CK_SESSION_HANDLE sh;
	CK_ULONG i, n;
	int so = flags & 1;
	CK_RV rv;

	if (C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &sh) != CKR_OK)
		return;
	n = find_all(sh, NULL, 0, objs, MAX_OBJECTS);
	for (i = 0; i < n; i++)
		read_object(sh, objs[i]);
	rv = C_Login(sh, so ? CKU_SO : CKU_USER, (CK_UTF8CHAR_PTR)(so ? so_pin : user_pin),
	             so ? sizeof(so_pin) - 1 : sizeof(user_pin) - 1);
	if (trace)
		fprintf(stderr, "module_card: %lu objects, C_Login 0x%lx\n", (unsigned long)n,
		        (unsigned long)rv);
	if (rv == CKR_OK) {
		n = find_all(sh, &tmpl, 1, objs, MAX_KEYS);
		for (i = 0; i < n; i++)
			use_key(sh, objs[i], (unsigned)(flags >> 2) & 3, so);
		if (flags & 0x10)
			generate(sh);
		C_Logout(sh);
	}
	C_CloseSession(sh);
}

static void slot_info(CK_SLOT_ID slot)
{
	CK_MECHANISM_TYPE mlist[64];
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 64;

	C_GetSlotInfo(slot, &si);
	C_GetTokenInfo(slot, &ti);
	C_GetMechanismList(slot, mlist, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CK_C_INITIALIZE_ARGS args = { NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL };
	CK_SLOT_ID slots[4];
	CK_ULONG n = 0;
	uint8_t flags;

	if (size == 0)
		return 0;
	uk_log_set_level(0);
	trace = getenv("MODULE_CARD_TRACE") != NULL;
	flags = data[0];
	fake_card_script(data + 1, size - 1, flags & 0x80);
	if (C_Initialize(flags & 2 ? &args : NULL) != CKR_OK)
		return 0;
	if (C_GetSlotList(CK_TRUE, NULL, &n) == CKR_OK && n > 0) {
		n = n < 4 ? n : 4;
		if (C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK && n > 0) {
			slot_info(slots[0]);
			session(slots[0], flags);
		}
	}
	check(C_Finalize(NULL) == CKR_OK, "C_Finalize failed");
	if (trace)
		fprintf(stderr, "module_card: %lu slots, %lu APDUs\n", (unsigned long)n,
		        fake_card_transmits());
	return 0;
}
