/* module_units: module internals without a card: the status word table, the GET DATA
 * parsers (docs/apdu.md), and the object/attribute policy with the exact
 * C_GetAttributeValue semantics of PKCS#11 2.40 §5.7.5. Expected values come from the
 * profile text and from OpenSSL, never from the code under test. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "uk_test.h"
#include "uk_tlv.h"
#include "ukm.h"

/* The SM2 base point G (GM/T 0003.5), used as a known valid public key. */
static const char g_hex[] =
	"0432C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
	"BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0";

static void test_sw_table(void)
{
	UK_CHECK_EQ(ukm_sw_to_rv(0x9000), CKR_OK);
	UK_CHECK_EQ(ukm_sw_to_rv(0x63C3), CKR_PIN_INCORRECT);
	UK_CHECK_EQ(ukm_sw_to_rv(0x63C1), CKR_PIN_INCORRECT);
	UK_CHECK_EQ(ukm_sw_to_rv(0x6983), CKR_PIN_LOCKED);
	UK_CHECK_EQ(ukm_sw_to_rv(0x6982), CKR_USER_NOT_LOGGED_IN);
	UK_CHECK_EQ(ukm_sw_to_rv(0x6988), CKR_USER_NOT_LOGGED_IN);
	UK_CHECK_EQ(ukm_sw_to_rv(0x6A84), CKR_DEVICE_MEMORY);
	UK_CHECK_EQ(ukm_sw_to_rv(0x6F00), CKR_DEVICE_ERROR);
}

static void test_devinfo(ukm_card_cache *c)
{
	uk_buf b;
	const uint8_t zone = 0x01, fw[2] = { 1, 7 }, free4[4] = { 0, 1, 0, 0 };

	uk_buf_init(&b, 0, 0);
	UK_CHECK(uk_tlv_put(&b, 0x80, "12345678901234567890", 20) == 0);
	UK_CHECK(uk_tlv_put(&b, 0x81, "my key", 6) == 0);
	UK_CHECK(uk_tlv_put(&b, 0x82, &zone, 1) == 0);
	UK_CHECK(uk_tlv_put(&b, 0x83, "ukey project", 12) == 0);
	UK_CHECK(uk_tlv_put(&b, 0x85, fw, 2) == 0);
	UK_CHECK(uk_tlv_put(&b, 0x86, free4, 4) == 0);
	UK_CHECK_EQ(ukm_parse_devinfo(b.data, b.len, c), 0);
	UK_CHECK(strcmp(c->serial, "12345678901234567890") == 0);
	UK_CHECK(strcmp(c->label, "my key") == 0);
	UK_CHECK_EQ(c->zone, 1);
	UK_CHECK_EQ(c->fw_minor, 7);
	UK_CHECK_EQ(c->free_space, 65536);
	UK_CHECK_EQ(ukm_parse_devinfo(b.data, b.len - 1, c), -1);     /* truncated TLV */
	uk_buf_free(&b);
}

static void test_pins(ukm_card_cache *c)
{
	const uint8_t raw[] = { 0x81, 3, 9, 10, 0, 0x82, 3, 1, 10, 2, 0x83, 2, 8, 12 };

	UK_CHECK_EQ(ukm_parse_pins(raw, sizeof(raw), c), 0);
	UK_CHECK_EQ(c->user.tries, 9);
	UK_CHECK_EQ(c->user.max, 10);
	UK_CHECK_EQ(c->so.tries, 1);
	UK_CHECK_EQ(c->so.flags, 2);
	UK_CHECK_EQ(ukm_parse_pins(raw, 5, c), -1);                   /* SO entry missing */
}

/* A0 { 80 01 03, 81 03 "abc", A4 { 80 01 01, 7F49 { 86 41 G } }, A5 { RSA pair } } */
static void test_containers(ukm_card_cache *c, const uint8_t g[65])
{
	uk_buf kp, pk, a0, all;
	const uint8_t idx = 3, alg = 1, rsa = 3;
	uint8_t rsa_n[256];

	uk_buf_init(&kp, 0, 0), uk_buf_init(&pk, 0, 0), uk_buf_init(&a0, 0, 0);
	uk_buf_init(&all, 0, 0);
	memset(rsa_n, 0xC5, sizeof(rsa_n));
	UK_CHECK(uk_tlv_put(&pk, 0x86, g, 65) == 0);
	UK_CHECK(uk_tlv_put(&kp, 0x80, &alg, 1) == 0);
	UK_CHECK(uk_tlv_put(&kp, 0x7F49, pk.data, pk.len) == 0);
	UK_CHECK(uk_tlv_put(&a0, 0x80, &idx, 1) == 0);
	UK_CHECK(uk_tlv_put(&a0, 0x81, "abc", 3) == 0);
	UK_CHECK(uk_tlv_put(&a0, 0xA4, kp.data, kp.len) == 0);
	/* an RSA-2048 encryption pair, A5 { 80 01 03, 7F49 { 81 n, 82 e } } */
	uk_buf_reset(&kp), uk_buf_reset(&pk);
	UK_CHECK(uk_tlv_put(&pk, 0x81, rsa_n, sizeof(rsa_n)) == 0);
	UK_CHECK(uk_tlv_put(&pk, 0x82, "\x01\x00\x01", 3) == 0);
	UK_CHECK(uk_tlv_put(&kp, 0x80, &rsa, 1) == 0);
	UK_CHECK(uk_tlv_put(&kp, 0x7F49, pk.data, pk.len) == 0);
	UK_CHECK(uk_tlv_put(&a0, 0xA5, kp.data, kp.len) == 0);
	UK_CHECK(uk_tlv_put(&all, 0xA0, a0.data, a0.len) == 0);
	UK_CHECK_EQ(ukm_parse_containers(all.data, all.len, c), 0);
	UK_CHECK(c->cont[3].present);
	UK_CHECK_EQ(c->cont[3].name_len, 3);
	UK_CHECK(c->cont[3].pair[0].present);
	UK_CHECK(c->cont[3].pair[1].present);
	UK_CHECK_EQ(c->cont[3].pair[1].alg, rsa);
	UK_CHECK_MEM(c->cont[3].pair[1].n, rsa_n, sizeof(rsa_n));
	UK_CHECK_MEM(c->cont[3].pair[1].e, "\x00\x01\x00\x01", 4);
	UK_CHECK_MEM(c->cont[3].pair[0].point, g, 65);
	uk_buf_free(&kp), uk_buf_free(&pk), uk_buf_free(&a0), uk_buf_free(&all);
}

