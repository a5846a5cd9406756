/* ukey-tool: containers, key pairs and certificates (docs/ukey-tool.md "Commands").
 *
 * The module's model (docs/pkcs11-profile.md "Objects"): a container is the CKA_LABEL of its
 * key objects; a pair signs (CKA_SIGN / CKA_VERIFY) or decrypts (CKA_DECRYPT / CKA_ENCRYPT);
 * CKA_ID is the SHA-1 of the public key and binds a certificate to its pair; destroying the
 * only pair of a container deletes the container. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "uk_crypto.h"
#include "ukey-tool-keys.h"

#define UT_SIG_MAX 512
#define UT_BLOB_LEN 388         /* GM/T 0016 ENVELOPEDKEYBLOB with an SM2 key */

static const uint8_t p256_params[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01,
	                               0x07 };

static const char *const usage_names[] = { "sign", "enc" };
static const char *const usage_words[] = { "signing", "encryption" };
static const char *const alg_names[] = { [UT_ALG_SM2] = "sm2", [UT_ALG_P256] = "p256",
	                                 [UT_ALG_RSA] = "rsa2048", [UT_ALG_OTHER] = "other" };

const char *ut_usage_name(enum ut_usage u) { return usage_names[u]; }
const char *ut_usage_word(enum ut_usage u) { return usage_words[u]; }
const char *ut_alg_name(enum ut_alg a) { return alg_names[a]; }

/* ---- files ("-" is stdin / stdout) ------------------------------------------------------ */

int ut_read_file(struct ut *t, const char *path, size_t max, unsigned char **data, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rbe");
	unsigned char *buf = NULL;
	size_t n = 0;
	int rc = UT_EXIT_FAILED;

	if (f == NULL)
		return ut_error(t, UT_EXIT_FAILED, "failed", "cannot open %s: %s", path,
		                strerror(errno));
	buf = malloc(max + 1);
	if (buf == NULL) {
		rc = ut_error(t, UT_EXIT_FAILED, "failed", "out of memory");
		goto out;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		rc = ut_error(t, UT_EXIT_FAILED, "failed", "%s: unreadable or larger than %zu "
		              "bytes", path, max);
		goto out;
	}
	*data = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

int ut_write_file(struct ut *t, const char *path, const void *data, size_t len)
{
	int to_stdout = strcmp(path, "-") == 0;
	FILE *f = to_stdout ? stdout : fopen(path, "wbe");
	int ok;

	if (f == NULL)
		return ut_error(t, UT_EXIT_FAILED, "failed", "cannot create %s: %s", path,
		                strerror(errno));
	ok = fwrite(data, 1, len, f) == len;
	if (to_stdout)
		ok = fflush(f) == 0 && ok;
	else if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : ut_error(t, UT_EXIT_FAILED, "failed", "cannot write %s", path);
}

/* ---- options ------------------------------------------------------------------------------ */

int ut_opt_usage(struct ut *t, enum ut_usage *u)
{
	*u = UT_USAGE_SIGN;
	if (t->o.usage == NULL || strcmp(t->o.usage, "sign") == 0)
		return 0;
	if (strcmp(t->o.usage, "enc") == 0) {
		*u = UT_USAGE_ENC;
		return 0;
	}
	return ut_usage_error(t, "--usage is sign or enc");
}

static int opt_alg(struct ut *t, enum ut_alg *a)
{
	static const char *const names[] = { "sm2", "p256", "rsa2048" };

	*a = UT_ALG_SM2;
	for (int i = 0; i < 3; i++)
		if (t->o.alg == NULL || strcmp(t->o.alg, names[i]) == 0) {
			*a = (enum ut_alg)i;
			return 0;
		}
	return ut_usage_error(t, "--alg is sm2, p256 or rsa2048");
}

/* ---- finding pairs -------------------------------------------------------------------------- */

enum ut_alg ut_key_alg(struct ut *t, CK_OBJECT_HANDLE obj)
{
	CK_KEY_TYPE kt = 0;
	uint8_t params[64];
	long n;

	if (ut_attr(t, obj, CKA_KEY_TYPE, &kt, sizeof(kt)) < 0)
		return UT_ALG_OTHER;
	if (kt == CKK_RSA)
		return UT_ALG_RSA;
	if (kt != CKK_EC)
		return UT_ALG_OTHER;
	n = ut_attr(t, obj, CKA_EC_PARAMS, params, sizeof(params));
	if (n == UKEY_SM2_EC_PARAMS_LEN && memcmp(params, UKEY_SM2_EC_PARAMS, (size_t)n) == 0)
		return UT_ALG_SM2;
	if (n == (long)sizeof(p256_params) && memcmp(params, p256_params, (size_t)n) == 0)
		return UT_ALG_P256;
	return UT_ALG_OTHER;
}

/* Key objects of class cls in container label with usage u; count of them (0 or 1). */
static int find_key(struct ut *t, const char *label, CK_OBJECT_CLASS cls, enum ut_usage u,
                    CK_OBJECT_HANDLE *obj, size_t *count)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE_TYPE flag = cls == CKO_PUBLIC_KEY ? (u == UT_USAGE_SIGN ? CKA_VERIFY :
	                                                  CKA_ENCRYPT)
	                                               : (u == UT_USAGE_SIGN ? CKA_SIGN :
	                                                  CKA_DECRYPT);
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ flag, &yes, sizeof(yes) },
	};

	return ut_find(t, tmpl, 3, obj, 1, count);
}

