/* ukey-tool: certificate requests, certificates and the CA's escrowed encryption pair
 * (docs/ukey-tool.md csr, import-cert, export-cert, import-enveloped). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "uk_wipe.h"
#include "ukey-tool-keys.h"

#define UT_SIG_MAX 512
#define UT_BLOB_LEN 388         /* GM/T 0016 ENVELOPEDKEYBLOB with an SM2 key pair */

int ut_base64(const unsigned char *in, size_t n, char **out)
{
	size_t cap = 4 * ((n + 2) / 3) + 1;

	*out = malloc(cap);
	if (*out == NULL)
		return -1;
	EVP_EncodeBlock((unsigned char *)*out, in, (int)n);
	return 0;
}

/* "/CN=name/O=org" (the openssl req -subj form; "\/" is a literal slash) as an X509_NAME,
 * each value UTF-8. NULL on a malformed string or an unknown attribute name. */
static X509_NAME *subject_parse(struct ut *t, const char *s)
{
	X509_NAME *name = X509_NAME_new();
	char field[256];
	size_t n;

	if (name == NULL || *s != '/')
		goto bad;
	while (*s == '/') {
		for (n = 0, s++; *s != '\0' && *s != '/' && n < sizeof(field) - 1; s++, n++) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			field[n] = *s;
		}
		field[n] = '\0';
		char *eq = strchr(field, '=');
		if (eq == NULL || eq == field || eq[1] == '\0' || (*s != '\0' && *s != '/'))
			goto bad;
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
		                                (const unsigned char *)eq + 1, -1, -1, 0))
			goto bad;
	}
	if (*s == '\0' && X509_NAME_entry_count(name) > 0)
		return name;
bad:
	ut_error(t, UT_EXIT_FAILED, "failed", "bad --subject (want /CN=name/O=org...)");
	X509_NAME_free(name);
	return NULL;
}

/* The request's signature algorithm: SM2-with-SM3 (GM/T 0006 1.2.156.10197.1.501, parameters
 * absent, GM/T 0015 §7.3), ecdsa-with-SHA256 (RFC 5758 §3.2, absent) or
 * sha256WithRSAEncryption (RFC 4055 §5, NULL). */
static X509_ALGOR *csr_alg(enum ut_alg alg)
{
	X509_ALGOR *a = X509_ALGOR_new();
	int nid = alg == UT_ALG_SM2 ? NID_SM2_with_SM3 :
	          alg == UT_ALG_P256 ? NID_ecdsa_with_SHA256 : NID_sha256WithRSAEncryption;

	if (a != NULL && !X509_ALGOR_set0(a, OBJ_nid2obj(nid),
	                                  alg == UT_ALG_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, NULL)) {
		X509_ALGOR_free(a);
		a = NULL;
	}
	return a;
}

/* Sign the DER of CertificationRequestInfo (RFC 2986 §4.2) on the key. */
static int csr_sign(struct ut *t, X509_REQ *req, const struct ut_pair *signer)
{
	unsigned char *tbs = NULL;
	uint8_t sig[UT_SIG_MAX];
	size_t siglen = sizeof(sig);
	X509_ALGOR *alg = csr_alg(signer->alg);
	ASN1_BIT_STRING *bits = ASN1_BIT_STRING_new();
	int len, rc = UT_EXIT_FAILED;

	if (alg == NULL || bits == NULL)
		goto out;
	len = i2d_re_X509_REQ_tbs(req, &tbs);
	if (len <= 0)
		goto out;
	if ((rc = ut_sign(t, signer, tbs, (size_t)len, sig, &siglen)) != 0)
		goto out;
	rc = UT_EXIT_FAILED;
	if (!ASN1_BIT_STRING_set(bits, sig, (int)siglen))
		goto out;
	/* a signature is whole octets: no unused bits (X.690 §8.6.2.2) */
	bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	if (!X509_REQ_set1_signature_algo(req, alg))
		goto out;
	X509_REQ_set0_signature(req, bits);
	bits = NULL;
	rc = 0;
out:
	if (rc == UT_EXIT_FAILED && t->err_exit == 0)
		ut_error(t, UT_EXIT_FAILED, "failed", "cannot build the request");
	OPENSSL_free(tbs);
	ASN1_BIT_STRING_free(bits);
	X509_ALGOR_free(alg);
	return rc;
}

