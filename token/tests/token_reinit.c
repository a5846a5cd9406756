/* token_reinit: REINITIALISE APPLICATION (docs/apdu.md; GM/T 0016 SKF_DeleteApplication +
 * SKF_CreateApplication, the card side of PKCS#11 C_InitToken) and always-authenticate key
 * pairs (GENERATE 81 01 01; the card side of CKA_ALWAYS_AUTHENTICATE). */
#include <string.h>
#include <sys/stat.h>

#include "uk_tlv.h"
#include "token_util.h"

static ukt_host h;
static const uint8_t e32[32] = { 1, 2, 3 };

static uint16_t sec(uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, const void *p, size_t n)
{
	return ukt_host_secured(&h, cla, ins, p1, p2, p, n, 0, UKT_HOST_NO_LE);
}

static uint16_t reinit(const char *label)
{
	uint8_t p[2 + 40];
	size_t n = strlen(label);

	p[0] = 0x81;
	p[1] = (uint8_t)n;
	memcpy(p + 2, label, n);
	return sec(0x80, 0xEE, 0x00, 0x00, p, 2 + n);
}

static uint16_t create_file(uint16_t fid, const char *name)
{
	uint8_t p[40] = { 0x83, 0x02, (uint8_t)(fid >> 8), (uint8_t)fid, 0x80, 0x01, 0x10 };
	size_t n = 7;

	if (name != NULL) {
		p[n++] = 0x84;
		p[n++] = (uint8_t)strlen(name);
		memcpy(p + n, name, strlen(name));
		n += strlen(name);
	}
	return sec(0x80, 0xE0, 0x01, 0x00, p, n);
}

static int file_exists(const char *dir, uint16_t fid)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/file-%04X", dir, fid);
	return stat(path, &st) == 0;
}

/* GET DATA 01/01: tries and flags of PIN tag (81 user, 82 SO) */
static int pin_status(unsigned tag, int *flags)
{
	uk_tlv t;

	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010100"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, tag, &t), 1);
	UK_CHECK_EQ(t.len, 3);
	*flags = t.value[2];
	return t.value[0];
}

static ukt_card *open_session(const char *dir)
{
	ukt_card *card = ukt_card_open(dir, NULL);

	UK_CHECK(card != NULL);
	ukt_host_init_card(&h, card);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	return card;
}

static void populate(void)
{
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_create_container(&h, "c0"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x01, NULL), 0x9000);
	UK_CHECK_EQ(create_file(0xC000, NULL), 0x9000);
	UK_CHECK_EQ(create_file(0xD000, "seal"), 0x9000);
}

static void check_empty_application(const char *label)
{
	uk_tlv t;

	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010000"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x81, &t), 1);
	UK_CHECK_EQ(t.len, strlen(label));
	UK_CHECK_MEM(t.value, label, t.len);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200"), 0x9000);     /* no container */
	UK_CHECK_EQ(h.rlen, 0);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010300"), 0x9000);     /* no data file */
	UK_CHECK_EQ(h.rlen, 0);
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4020C02D000"), 0x6A82);
	UK_CHECK_EQ(ukt_host_hex(&h, "0046810000"), 0x6A88);     /* key gone */
}

static void test_reinit(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = open_session(dir);
	int flags;

	populate();
	UK_CHECK_EQ(reinit("fresh"), 0x6982);                    /* user PIN is not enough */
	UK_CHECK_EQ(ukt_host_hex(&h, "80EE0000058103616263"), 0x6987);  /* plain */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1235", 9), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
	UK_CHECK_EQ(sec(0x80, 0xEE, 0x00, 0x00, "\x81\x00", 2), 0x6A80);  /* empty label */
	UK_CHECK_EQ(sec(0x80, 0xEE, 0x00, 0x01, "\x81\x01x", 3), 0x6A86);
	UK_CHECK_EQ(reinit("0123456789abcdef0123456789abcdefX"), 0x6A80);  /* 33 bytes */
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200"), 0x9000);     /* refusals changed nothing */
	UK_CHECK(h.rlen > 0);
	UK_CHECK_EQ(reinit("fresh token"), 0x9000);
	check_empty_application("fresh token");
	UK_CHECK(!file_exists(dir, 0xD000) && !file_exists(dir, 0xC000));
	UK_CHECK_EQ(pin_status(0x81, &flags), 10);
	UK_CHECK_EQ(flags, 0x04);                                 /* not initialised */
	UK_CHECK_EQ(pin_status(0x82, &flags), 10);                /* SO counter kept (reset by its VERIFY) */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x6984);
	UK_CHECK_EQ(ukt_host_hex(&h, "00200081"), 0x6984);
	UK_CHECK_EQ(pin_status(0x81, &flags), 10);                /* no try used */
	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x6982);
	ukt_card_close(card);

	card = open_session(dir);                                  /* durable */
	check_empty_application("fresh token");
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x6984);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);  /* SO PIN kept */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2C, 0x02, 0x81, (const uint8_t *)"newuser99", 9, 1,
	                             UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(pin_status(0x81, &flags), 10);
	UK_CHECK_EQ(flags, 0x02);                                 /* set by the SO: must change */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "newuser99", 9), 0x9000);
	/* the new token key (sealed under the SO PIN, then the new user PIN) opens new keys */
	UK_CHECK_EQ(ukt_host_create_container(&h, "c1"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x01, NULL), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e32, NULL), 0x9000);
	ukt_card_close(card);
	card = open_session(dir);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "newuser99", 9), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e32, NULL), 0x9000);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

