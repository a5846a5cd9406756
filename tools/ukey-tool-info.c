/* ukey-tool: the views that need no PIN — list, info, containers list (docs/ukey-tool.md).
 * Only public objects are read: public keys (one per pair) and certificates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ukey-tool-keys.h"

struct ut_obj {
	CK_OBJECT_HANDLE h;
	char label[65];
	uint8_t id[UT_ID_MAX];
	size_t idlen;
	enum ut_usage usage;
	enum ut_alg alg;
};

struct ut_scan {
	struct ut_obj pubs[UT_MAX_OBJECTS], certs[UT_MAX_OBJECTS];
	size_t npub, ncert;
};

static int scan_class(struct ut *t, CK_OBJECT_CLASS cls, struct ut_obj *out, size_t *n)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE h[UT_MAX_OBJECTS];
	CK_BBOOL verify;
	size_t count = 0;
	long l;
	int rc;

	if ((rc = ut_find(t, tmpl, 1, h, UT_MAX_OBJECTS, &count)) != 0)
		return rc;
	for (size_t i = 0; i < count; i++) {
		struct ut_obj *o = &out[i];
		memset(o, 0, sizeof(*o));
		o->h = h[i];
		l = ut_attr(t, h[i], CKA_LABEL, o->label, sizeof(o->label) - 1);
		o->label[l > 0 ? l : 0] = '\0';
		l = ut_attr(t, h[i], CKA_ID, o->id, sizeof(o->id));
		o->idlen = l > 0 ? (size_t)l : 0;
		if (cls == CKO_PUBLIC_KEY) {
			verify = CK_FALSE;
			ut_attr(t, h[i], CKA_VERIFY, &verify, sizeof(verify));
			o->usage = verify == CK_TRUE ? UT_USAGE_SIGN : UT_USAGE_ENC;
			o->alg = ut_key_alg(t, h[i]);
		}
	}
	*n = count;
	return 0;
}

/* Certificates take the usage of the pair with their CKA_ID. */
static int scan(struct ut *t, struct ut_scan *s)
{
	int rc;

	if ((rc = scan_class(t, CKO_PUBLIC_KEY, s->pubs, &s->npub)) != 0 ||
	    (rc = scan_class(t, CKO_CERTIFICATE, s->certs, &s->ncert)) != 0)
		return rc;
	for (size_t c = 0; c < s->ncert; c++)
		for (size_t p = 0; p < s->npub; p++)
			if (s->pubs[p].idlen == s->certs[c].idlen &&
			    memcmp(s->pubs[p].id, s->certs[c].id, s->pubs[p].idlen) == 0)
				s->certs[c].usage = s->pubs[p].usage;
	return 0;
}

static const struct ut_obj *cert_of(const struct ut_scan *s, const struct ut_obj *pub)
{
	for (size_t c = 0; c < s->ncert; c++)
		if (s->certs[c].idlen == pub->idlen &&
		    memcmp(s->certs[c].id, pub->id, pub->idlen) == 0)
			return &s->certs[c];
	return NULL;
}

static int first_of_label(const struct ut_scan *s, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (strcmp(s->pubs[k].label, s->pubs[i].label) == 0)
			return 0;
	return 1;
}

/* Containers grouped by label, each with its pairs (algorithm, usage, ID, certificate). */
static void show_containers(struct ut *t, const struct ut_scan *s)
{
	char id[2 * UT_ID_MAX + 1];
	size_t shown = 0;

	ut_json_array(t, "containers");
	for (size_t i = 0; i < s->npub; i++) {
		if (!first_of_label(s, i))
			continue;
		shown++;
		ut_printf(t, "  container \"%s\"\n", s->pubs[i].label);
		ut_json_open(t, NULL);
		ut_json_str(t, "name", s->pubs[i].label);
		ut_json_array(t, "pairs");
		for (size_t k = i; k < s->npub; k++) {
			const struct ut_obj *p = &s->pubs[k];
			if (strcmp(p->label, s->pubs[i].label) != 0)
				continue;
			ut_hex(p->id, p->idlen, id, sizeof(id), 0);
			ut_printf(t, "    %-10s pair  %-7s ID %s%s\n", ut_usage_word(p->usage),
			          ut_alg_name(p->alg), id, cert_of(s, p) ? "  + certificate" : "");
			ut_json_open(t, NULL);
			ut_json_str(t, "usage", ut_usage_name(p->usage));
			ut_json_str(t, "algorithm", ut_alg_name(p->alg));
			ut_json_str(t, "id", id);
			ut_json_bool(t, "certificate", cert_of(s, p) != NULL);
			ut_json_close(t);
		}
		ut_json_array_end(t);
		ut_json_close(t);
	}
	ut_json_array_end(t);
	if (shown == 0)
		ut_printf(t, "  (no container)\n");
}