static int csr_write(struct ut *t, X509_REQ *req)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long n = 0;
	int rc;

	if (bio == NULL || PEM_write_bio_X509_REQ(bio, req) != 1 ||
	    (n = BIO_get_mem_data(bio, &pem)) <= 0) {
		BIO_free(bio);
		return ut_error(t, UT_EXIT_FAILED, "failed", "cannot encode the request");
	}
	if (strcmp(t->o.out, "-") == 0 && t->o.json) {
		ut_json_strn(t, "pem", pem, (size_t)n);
		rc = 0;
	} else {
		ut_json_str(t, "out", t->o.out);
		rc = ut_write_file(t, t->o.out, pem, (size_t)n);
	}
	BIO_free(bio);
	return rc;
}

/* PKCS#10 (RFC 2986) for the pair of --usage: its public key from the key; the signature made
 * on the key by the container's signing pair (the encryption pair cannot sign: for it the
 * signing pair proves the holder, as GM/T dual-certificate issuance does). */
int cmd_csr(struct ut *t)
{
	struct ut_pair p, signer;
	EVP_PKEY *pkey = NULL;
	X509_NAME *name = NULL;
	X509_REQ *req = NULL;
	enum ut_usage u;
	int rc;

	if ((rc = ut_opt_usage(t, &u)) != 0)
		return rc;
	rc = UT_EXIT_FAILED;
	if ((name = subject_parse(t, t->o.subject)) == NULL)
		goto out;
	if ((rc = ut_open(t, 0)) != 0 || (rc = ut_find_pair(t, t->o.label, u, 0, &p)) != 0)
		goto out;
	rc = UT_EXIT_FAILED;
	if ((pkey = ut_pubkey_load(t, p.pub)) == NULL)
		goto out;
	req = X509_REQ_new();
	if (req == NULL || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, pkey)) {
		rc = ut_error(t, UT_EXIT_FAILED, "failed", "cannot build the request");
		goto out;
	}
	if ((rc = ut_login(t, CKU_USER, 1)) != 0 ||
	    (rc = ut_find_pair(t, t->o.label, UT_USAGE_SIGN, 1, &signer)) != 0 ||
	    (rc = csr_sign(t, req, &signer)) != 0)
		goto out;
	ut_json_open(t, NULL);
	ut_json_str(t, "container", t->o.label);
	ut_json_str(t, "usage", ut_usage_name(u));
	ut_json_str(t, "algorithm", ut_alg_name(signer.alg));
	ut_json_str(t, "subject", t->o.subject);
	if ((rc = csr_write(t, req)) != 0)
		goto out;
	ut_json_close(t);
	if (strcmp(t->o.out, "-") != 0)
		ut_printf(t, "certificate request for \"%s\" (%s) written to %s\n", t->o.label,
		          ut_alg_name(signer.alg), t->o.out);
out:
	X509_REQ_free(req);
	EVP_PKEY_free(pkey);
	X509_NAME_free(name);
	return rc;
}

/* The certificate in a PEM or DER file, as DER. */
static int cert_load_der(struct ut *t, const char *path, unsigned char **der, int *len)
{
	unsigned char *data = NULL;
	const unsigned char *p;
	size_t n = 0;
	BIO *bio = NULL;
	X509 *x = NULL;
	int rc;

	*der = NULL;
	if ((rc = ut_read_file(t, path, UT_FILE_MAX, &data, &n)) != 0)
		return rc;
	p = data;
	x = d2i_X509(NULL, &p, (long)n);
	if (x == NULL && (bio = BIO_new_mem_buf(data, (int)n)) != NULL)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x != NULL)
		*len = i2d_X509(x, der);
	X509_free(x);
	BIO_free(bio);
	free(data);
	if (*der == NULL || *len <= 0)
		return ut_error(t, UT_EXIT_FAILED, "failed", "%s holds no X.509 certificate", path);
	return 0;
}

/* PKCS#11 3.0 §5.7.1 C_CreateObject of a CKC_X_509 certificate with the pair's CKA_ID and
 * label: the module stores it as that pair's certificate and refuses one whose public key is
 * not the pair's (CKR_TEMPLATE_INCONSISTENT). */
