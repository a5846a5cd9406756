/* module_cert fuzz target: the DER a card hands the module.
 *
 *   - ukm_cert_parse (module/ukm_x509.c, libtasn1 over module/pkix.asn): the certificate
 *     body read from file C0 KR, whose field ranges become CKA_SERIAL_NUMBER, CKA_ISSUER,
 *     CKA_SUBJECT and CKA_PUBLIC_KEY_INFO (module/ukm_cert.c);
 *   - uk_tlv_next / uk_tlv_find (common/uk_tlv.c, ISO 7816-4 §5.2 BER-TLV): every card answer
 *     the module and the token decode, walked recursively into constructed tags as a parser
 *     of GET DATA templates (7C, 7F49, A4 ...) does; each TLV read is written back with
 *     uk_tlv_put and must read back the same (tag, length, value).
 *
 * The input is the DER itself. A parsed certificate's ranges must lie inside the input and
 * be whole; every TLV read must lie inside what it was read from; a malformed TLV must not
 * move the cursor. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uk_buf.h"
#include "uk_tlv.h"
#include "ukm_x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DEPTH_MAX 8

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "module_cert: %s\n", what);
		abort();
	}
}

/* Reads every byte of a range (ASan sees any that lies outside the input). */
static unsigned touch(const uint8_t *p, size_t n)
{
	unsigned sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		sum += p[i];
	return sum;
}

static void check_range(const uint8_t *der, size_t n, size_t off, size_t len)
{
	check(off < n && len >= 2 && len <= n - off, "certificate field out of range");
	touch(der + off, len);
}

static void fuzz_cert(const uint8_t *der, size_t n)
{
	ukm_cert_info ci;

	if (ukm_cert_parse(der, n, &ci) != 0)
		return;
	check_range(der, n, ci.serial_off, ci.serial_len);
	check_range(der, n, ci.issuer_off, ci.issuer_len);
	check_range(der, n, ci.subject_off, ci.subject_len);
	check_range(der, n, ci.spki_off, ci.spki_len);
	/* the body is one SEQUENCE: its fields follow its header, in order */
	check(ci.serial_off < ci.issuer_off && ci.issuer_off < ci.subject_off &&
	      ci.subject_off < ci.spki_off, "certificate fields out of order");
}

/* A constructed tag: bit 6 (0x20) of its first byte (ISO 7816-4 §5.2). */
static int constructed(unsigned tag)
{
	return ((tag > 0xFF ? tag >> 8 : tag) & 0x20) != 0;
}

static void roundtrip(const uk_tlv *t)
{
	const uint8_t *q;
	uk_buf b;
	uk_tlv back;

	uk_buf_init(&b, 0, 1);
	if (uk_tlv_put(&b, t->tag, t->value, t->len) == 0) {
		q = b.data;
		check(uk_tlv_next(&q, b.data + b.len, &back) == 1 && back.tag == t->tag &&
		      back.len == t->len && memcmp(back.value, t->value, t->len) == 0 &&
		      q == b.data + b.len, "TLV does not read back as written");
	}
	uk_buf_free(&b);
}

static void walk(const uint8_t *buf, size_t len, int depth)
{
	const uint8_t *p = buf, *end = buf + len, *before;
	uk_tlv t, f;
	int r;

	for (;;) {
		before = p;
		r = uk_tlv_next(&p, end, &t);
		if (r != 1) {
			check(p == before, "malformed TLV moved the cursor");
			break;
		}
		check(p > before && p <= end && t.value >= before && t.len <= (size_t)(p - t.value) &&
		      t.value + t.len == p, "TLV out of its sequence");
		touch(t.value, t.len);
		roundtrip(&t);
		if (constructed(t.tag) && depth < DEPTH_MAX)
			walk(t.value, t.len, depth + 1);
	}
	if (len > 0 && uk_tlv_find(buf, len, buf[0], &f) == 1)
		check(f.value >= buf && f.value + f.len <= end, "found TLV out of range");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_cert(data, size);
	walk(data, size, 0);
	return 0;
}