int ut_container_exists(struct ut *t, const char *label, int *exists)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE obj;
	size_t n = 0;
	int rc = ut_find(t, tmpl, 2, &obj, 1, &n);

	*exists = n > 0;
	return rc;
}

static int not_found_container(struct ut *t, const char *label)
{
	return ut_error(t, UT_EXIT_NOT_FOUND, "not-found", "no container \"%s\" on the key", label);
}

/* The pair of usage u in container label: public key, its CKA_ID and algorithm; with
 * want_priv (logged in) the private key too. Not found: exit 7 with the message. */
int ut_find_pair(struct ut *t, const char *label, enum ut_usage u, int want_priv,
                 struct ut_pair *p)
{
	size_t n = 0;
	long idl;
	int rc, exists;

	memset(p, 0, sizeof(*p));
	p->usage = u;
	if ((rc = find_key(t, label, CKO_PUBLIC_KEY, u, &p->pub, &n)) != 0)
		return rc;
	if (n == 0) {
		if ((rc = ut_container_exists(t, label, &exists)) != 0)
			return rc;
		if (!exists)
			return not_found_container(t, label);
		return ut_error(t, UT_EXIT_NOT_FOUND, "not-found",
		                "no %s key pair in container \"%s\"", usage_words[u], label);
	}
	idl = ut_attr(t, p->pub, CKA_ID, p->id, sizeof(p->id));
	p->idlen = idl > 0 ? (size_t)idl : 0;
	p->alg = ut_key_alg(t, p->pub);
	if (!want_priv)
		return 0;
	if ((rc = find_key(t, label, CKO_PRIVATE_KEY, u, &p->priv, &n)) != 0)
		return rc;
	if (n == 0)
		return ut_error(t, UT_EXIT_NOT_FOUND, "not-found", "no %s private key in container "
		                "\"%s\"", usage_words[u], label);
	return 0;
}

/* The certificate bound to pair p (same CKA_ID). */
int ut_find_cert(struct ut *t, const char *label, const struct ut_pair *p,
                 CK_OBJECT_HANDLE *cert)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, (void *)p->id, p->idlen },
	};
	size_t n = 0;
	int rc = ut_find(t, tmpl, 2, cert, 1, &n);

	if (rc == 0 && n == 0)
		rc = ut_error(t, UT_EXIT_NOT_FOUND, "not-found", "no certificate for the %s key pair "
		              "of container \"%s\"", usage_words[p->usage], label);
	return rc;
}

/* An attribute of any length (CKA_VALUE of a certificate or data file), malloc'd. */
int ut_attr_alloc(struct ut *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                  unsigned char **val, size_t *len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv;

	*val = NULL;
	rv = t->p11->C_GetAttributeValue(t->session, obj, &a, 1);
	if (rv != CKR_OK)
		return ut_rv(t, "C_GetAttributeValue", rv);
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > UT_FILE_MAX)
		return ut_error(t, UT_EXIT_FAILED, "failed", "the object's value is unreadable");
	a.pValue = *val = malloc(a.ulValueLen + 1);
	if (*val == NULL)
		return ut_error(t, UT_EXIT_FAILED, "failed", "out of memory");
	rv = t->p11->C_GetAttributeValue(t->session, obj, &a, 1);
	if (rv != CKR_OK) {
		free(*val);
		*val = NULL;
		return ut_rv(t, "C_GetAttributeValue", rv);
	}
	*len = a.ulValueLen;
	return 0;
}

/* ---- keygen, containers create/delete --------------------------------------------------- */