int cmd_import_cert(struct ut *t)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE type = CKC_X_509;
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_HANDLE obj;
	unsigned char *der = NULL;
	struct ut_pair p;
	enum ut_usage u;
	int len = 0, rc;
	CK_RV rv;

	if ((rc = ut_opt_usage(t, &u)) != 0 || (rc = cert_load_der(t, t->o.in, &der, &len)) != 0 ||
	    (rc = ut_open(t, 1)) != 0 || (rc = ut_find_pair(t, t->o.label, u, 0, &p)) != 0 ||
	    (rc = ut_login(t, CKU_USER, 1)) != 0)
		goto out;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)t->o.label, strlen(t->o.label) },
		{ CKA_ID, p.id, (CK_ULONG)p.idlen },
		{ CKA_VALUE, der, (CK_ULONG)len },
	};
	rv = t->p11->C_CreateObject(t->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &obj);
	if (rv == CKR_TEMPLATE_INCONSISTENT)
		rc = ut_error(t, UT_EXIT_FAILED, "failed", "C_CreateObject failed: "
		              "CKR_TEMPLATE_INCONSISTENT (not the public key of the %s pair of "
		              "\"%s\", or it has a certificate already)", ut_usage_word(u),
		              t->o.label);
	else if (rv != CKR_OK)
		rc = ut_rv(t, "C_CreateObject", rv);
	if (rv != CKR_OK)
		goto out;
	ut_printf(t, "certificate from %s stored with the %s key pair of \"%s\"\n", t->o.in,
	          ut_usage_word(u), t->o.label);
	ut_json_open(t, NULL);
	ut_json_str(t, "container", t->o.label);
	ut_json_str(t, "usage", ut_usage_name(u));
	ut_json_hex(t, "id", p.id, p.idlen);
	ut_json_close(t);
out:
	OPENSSL_free(der);
	return rc;
}

/* The certificate's CKA_VALUE, as PEM or (--der) DER; --out - is stdout (with --json: the
 * object's "pem" or "der_base64" member, stdout being the JSON's). */
static int cert_emit(struct ut *t, const unsigned char *der, size_t n)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)n);
	BIO *bio = NULL;
	char *pem = NULL, *b64 = NULL;
	long pn = 0;
	int rc = UT_EXIT_FAILED, to_json = strcmp(t->o.out, "-") == 0 && t->o.json;

	if (x == NULL)
		return ut_error(t, UT_EXIT_FAILED, "failed", "the stored certificate does not parse");
	if (t->o.der) {
		if (to_json && ut_base64(der, n, &b64) == 0)
			ut_json_str(t, "der_base64", b64);
		rc = to_json ? (b64 != NULL ? 0 : UT_EXIT_FAILED) : ut_write_file(t, t->o.out, der, n);
		goto out;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_X509(bio, x) != 1 || (pn = BIO_get_mem_data(bio, &pem)) <= 0)
		goto out;
	if (to_json) {
		ut_json_strn(t, "pem", pem, (size_t)pn);
		rc = 0;
	} else {
		rc = ut_write_file(t, t->o.out, pem, (size_t)pn);
	}
out:
	if (rc == UT_EXIT_FAILED && t->err_exit == 0)
		ut_error(t, UT_EXIT_FAILED, "failed", "cannot encode the certificate");
	free(b64);
	BIO_free(bio);
	X509_free(x);
	return rc;
}

int cmd_export_cert(struct ut *t)
{
	CK_OBJECT_HANDLE cert;
	unsigned char *der = NULL;
	size_t n = 0;
	struct ut_pair p;
	enum ut_usage u;
	int rc;

	if ((rc = ut_opt_usage(t, &u)) != 0 || (rc = ut_open(t, 0)) != 0 ||
	    (rc = ut_find_pair(t, t->o.label, u, 0, &p)) != 0 ||
	    (rc = ut_find_cert(t, t->o.label, &p, &cert)) != 0 ||
	    (rc = ut_attr_alloc(t, cert, CKA_VALUE, &der, &n)) != 0)
		goto out;
	ut_json_open(t, NULL);
	ut_json_str(t, "container", t->o.label);
	ut_json_str(t, "usage", ut_usage_name(u));
	ut_json_str(t, "format", t->o.der ? "der" : "pem");
	if (strcmp(t->o.out, "-") != 0)
		ut_json_str(t, "out", t->o.out);
	if ((rc = cert_emit(t, der, n)) != 0)
		goto out;
	ut_json_close(t);
	if (strcmp(t->o.out, "-") != 0)
		ut_printf(t, "certificate of the %s key pair of \"%s\" written to %s\n",
		          ut_usage_word(u), t->o.label, t->o.out);
out:
	free(der);
	return rc;
}