int cmd_containers_list(struct ut *t)
{
	struct ut_scan *s = calloc(1, sizeof(*s));
	int rc = UT_EXIT_FAILED;

	if (s == NULL)
		return ut_error(t, UT_EXIT_FAILED, "failed", "out of memory");
	if ((rc = ut_open(t, 0)) != 0 || (rc = scan(t, s)) != 0)
		goto out;
	ut_json_open(t, NULL);
	show_containers(t, s);
	ut_json_close(t);
out:
	free(s);
	return rc;
}

/* ---- PIN states ---------------------------------------------------------------------------- */

static void pin_line(struct ut *t, const char *what, const char *key,
                     const struct ut_pin_status *st)
{
	char tries[48] = "?";

	if (st->tries_left >= 0 && st->max_tries >= 0)
		snprintf(tries, sizeof(tries), "%ld/%ld", st->tries_left, st->max_tries);
	else if (st->tries_left >= 0)
		snprintf(tries, sizeof(tries), "%ld", st->tries_left);
	ut_printf(t, "  %-8s %s tries left, %s\n", what, tries, ut_pin_state(st));
	ut_json_open(t, key);
	if (st->tries_left >= 0)
		ut_json_int(t, "tries_left", st->tries_left);
	if (st->max_tries >= 0)
		ut_json_int(t, "max_tries", st->max_tries);
	ut_json_str(t, "state", ut_pin_state(st));
	ut_json_close(t);
}

static int show_pins(struct ut *t, CK_SLOT_ID slot)
{
	struct ut_pin_status u, so;
	int rc;

	if ((rc = ut_pin_status(t, slot, CKU_USER, &u)) != 0 ||
	    (rc = ut_pin_status(t, slot, CKU_SO, &so)) != 0)
		return rc;
	pin_line(t, "user PIN", "user_pin", &u);
	pin_line(t, "SO PIN", "so_pin", &so);
	return 0;
}

static const char *zone_of(const CK_TOKEN_INFO *ti)
{
	size_t n = ut_trim(ti->model, sizeof(ti->model));

	if (n >= 6 && memcmp(ti->model + n - 6, "yellow", 6) == 0)
		return "yellow";
	if (n >= 5 && memcmp(ti->model + n - 5, "green", 5) == 0)
		return "green";
	return "unknown";
}

/* ---- list ------------------------------------------------------------------------------------ */

static int list_key(struct ut *t, const struct ut_key *k)
{
	CK_TOKEN_INFO ti;
	CK_RV rv = t->p11->C_GetTokenInfo(k->slot, &ti);
	size_t ln;

	if (rv != CKR_OK)
		return ut_rv(t, "C_GetTokenInfo", rv);
	ln = ut_trim(ti.label, sizeof(ti.label));
	ut_printf(t, "%s  slot %lu  \"%.*s\"  %s zone\n", k->serial, (unsigned long)k->slot,
	          (int)ln, (const char *)ti.label, zone_of(&ti));
	ut_json_open(t, NULL);
	ut_json_int(t, "slot", (long)k->slot);
	ut_json_str(t, "serial", k->serial);
	ut_json_strn(t, "label", (const char *)ti.label, ln);
	ut_json_str(t, "zone", zone_of(&ti));
	t->key = *k;
	t->have_key = 1;
	rv = (CK_RV)show_pins(t, k->slot);
	t->have_key = 0;
	ut_json_close(t);
	return (int)rv;
}

int cmd_list(struct ut *t)
{
	struct ut_key keys[UT_MAX_SLOTS], empty[UT_MAX_SLOTS];
	size_t nk, ne;
	int rc;

	if ((rc = ut_slots(t, keys, &nk, empty, &ne)) != 0)
		return rc;
	if (nk == 0)
		return ut_choose_key(t);        /* the "no ukey inserted" message, exit 3 */
	ut_json_open(t, NULL);
	ut_json_array(t, "keys");
	for (size_t i = 0; i < nk; i++)
		if ((rc = list_key(t, &keys[i])) != 0)
			return rc;
	ut_json_array_end(t);
	ut_json_array(t, "readers_without_key");
	for (size_t i = 0; i < ne; i++) {
		ut_printf(t, "%s%s", i == 0 ? "readers without a key: " : ", ", empty[i].reader);
		ut_json_str(t, NULL, empty[i].reader);
	}
	if (ne > 0)
		ut_printf(t, "\n");
	ut_json_array_end(t);
	ut_json_close(t);
	return 0;
}