/* PKCS#11 3.0 §5.14 C_GenerateKeyPair: CKM_EC_KEY_PAIR_GEN with the SM2 or P-256 parameters,
 * or CKM_RSA_PKCS_KEY_PAIR_GEN with 2048 bits; the module creates container label if absent
 * and makes the pair sign or decrypt by CKA_SIGN / CKA_DECRYPT. */
static int generate(struct ut *t, const char *label, enum ut_alg alg, enum ut_usage u)
{
	CK_MECHANISM mech = { alg == UT_ALG_RSA ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN,
		              NULL, 0 };
	CK_BBOOL yes = CK_TRUE;
	CK_ULONG bits = 2048;
	CK_BYTE e[] = { 0x01, 0x00, 0x01 };
	CK_ULONG ll = strlen(label);
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, ll },
		{ u == UT_USAGE_SIGN ? CKA_VERIFY : CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, (void *)UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN },
		{ CKA_PUBLIC_EXPONENT, e, sizeof(e) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, ll },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ u == UT_USAGE_SIGN ? CKA_SIGN : CKA_DECRYPT, &yes, sizeof(yes) },
	};
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_ULONG npub = 4;
	struct ut_pair p;
	char id[2 * UT_ID_MAX + 1];
	CK_RV rv;
	int rc;

	if (alg == UT_ALG_P256) {
		pub[3].pValue = (void *)p256_params;
		pub[3].ulValueLen = sizeof(p256_params);
	} else if (alg == UT_ALG_RSA) {
		pub[3] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits, sizeof(bits) };
		npub = 5;
	}
	rv = t->p11->C_GenerateKeyPair(t->session, &mech, pub, npub, priv, 5, &hpub, &hpriv);
	if (rv != CKR_OK)
		return ut_rv(t, "C_GenerateKeyPair", rv);
	if ((rc = ut_find_pair(t, label, u, 0, &p)) != 0)
		return rc;
	ut_hex(p.id, p.idlen, id, sizeof(id), 0);
	ut_printf(t, "generated a %s %s key pair in container \"%s\" (ID %s)\n", alg_names[alg],
	          usage_words[u], label, id);
	ut_json_open(t, NULL);
	ut_json_str(t, "container", label);
	ut_json_str(t, "usage", usage_names[u]);
	ut_json_str(t, "algorithm", alg_names[alg]);
	ut_json_str(t, "id", id);
	ut_json_close(t);
	return 0;
}

static int keygen_in(struct ut *t, const char *label, enum ut_usage u, int new_container)
{
	struct ut_pair p;
	enum ut_alg alg;
	size_t n = 0;
	int rc, exists;

	if ((rc = opt_alg(t, &alg)) != 0)
		return rc;
	if (strlen(label) == 0 || strlen(label) > 64)
		return ut_usage_error(t, "a container name has 1 to 64 bytes");
	if ((rc = ut_open(t, 1)) != 0 || (rc = ut_login(t, CKU_USER, 1)) != 0)
		return rc;
	if ((rc = ut_container_exists(t, label, &exists)) != 0)
		return rc;
	if (new_container && exists)
		return ut_error(t, UT_EXIT_FAILED, "failed", "container \"%s\" exists already",
		                label);
	if (exists && (rc = find_key(t, label, CKO_PUBLIC_KEY, u, &p.pub, &n)) != 0)
		return rc;
	if (n > 0)
		return ut_error(t, UT_EXIT_FAILED, "failed", "container \"%s\" has a %s key pair "
		                "already", label, usage_words[u]);
	return generate(t, label, alg, u);
}

int cmd_keygen(struct ut *t)
{
	enum ut_usage u;
	int rc = ut_opt_usage(t, &u);

	return rc != 0 ? rc : keygen_in(t, t->o.label, u, 0);
}

int cmd_containers_create(struct ut *t)
{
	return keygen_in(t, t->o.args[0], UT_USAGE_SIGN, 1);
}

/* C_DestroyObject (§5.7.3) of a public key: DELETE CONTAINER when its pair is the container's
 * only one. GM/T 0016 cannot delete one pair of two: the module answers
 * CKR_ACTION_PROHIBITED, explained here. */
static int destroy_pair(struct ut *t, const char *label, const struct ut_pair *p)
{
	CK_RV rv = t->p11->C_DestroyObject(t->session, p->pub);

	if (rv == CKR_ACTION_PROHIBITED)
		return ut_error(t, UT_EXIT_FAILED, "failed", "C_DestroyObject failed: "
		                "CKR_ACTION_PROHIBITED (container \"%s\" holds two key pairs and the "
		                "key deletes a container only whole, with its last pair; use "
		                "ukey-tool init to erase it)", label);
	return rv == CKR_OK ? 0 : ut_rv(t, "C_DestroyObject", rv);
}