/* The blob as given: 388 bytes as they are, else base64 (whitespace and line breaks
 * ignored) that decodes to 388 bytes. */
static int blob_decode(struct ut *t, unsigned char *data, size_t n, uint8_t blob[UT_BLOB_LEN])
{
	unsigned char *b64 = malloc(n + 1), dec[UT_BLOB_LEN + 8];
	size_t m = 0;
	int len, rc = UT_EXIT_FAILED;

	if (n == UT_BLOB_LEN) {
		memcpy(blob, data, n);
		rc = 0;
		goto out;
	}
	if (b64 == NULL)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!isspace(data[i]))
			b64[m++] = data[i];
	/* 388 bytes are 520 base64 characters, the last two '=' padding */
	if (m != 520)
		goto bad;
	len = EVP_DecodeBlock(dec, b64, (int)m);
	if (len != UT_BLOB_LEN + 2 || b64[m - 1] != '=' || b64[m - 2] != '=')
		goto bad;
	memcpy(blob, dec, UT_BLOB_LEN);
	rc = 0;
	goto out;
bad:
	rc = ut_error(t, UT_EXIT_FAILED, "failed", "%s is not a 388-byte ENVELOPEDKEYBLOB "
	              "(binary or base64)", t->o.in);
out:
	uk_wipe(dec, sizeof(dec));
	if (b64 != NULL)
		uk_wipe(b64, n + 1);
	free(b64);
	return rc;
}

/* C_UnwrapKey (§5.18.5) with CKM_UKEY_SM2_ENVELOPED_IMPORT: the container's SM2 signing
 * private key opens the CA's blob on the card; the new pair becomes the container's
 * encryption pair (docs/pkcs11-profile.md C_UnwrapKey). */
int cmd_import_enveloped(struct ut *t)
{
	CK_MECHANISM mech = { CKM_UKEY_SM2_ENVELOPED_IMPORT, NULL, 0 };
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_BBOOL yes = CK_TRUE;
	CK_OBJECT_HANDLE key;
	unsigned char *data = NULL;
	uint8_t blob[UT_BLOB_LEN];
	size_t n = 0;
	struct ut_pair s, e;
	char id[2 * UT_ID_MAX + 1];
	CK_RV rv;
	int rc;

	if ((rc = ut_read_file(t, t->o.in, 4096, &data, &n)) != 0 ||
	    (rc = blob_decode(t, data, n, blob)) != 0 || (rc = ut_open(t, 1)) != 0 ||
	    (rc = ut_login(t, CKU_USER, 1)) != 0 ||
	    (rc = ut_find_pair(t, t->o.label, UT_USAGE_SIGN, 1, &s)) != 0)
		goto out;
	if (s.alg != UT_ALG_SM2) {
		rc = ut_error(t, UT_EXIT_FAILED, "failed", "the signing pair of \"%s\" is not SM2",
		              t->o.label);
		goto out;
	}
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)t->o.label, strlen(t->o.label) },
	};
	rv = t->p11->C_UnwrapKey(t->session, &mech, s.priv, blob, UT_BLOB_LEN, tmpl,
	                         sizeof(tmpl) / sizeof(tmpl[0]), &key);
	if (rv != CKR_OK) {
		rc = ut_rv(t, "C_UnwrapKey", rv);
		goto out;
	}
	if ((rc = ut_find_pair(t, t->o.label, UT_USAGE_ENC, 0, &e)) != 0)
		goto out;
	ut_hex(e.id, e.idlen, id, sizeof(id), 0);
	ut_printf(t, "encryption key pair imported into container \"%s\" (ID %s)\n", t->o.label,
	          id);
	ut_json_open(t, NULL);
	ut_json_str(t, "container", t->o.label);
	ut_json_str(t, "usage", "enc");
	ut_json_str(t, "id", id);
	ut_json_close(t);
out:
	uk_wipe(blob, sizeof(blob));
	if (data != NULL)
		uk_wipe(data, n);
	free(data);
	return rc;
}