/* ---- info ------------------------------------------------------------------------------------ */

struct flag_name {
	CK_FLAGS flag;
	const char *name;
};

static const struct flag_name token_flags[] = {
	{ CKF_RNG, "rng" },
	{ CKF_LOGIN_REQUIRED, "login-required" },
	{ CKF_USER_PIN_INITIALIZED, "user-pin-initialized" },
	{ CKF_PROTECTED_AUTHENTICATION_PATH, "pinpad" },
	{ CKF_TOKEN_INITIALIZED, "token-initialized" },
	{ CKF_USER_PIN_COUNT_LOW, "user-pin-count-low" },
	{ CKF_USER_PIN_FINAL_TRY, "user-pin-final-try" },
	{ CKF_USER_PIN_LOCKED, "user-pin-locked" },
	{ CKF_USER_PIN_TO_BE_CHANGED, "user-pin-to-be-changed" },
	{ CKF_SO_PIN_COUNT_LOW, "so-pin-count-low" },
	{ CKF_SO_PIN_FINAL_TRY, "so-pin-final-try" },
	{ CKF_SO_PIN_LOCKED, "so-pin-locked" },
	{ CKF_SO_PIN_TO_BE_CHANGED, "so-pin-to-be-changed" },
};

static void info_field(struct ut *t, const char *name, const char *key, const CK_UTF8CHAR *p,
                       size_t n)
{
	n = ut_trim(p, n);
	ut_printf(t, "  %-16s %.*s\n", name, (int)n, (const char *)p);
	ut_json_strn(t, key, (const char *)p, n);
}

static void info_memory(struct ut *t, const char *name, const char *key, CK_ULONG v)
{
	if (v == CK_UNAVAILABLE_INFORMATION || v == CK_EFFECTIVELY_INFINITE)
		return;
	ut_printf(t, "  %-16s %lu bytes\n", name, (unsigned long)v);
	ut_json_int(t, key, (long)v);
}

static void info_token(struct ut *t, const CK_TOKEN_INFO *ti)
{
	char ver[32];

	ut_json_open(t, "token");
	info_field(t, "label", "label", ti->label, sizeof(ti->label));
	info_field(t, "manufacturer", "manufacturer", ti->manufacturerID,
	           sizeof(ti->manufacturerID));
	info_field(t, "model", "model", ti->model, sizeof(ti->model));
	ut_printf(t, "  %-16s %s\n", "zone", zone_of(ti));
	ut_json_str(t, "zone", zone_of(ti));
	info_field(t, "token serial", "serial16", ti->serialNumber, sizeof(ti->serialNumber));
	snprintf(ver, sizeof(ver), "%u.%u", ti->hardwareVersion.major, ti->hardwareVersion.minor);
	ut_printf(t, "  %-16s %s\n", "hardware", ver);
	ut_json_str(t, "hardware_version", ver);
	snprintf(ver, sizeof(ver), "%u.%u", ti->firmwareVersion.major, ti->firmwareVersion.minor);
	ut_printf(t, "  %-16s %s\n", "firmware", ver);
	ut_json_str(t, "firmware_version", ver);
	info_memory(t, "free memory", "free_public_memory", ti->ulFreePublicMemory);
	info_memory(t, "free private", "free_private_memory", ti->ulFreePrivateMemory);
	ut_printf(t, "  %-16s", "flags");
	ut_json_array(t, "flags");
	for (size_t i = 0; i < sizeof(token_flags) / sizeof(token_flags[0]); i++)
		if (ti->flags & token_flags[i].flag) {
			ut_printf(t, " %s", token_flags[i].name);
			ut_json_str(t, NULL, token_flags[i].name);
		}
	ut_printf(t, "\n");
	ut_json_array_end(t);
	ut_json_close(t);
}

static void x509_text(BIO *b, const X509_NAME *n, const ASN1_TIME *tm, char *out, size_t cap)
{
	long len;
	char *p = NULL;

	(void)BIO_reset(b);
	if (n != NULL)
		X509_NAME_print_ex(b, n, 0, XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN |
		                   (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB));
	else
		ASN1_TIME_print(b, tm);
	len = BIO_get_mem_data(b, &p);
	snprintf(out, cap, "%.*s", (int)(len > 0 ? len : 0), len > 0 ? p : "");
}