/* The SO's login in another session does not count; that session's logins end. */
static void test_other_session(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = open_session(dir);
	uk_sm_session first;

	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
	first = h.sm;
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(reinit("x"), 0x6982);
	h.sm = first;
	UK_CHECK_EQ(reinit("x"), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, NULL, 0), 0x9000);  /* this session: still SO */
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

static int fail_writes(void *arg)
{
	(void)arg;
	return 1;
}

static void test_write_failure(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = open_session(dir);
	unsigned char *snap;
	size_t n;

	populate();
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
	snap = tu_state_bytes(dir, &n);
	ukt_card_set_write_hook(card, fail_writes, NULL);
	UK_CHECK_EQ(reinit("nope"), 0x6581);
	ukt_card_set_write_hook(card, NULL, NULL);
	TU_CHECK_STATE_UNCHANGED(dir, snap, n);
	UK_CHECK(file_exists(dir, 0xD000));
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e32, NULL), 0x9000);     /* user login kept */
	free(snap);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

static unsigned char *read_all(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = malloc(70000);

	UK_CHECK(f != NULL && p != NULL);
	*n = fread(p, 1, 70000, f);
	fclose(f);
	return p;
}

static void write_all(const char *path, const unsigned char *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	UK_CHECK(f != NULL);
	UK_CHECK_EQ(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* A crash between the state write and the unlinks leaves files: swept at the next open.
 * The sweep mark is cleared before the first new file, which then survives a reopen. */
static void test_sweep(void)
{
	char *dir = tu_tmpdir(), path[1024];
	ukt_card *card = open_session(dir);
	unsigned char *data, *cert;
	size_t dn, cn;

	populate();
	snprintf(path, sizeof(path), "%s/file-D000", dir);
	data = read_all(path, &dn);
	snprintf(path, sizeof(path), "%s/file-C000", dir);
	cert = read_all(path, &cn);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
	UK_CHECK_EQ(reinit("swept"), 0x9000);
	ukt_card_close(card);
	write_all(path, cert, cn);                                /* the unlinks "did not happen" */
	snprintf(path, sizeof(path), "%s/file-D000", dir);
	write_all(path, data, dn);
	card = open_session(dir);
	check_empty_application("swept");
	UK_CHECK(!file_exists(dir, 0xD000) && !file_exists(dir, 0xC000));
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2C, 0x02, 0x81, (const uint8_t *)"newuser99", 9, 1,
	                             UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "newuser99", 9), 0x9000);
	UK_CHECK_EQ(create_file(0xD001, "kept"), 0x9000);
	ukt_card_close(card);
	card = open_session(dir);
	UK_CHECK(file_exists(dir, 0xD001));
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4020C02D001"), 0x9000);
	ukt_card_close(card);
	free(data);
	free(cert);
	tu_rmdir(dir);
	free(dir);
}

/* GENERATE 80 01 alg 81 01 01: each PSO needs a user VERIFY since the key's last use. */
static void test_always_authenticate(void)
{
	static const uint8_t aa[6] = { 0x80, 0x01, 0x02, 0x81, 0x01, 0x01 };
	static const uint8_t bad[6] = { 0x80, 0x01, 0x02, 0x81, 0x01, 0x02 };
	char *dir = tu_tmpdir();
	ukt_card *card = open_session(dir);
	uint8_t hash[32] = { 9 }, pso[34];
	uk_tlv a0, a4, f;

	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_create_container(&h, "aa"), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x46, 0x80, 0, bad, 6, 0, 256), 0x6A80);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x46, 0x80, 0, aa, 6, 0, 256), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 1, 0x02, NULL), 0x9000);   /* an ordinary pair */
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0xA0, &a0), 1);
	UK_CHECK_EQ(uk_tlv_find(a0.value, a0.len, 0xA4, &a4), 1);
	UK_CHECK_EQ(uk_tlv_find(a4.value, a4.len, 0x82, &f), 1);
	UK_CHECK(f.len == 1 && f.value[0] == 0x01);
	UK_CHECK_EQ(uk_tlv_find(a0.value, a0.len, 0xA5, &a4), 1);
	UK_CHECK_EQ(uk_tlv_find(a4.value, a4.len, 0x82, &f), 0);
	pso[1] = 0x02;                                            /* ECDSA over a hash */
	memcpy(pso + 2, hash, 32);
	pso[0] = 0;
	/* GENERATE came after the VERIFY: its grant is still unused */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pso, 34, 0, 256), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pso, 34, 0, 256), 0x6982);
	pso[0] = 1;                                               /* the other pair: no grant needed */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pso, 34, 0, 256), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pso, 34, 0, 256), 0x9000);
	pso[0] = 0;
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pso, 34, 0, 256), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pso, 34, 0, 256), 0x6982);
	/* a grant is per session */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pso, 34, 0, 256), 0x9000);
	ukt_card_close(card);

	card = open_session(dir);                                  /* the flag is durable */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pso, 34, 0, 256), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pso, 34, 0, 256), 0x6982);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

int main(void)
{
	test_reinit();
	test_other_session();
	test_write_failure();
	test_sweep();
	test_always_authenticate();
	return uk_test_done("token_reinit");
}