static int confirm_login(struct ut *t, const char *what)
{
	char q[200];
	int rc;

	if ((rc = ut_choose_key(t)) != 0)
		return rc;
	snprintf(q, sizeof(q), "delete %s from key %s", what, t->key.serial);
	if ((rc = ut_confirm(t, q)) != 0 || (rc = ut_open(t, 1)) != 0)
		return rc;
	return ut_login(t, CKU_USER, 1);
}

int cmd_containers_delete(struct ut *t)
{
	const char *label = t->o.args[0];
	struct ut_pair p;
	char what[120];
	size_t n = 0;
	int rc;

	memset(&p, 0, sizeof(p));
	snprintf(what, sizeof(what), "container \"%s\"", label);
	if ((rc = confirm_login(t, what)) != 0 ||
	    (rc = find_key(t, label, CKO_PUBLIC_KEY, UT_USAGE_SIGN, &p.pub, &n)) != 0)
		return rc;
	if (n == 0 && (rc = find_key(t, label, CKO_PUBLIC_KEY, UT_USAGE_ENC, &p.pub, &n)) != 0)
		return rc;
	if (n == 0)
		return not_found_container(t, label);
	if ((rc = destroy_pair(t, label, &p)) != 0)
		return rc;
	ut_printf(t, "container \"%s\" deleted\n", label);
	ut_json_open(t, NULL);
	ut_json_str(t, "container", label);
	ut_json_bool(t, "deleted", 1);
	ut_json_close(t);
	return 0;
}

/* delete --label NAME [--usage] [--cert-only]: one pair (its certificate goes with it), or
 * its certificate only (DELETE FILE). */
int cmd_delete(struct ut *t)
{
	CK_OBJECT_HANDLE cert;
	struct ut_pair p;
	enum ut_usage u;
	char what[160];
	CK_RV rv;
	int rc;

	if ((rc = ut_opt_usage(t, &u)) != 0)
		return rc;
	snprintf(what, sizeof(what), "the %s %s of container \"%s\"", usage_words[u],
	         t->o.cert_only ? "certificate" : "key pair", t->o.label);
	if ((rc = confirm_login(t, what)) != 0 || (rc = ut_find_pair(t, t->o.label, u, 0, &p)))
		return rc;
	if (t->o.cert_only) {
		if ((rc = ut_find_cert(t, t->o.label, &p, &cert)) != 0)
			return rc;
		rv = t->p11->C_DestroyObject(t->session, cert);
		if (rv != CKR_OK)
			return ut_rv(t, "C_DestroyObject", rv);
	} else if ((rc = destroy_pair(t, t->o.label, &p)) != 0) {
		return rc;
	}
	ut_printf(t, "deleted %s\n", what);
	ut_json_open(t, NULL);
	ut_json_str(t, "container", t->o.label);
	ut_json_str(t, "usage", usage_names[u]);
	ut_json_str(t, "deleted", t->o.cert_only ? "certificate" : "pair");
	ut_json_close(t);
	return 0;
}

/* ---- public key, signatures ------------------------------------------------------------- */

/* The key from CKA_PUBLIC_KEY_INFO (SubjectPublicKeyInfo DER). */
EVP_PKEY *ut_pubkey_load(struct ut *t, CK_OBJECT_HANDLE obj)
{
	uint8_t buf[UT_ATTR_MAX];
	const unsigned char *p = buf;
	long n = ut_attr(t, obj, CKA_PUBLIC_KEY_INFO, buf, sizeof(buf));
	EVP_PKEY *k = n > 0 ? d2i_PUBKEY(NULL, &p, n) : NULL;

	if (k == NULL)
		ut_error(t, UT_EXIT_FAILED, "failed", "cannot decode the public key");
	return k;
}