/* One certificate's fields through OpenSSL: subject, issuer, serial, validity, SHA-256. */
static void info_cert(struct ut *t, const struct ut_obj *c, BIO *b)
{
	unsigned char *der = NULL, md[32];
	unsigned int mdlen = 0;
	const unsigned char *p;
	char subj[512], iss[512], nb[64], na[64], fp[100], *serial = NULL;
	size_t n = 0;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	int saved = t->err_exit;

	if (ut_attr_alloc(t, c->h, CKA_VALUE, &der, &n) != 0) {
		t->err_exit = saved;
		return;
	}
	p = der;
	x = d2i_X509(NULL, &p, (long)n);
	ut_json_open(t, NULL);
	ut_json_str(t, "container", c->label);
	ut_json_str(t, "usage", ut_usage_name(c->usage));
	ut_printf(t, "  certificate of the %s pair of \"%s\"\n", ut_usage_word(c->usage), c->label);
	if (x == NULL) {
		ut_printf(t, "    (does not parse)\n");
		goto out;
	}
	x509_text(b, X509_get_subject_name(x), NULL, subj, sizeof(subj));
	x509_text(b, X509_get_issuer_name(x), NULL, iss, sizeof(iss));
	x509_text(b, NULL, X509_get0_notBefore(x), nb, sizeof(nb));
	x509_text(b, NULL, X509_get0_notAfter(x), na, sizeof(na));
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	serial = bn != NULL ? BN_bn2hex(bn) : NULL;
	X509_digest(x, EVP_sha256(), md, &mdlen);
	ut_hex(md, mdlen, fp, sizeof(fp), 1);
	ut_printf(t, "    subject    %s\n    issuer     %s\n    serial     %s\n"
	          "    not before %s\n    not after  %s\n    SHA-256    %s\n", subj, iss,
	          serial ? serial : "?", nb, na, fp);
	ut_json_str(t, "subject", subj);
	ut_json_str(t, "issuer", iss);
	ut_json_str(t, "serial", serial ? serial : "");
	ut_json_str(t, "not_before", nb);
	ut_json_str(t, "not_after", na);
	ut_json_str(t, "sha256", fp);
out:
	ut_json_close(t);
	OPENSSL_free(serial);
	BN_free(bn);
	X509_free(x);
	free(der);
}

static int info_objects(struct ut *t)
{
	struct ut_scan *s = calloc(1, sizeof(*s));
	BIO *b = BIO_new(BIO_s_mem());
	int rc = UT_EXIT_FAILED;

	if (s == NULL || b == NULL) {
		rc = ut_error(t, UT_EXIT_FAILED, "failed", "out of memory");
		goto out;
	}
	if ((rc = ut_open(t, 0)) != 0 || (rc = scan(t, s)) != 0)
		goto out;
	ut_printf(t, "containers:\n");
	show_containers(t, s);
	ut_printf(t, "certificates:\n");
	ut_json_array(t, "certificates");
	for (size_t i = 0; i < s->ncert; i++)
		info_cert(t, &s->certs[i], b);
	if (s->ncert == 0)
		ut_printf(t, "  (no certificate)\n");
	ut_json_array_end(t);
	ut_printf(t, "data files:\n");
	rc = ut_list_data(t, 1);
out:
	BIO_free(b);
	free(s);
	return rc;
}

int cmd_info(struct ut *t)
{
	CK_TOKEN_INFO ti;
	CK_RV rv;
	int rc;

	if ((rc = ut_choose_key(t)) != 0)
		return rc;
	rv = t->p11->C_GetTokenInfo(t->key.slot, &ti);
	if (rv != CKR_OK)
		return ut_rv(t, "C_GetTokenInfo", rv);
	ut_printf(t, "key %s (slot %lu, reader %s)\n", t->key.serial, (unsigned long)t->key.slot,
	          t->key.reader);
	ut_json_open(t, NULL);
	ut_json_int(t, "slot", (long)t->key.slot);
	ut_json_str(t, "serial", t->key.serial);
	ut_json_str(t, "reader", t->key.reader);
	info_token(t, &ti);
	if ((rc = show_pins(t, t->key.slot)) != 0 || (rc = info_objects(t)) != 0)
		return rc;
	ut_json_close(t);
	return 0;
}