static void test_attributes(ukm_slot *s, const uint8_t g[65])
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[4], find_priv[1] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE h[8];
	uint8_t id[20], buf[128], sha[20];
	const uint8_t *p;
	unsigned int n = 0;
	CK_BBOOL b = 9;
	EVP_PKEY *k;
	ukm_object o;

	s->login = UKM_LOGIN_NONE;
	/* container 3: the SM2 signing pair and the RSA encryption pair */
	UK_CHECK_EQ(ukm_object_match(s, NULL, 0, h, 8), 2);          /* public only */
	UK_CHECK_EQ(ukm_object_match(s, find_priv, 1, h, 8), 0);
	UK_CHECK_EQ(ukm_object_find(s, ukm_object_handle(s, 3, 0, 1), &o),
	            CKR_OBJECT_HANDLE_INVALID);
	s->login = UKM_LOGIN_USER;
	UK_CHECK_EQ(ukm_object_match(s, NULL, 0, h, 8), 4);
	UK_CHECK_EQ(ukm_object_match(s, find_priv, 1, h, 8), 2);
	UK_CHECK_EQ(ukm_object_find(s, h[0], &o), CKR_OK);
	UK_CHECK_EQ(o.cls, CKO_PRIVATE_KEY);

	/* value, sensitive, unknown type, short buffer, length query */
	t[0] = (CK_ATTRIBUTE){ CKA_ID, id, sizeof(id) };
	t[1] = (CK_ATTRIBUTE){ CKA_VALUE, buf, sizeof(buf) };
	t[2] = (CK_ATTRIBUTE){ CKA_SIGN, &b, 1 };
	t[3] = (CK_ATTRIBUTE){ CKA_EC_POINT, NULL, 0 };
	UK_CHECK_EQ(ukm_object_get_attributes(&o, t, 4), CKR_ATTRIBUTE_SENSITIVE);
	UK_CHECK_EQ(t[0].ulValueLen, 20);
	UK_CHECK(EVP_Digest(g, 65, sha, &n, EVP_sha1(), NULL) == 1);
	UK_CHECK_MEM(id, sha, 20);
	UK_CHECK_EQ(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	UK_CHECK_EQ(b, CK_TRUE);
	UK_CHECK_EQ(t[3].ulValueLen, 67);
	t[0] = (CK_ATTRIBUTE){ CKA_VERIFY, &b, 1 };               /* public-key attribute */
	UK_CHECK_EQ(ukm_object_get_attributes(&o, t, 1), CKR_ATTRIBUTE_TYPE_INVALID);
	UK_CHECK_EQ(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	t[0] = (CK_ATTRIBUTE){ CKA_EC_POINT, buf, 66 };
	UK_CHECK_EQ(ukm_object_get_attributes(&o, t, 1), CKR_BUFFER_TOO_SMALL);
	UK_CHECK_EQ(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	t[0] = (CK_ATTRIBUTE){ CKA_EC_POINT, buf, sizeof(buf) };
	UK_CHECK_EQ(ukm_object_get_attributes(&o, t, 1), CKR_OK);
	UK_CHECK_EQ(buf[0], 0x04);
	UK_CHECK_EQ(buf[1], 65);
	UK_CHECK_MEM(buf + 2, g, 65);
	/* SPKI decodes with OpenSSL to the same point */
	t[0] = (CK_ATTRIBUTE){ CKA_PUBLIC_KEY_INFO, buf, sizeof(buf) };
	UK_CHECK_EQ(ukm_object_get_attributes(&o, t, 1), CKR_OK);
	p = buf;
	k = d2i_PUBKEY(NULL, &p, (long)t[0].ulValueLen);
	UK_CHECK(k != NULL);
	{
		uint8_t pt[65];
		size_t ptlen = 0;

		UK_CHECK(EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", pt, sizeof(pt),
		                                         &ptlen) == 1);
		UK_CHECK_EQ(ptlen, 65);
		UK_CHECK_MEM(pt, g, 65);
	}
	EVP_PKEY_free(k);
}

int main(void)
{
	static ukm_slot slot;
	uint8_t g[65];

	UK_CHECK_EQ(uk_hex_decode(g_hex, g, sizeof(g)), 65);
	test_sw_table();
	test_devinfo(&slot.cache);
	test_pins(&slot.cache);
	test_containers(&slot.cache, g);
	slot.epoch = 5;
	slot.id = 2;
	test_attributes(&slot, g);
	return uk_test_done("module_units");
}