int cmd_pubkey(struct ut *t)
{
	struct ut_pair p;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *pem = NULL;
	enum ut_usage u;
	long n;
	int rc;

	if ((rc = ut_opt_usage(t, &u)) != 0 || (rc = ut_open(t, 0)) != 0 ||
	    (rc = ut_find_pair(t, t->o.label, u, 0, &p)) != 0)
		return rc;
	rc = UT_EXIT_FAILED;
	if ((pkey = ut_pubkey_load(t, p.pub)) == NULL)
		goto out;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1 ||
	    (n = BIO_get_mem_data(bio, &pem)) <= 0) {
		rc = ut_error(t, UT_EXIT_FAILED, "failed", "cannot encode the public key");
		goto out;
	}
	ut_json_open(t, NULL);
	ut_json_str(t, "container", t->o.label);
	ut_json_str(t, "usage", usage_names[u]);
	ut_json_str(t, "algorithm", alg_names[p.alg]);
	if (strcmp(t->o.out, "-") == 0 && t->o.json) {
		ut_json_strn(t, "pem", pem, (size_t)n);
	} else {
		ut_json_str(t, "out", t->o.out);
		if ((rc = ut_write_file(t, t->o.out, pem, (size_t)n)) != 0)
			goto out;
	}
	ut_json_close(t);
	if (strcmp(t->o.out, "-") != 0)
		ut_printf(t, "public key of \"%s\" written to %s\n", t->o.label, t->o.out);
	rc = 0;
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return rc;
}

/* C_Sign (§5.13.2) on the card: SM2 with SM3 and the default user ID (CKM_UKEY_SM2_SM3, no
 * parameter), ECDSA-SHA256 or SHA256-RSA-PKCS. The EC signatures come as r || s and are
 * written as the DER ECDSA-Sig-Value (GM/T 0009 §7.3, RFC 3279 §2.2.3) that OpenSSL
 * verifies; an RSA signature is the raw block. */
int ut_sign(struct ut *t, const struct ut_pair *p, const unsigned char *msg, size_t len,
            uint8_t *sig, size_t *siglen)
{
	CK_MECHANISM mech = { CKM_UKEY_SM2_SM3, NULL, 0 };
	CK_BYTE raw[UT_SIG_MAX];
	CK_ULONG rawlen = sizeof(raw);
	CK_RV rv;

	if (p->alg == UT_ALG_P256)
		mech.mechanism = CKM_ECDSA_SHA256;
	else if (p->alg == UT_ALG_RSA)
		mech.mechanism = CKM_SHA256_RSA_PKCS;
	else if (p->alg != UT_ALG_SM2)
		return ut_error(t, UT_EXIT_FAILED, "failed", "unsupported key type");
	rv = t->p11->C_SignInit(t->session, &mech, p->priv);
	if (rv == CKR_OK)
		rv = t->p11->C_Sign(t->session, (CK_BYTE_PTR)msg, (CK_ULONG)len, raw, &rawlen);
	if (rv != CKR_OK)
		return ut_rv(t, "C_Sign", rv);
	if (p->alg == UT_ALG_RSA) {
		if (rawlen > *siglen)
			return ut_error(t, UT_EXIT_FAILED, "failed", "signature too long");
		memcpy(sig, raw, rawlen);
		*siglen = rawlen;
		return 0;
	}
	if (rawlen != 64 || uk_sig_rs_to_der(raw, 32, sig, siglen) != 0)
		return ut_error(t, UT_EXIT_FAILED, "failed", "unexpected signature length %lu",
		                (unsigned long)rawlen);
	return 0;
}

int cmd_sign(struct ut *t)
{
	unsigned char *msg = NULL;
	uint8_t sig[UT_SIG_MAX];
	size_t len = 0, siglen = sizeof(sig);
	struct ut_pair p;
	int rc;

	if ((rc = ut_read_file(t, t->o.in, UT_FILE_MAX, &msg, &len)) != 0 ||
	    (rc = ut_open(t, 0)) != 0 || (rc = ut_login(t, CKU_USER, 1)) != 0 ||
	    (rc = ut_find_pair(t, t->o.label, UT_USAGE_SIGN, 1, &p)) != 0 ||
	    (rc = ut_sign(t, &p, msg, len, sig, &siglen)) != 0 ||
	    (rc = ut_write_file(t, t->o.out, sig, siglen)) != 0)
		goto out;
	ut_printf(t, "signed %zu bytes with \"%s\" (%s): %zu-byte signature in %s\n", len,
	          t->o.label, alg_names[p.alg], siglen, t->o.out);
	ut_json_open(t, NULL);
	ut_json_str(t, "container", t->o.label);
	ut_json_str(t, "algorithm", alg_names[p.alg]);
	ut_json_str(t, "in", t->o.in);
	ut_json_str(t, "out", t->o.out);
	ut_json_int(t, "signature_bytes", (long)siglen);
	ut_json_close(t);
out:
	free(msg);
	return rc;
}
