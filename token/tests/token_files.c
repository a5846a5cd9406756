/* ukey token: certificates and data files (docs/apdu.md "Files", "DELETE CONTAINER").
 *
 * - CREATE FILE / SELECT by file id / UPDATE BINARY / READ BINARY / DELETE FILE, with the
 *   ISO 7816-4 §11.2.3 end-of-file rules (6282 for an explicit Le past the end, 6B00 for
 *   an offset past it) and the odd instructions B1/D7 for offsets past 32,767;
 * - limits: sizes (6A84), names (6A80), identifiers, duplicates (6A89), no current file
 *   (6986), absent file (6A82), writes need the user PIN (6982) and secure messaging (6987);
 * - GET DATA 03 lists data files, GET DATA 00 tag 86 shrinks by what a file reserves;
 * - persistence across reopen; a file damaged on disk is never served (6581), listed no
 *   more, deletable, and the card keeps working;
 * - DELETE CONTAINER (S0-K9): signing with its KR gives 6A88, GET DATA 02 no longer lists
 *   it, its certificate files leave the directory, the sealed private keys leave the state
 *   file; an orphan certificate (crash between the state write and the unlink) is never
 *   served and is removed at the next open;
 * - a write-speed figure (64 KiB in 4 KiB UPDATE BINARYs, in-process), not asserted. */
#define _GNU_SOURCE     /* memmem */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "token_util.h"
#include "uk_tlv.h"
#include "ukt_files.h"
#include "ukt_internal.h"

static ukt_host h;

static uint16_t sec(uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *p,
                    size_t n)
{
	return ukt_host_secured(&h, cla, ins, p1, p2, p, n, 0, UKT_HOST_NO_LE);
}

static uint16_t create_file(uint16_t fid, uint32_t size, const char *name)
{
	uint8_t fb[2], sb[4];
	uk_buf b;
	uint16_t sw;

	uk_set_u16(fb, fid);
	uk_set_u32(sb, size);
	uk_buf_init(&b, 0, 0);
	uk_tlv_put(&b, 0x83, fb, 2);
	uk_tlv_put(&b, 0x80, sb, 4);
	if (name != NULL)
		uk_tlv_put(&b, 0x84, name, strlen(name));
	sw = sec(0x80, 0xE0, 0x01, 0x00, b.data, b.len);
	uk_buf_free(&b);
	return sw;
}

static uint16_t delete_file(uint16_t fid)
{
	uint8_t p[4] = { 0x83, 0x02, (uint8_t)(fid >> 8), (uint8_t)fid };

	return sec(0x80, 0xE4, 0x00, 0x00, p, sizeof(p));
}

static uint16_t delete_container(uint8_t idx)
{
	uint8_t p[3] = { 0x80, 0x01, idx };

	return sec(0x80, 0xE4, 0x01, 0x00, p, sizeof(p));
}

static uint16_t select_file(uint16_t fid)
{
	uint8_t f[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };

	return ukt_host_plain(&h, 0x00, 0xA4, 0x02, 0x0C, f, 2, UKT_HOST_NO_LE);
}

static uint16_t update(size_t off, const void *p, size_t n)
{
	return sec(0x00, 0xD6, (uint8_t)(off >> 8), (uint8_t)off, p, n);
}

/* D7 with 54 <3-byte offset> 53 <data> (ISO 7816-4 §11.2.5, odd INS) */
static uint16_t update_odd(size_t off, const uint8_t *p, size_t n)
{
	uint8_t o[3] = { (uint8_t)(off >> 16), (uint8_t)(off >> 8), (uint8_t)off };
	uk_buf b;
	uint16_t sw;

	uk_buf_init(&b, 0, 0);
	uk_tlv_put(&b, 0x54, o, 3);
	uk_tlv_put(&b, 0x53, p, n);
	sw = sec(0x00, 0xD7, 0x00, 0x00, b.data, b.len);
	uk_buf_free(&b);
	return sw;
}

static uint16_t read_bin(size_t off, long le)
{
	return ukt_host_plain(&h, 0x00, 0xB0, (uint8_t)(off >> 8), (uint8_t)off, NULL, 0, le);
}

static uint16_t read_odd(size_t off, long le)
{
	uint8_t p[5] = { 0x54, 0x03, (uint8_t)(off >> 16), (uint8_t)(off >> 8), (uint8_t)off };

	return ukt_host_plain(&h, 0x00, 0xB1, 0x00, 0x00, p, sizeof(p), le);
}

static uint32_t free_space(void)
{
	uk_tlv t;

	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010000"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x86, &t), 1);
	UK_CHECK_EQ(t.len, 4);
	return uk_get_u32(t.value);
}

/* GET DATA 03: 1 and size/len filled when data file fid is listed. */
static int listed(uint16_t fid, const char *name, uint32_t *size, uint32_t *len)
{
	const uint8_t *p, *end;
	uk_tlv t, v;
	int found = 0;

	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xCA, 0x01, 0x03, NULL, 0, 65536), 0x9000);
	p = h.resp;
	end = h.resp + h.rlen;
	while (uk_tlv_next(&p, end, &t) == 1) {
		UK_CHECK_EQ(t.tag, 0xA1);
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x83, &v), 1);
		if (uk_get_u16(v.value) != fid)
			continue;
		found = 1;
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x84, &v), 1);
		UK_CHECK(name == NULL || (v.len == strlen(name) && memcmp(v.value, name, v.len) == 0));
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x80, &v), 1);
		*size = uk_get_u32(v.value);
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x81, &v), 1);
		*len = uk_get_u32(v.value);
	}
	UK_CHECK(p == end);
	return found;
}

static int file_exists(const char *dir, uint16_t fid)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/file-%04X", dir, fid);
	return stat(path, &st) == 0;
}

static void flip_byte(const char *dir, uint16_t fid, long at)
{
	char path[1024];
	FILE *f;
	int c;

	snprintf(path, sizeof(path), "%s/file-%04X", dir, fid);
	f = fopen(path, "r+b");
	UK_CHECK(f != NULL);
	UK_CHECK(fseek(f, at, SEEK_SET) == 0);
	c = fgetc(f);
	UK_CHECK(c != EOF);
	UK_CHECK(fseek(f, at, SEEK_SET) == 0);
	UK_CHECK(fputc(c ^ 0x40, f) != EOF);
	UK_CHECK(fclose(f) == 0);
}

static void test_basic(const char *dir)
{
	ukt_card *card = tu_card_logged_in(dir, &h);
	uint32_t free0 = free_space(), size = 0, len = 0;
	static const uint8_t zeros[90];

	UK_CHECK_EQ(free0, UKT_CAPACITY);
	UK_CHECK_EQ(create_file(0xD000, 100, "seal"), 0x9000);
	UK_CHECK_EQ(free_space(), free0 - 100);
	UK_CHECK_EQ(listed(0xD000, "seal", &size, &len), 1);
	UK_CHECK_EQ(size, 100);
	UK_CHECK_EQ(len, 0);
	/* the new file is the current one (ISO 7816-9 CREATE FILE) */
	UK_CHECK_EQ(read_bin(0, 256), 0x6282);                  /* empty: end of file at once */
	UK_CHECK_EQ(h.rlen, 0);
	UK_CHECK_EQ(update(0, "hello", 5), 0x9000);
	UK_CHECK_EQ(select_file(0xD000), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x9000);                  /* Le 00: all to the end */
	UK_CHECK_EQ(h.rlen, 5);
	UK_CHECK_MEM(h.resp, "hello", 5);
	UK_CHECK_EQ(read_bin(0, UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(h.rlen, 5);
	UK_CHECK_EQ(read_bin(1, 3), 0x9000);                    /* explicit Le within */
	UK_CHECK_MEM(h.resp, "ell", 3);
	UK_CHECK_EQ(read_bin(1, 10), 0x6282);                   /* explicit Le past the end */
	UK_CHECK_EQ(h.rlen, 4);
	UK_CHECK_MEM(h.resp, "ello", 4);
	UK_CHECK_EQ(read_bin(5, 256), 0x6282);
	UK_CHECK_EQ(h.rlen, 0);
	UK_CHECK_EQ(read_bin(6, 256), 0x6B00);                  /* offset beyond the end */
	/* the forms that answer no data take any Le (no early fixed-length check) */
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4020C02D000" "01"), 0x9000);
	UK_CHECK_EQ(h.rlen, 0);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE0, 0x01, 0x00,
	                             (const uint8_t *)"\x83\x02\xD0\x09\x80\x04\x00\x00\x00\x10"
	                             "\x84\x02le", 14, 0, 1), 0x9000);
	UK_CHECK_EQ(delete_file(0xD009), 0x9000);
	UK_CHECK_EQ(select_file(0xD000), 0x9000);
	UK_CHECK_EQ(sec(0x00, 0xD7, 0x00, 0x00, NULL, 0), 0x6700);      /* empty, as D6 and B1 */
	UK_CHECK_EQ(ukt_host_hex(&h, "00B08000" "00"), 0x6A86); /* SFI form not supported */
	UK_CHECK_EQ(ukt_host_hex(&h, "00B00000" "0100" "00"), 0x6700);   /* data field */
	UK_CHECK_EQ(ukt_host_hex(&h, "10B0000000"), 0x6884);    /* no data: no chaining */
	/* UPDATE: overwrite and extend, no holes, not past the size */
	UK_CHECK_EQ(update(4, "o world", 7), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x9000);
	UK_CHECK_EQ(h.rlen, 11);
	UK_CHECK_MEM(h.resp, "hello world", 11);
	UK_CHECK_EQ(update(12, "x", 1), 0x6B00);
	UK_CHECK_EQ(update(11, zeros, 90), 0x6A84);                /* 101 > size 100 */
	UK_CHECK_EQ(update(0, "", 0), 0x6700);
	UK_CHECK_EQ(update_odd(11, (const uint8_t *)"!", 1), 0x9000);
	UK_CHECK_EQ(read_odd(6, 256), 0x9000);
	UK_CHECK_EQ(h.rlen, 2 + 6);
	UK_CHECK_MEM(h.resp, "\x53\x06" "world!", 8);
	UK_CHECK_EQ(listed(0xD000, "seal", &size, &len), 1);
	UK_CHECK_EQ(len, 12);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xB1, 0x00, 0x00, (const uint8_t *)"\x55\x01\x00",
	                           3, 256), 0x6A80);
	/* SELECT: absent keeps the selection; wrong Lc; SELECT AID drops the current EF */
	UK_CHECK_EQ(select_file(0xD001), 0x6A82);
	UK_CHECK_EQ(select_file(0xC000), 0x6A82);
	UK_CHECK_EQ(select_file(0x3F00), 0x6A82);
	UK_CHECK_EQ(read_bin(0, 5), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4020C01D0"), 0x6700);
	UK_CHECK_EQ(ukt_host_hex(&h, "00A40200" "02D000"), 0x6A86);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x6986);                  /* no current EF */
	UK_CHECK_EQ(update(0, "x", 1), 0x6986);
	UK_CHECK_EQ(select_file(0xD000), 0x9000);
	UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_RESET), 0);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x6986);
	ukt_card_close(card);

	/* persistence: a power cycle (close, reopen) keeps the content */
	card = tu_card_logged_in(dir, &h);
	UK_CHECK_EQ(select_file(0xD000), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x9000);
	UK_CHECK_EQ(h.rlen, 12);
	UK_CHECK_MEM(h.resp, "hello world!", 12);
	UK_CHECK_EQ(free_space(), free0 - 100);
	/* DELETE FILE */
	UK_CHECK_EQ(delete_file(0xD000), 0x9000);
	UK_CHECK(!file_exists(dir, 0xD000));
	UK_CHECK_EQ(read_bin(0, 256), 0x6986);
	UK_CHECK_EQ(select_file(0xD000), 0x6A82);
	UK_CHECK_EQ(delete_file(0xD000), 0x6A82);
	UK_CHECK_EQ(listed(0xD000, NULL, &size, &len), 0);
	UK_CHECK_EQ(free_space(), free0);
	ukt_card_close(card);
}

static void test_limits(const char *dir)
{
	ukt_card *card = tu_card_logged_in(dir, &h);
	char longname[40];
	uint32_t size = 0, len = 0;
	unsigned n;

	memset(longname, 'n', sizeof(longname));
	longname[33] = '\0';
	UK_CHECK_EQ(create_file(0xD000, UKT_FILE_DATA_MAX + 1, "big"), 0x6A84);
	UK_CHECK_EQ(create_file(0xD000, 0, "zero"), 0x6A80);
	UK_CHECK_EQ(create_file(0xD000, 10, longname), 0x6A80);        /* 33-byte name */
	longname[32] = '\0';
	UK_CHECK_EQ(create_file(0xD000, 10, longname), 0x9000);         /* 32 is fine */
	UK_CHECK_EQ(create_file(0xD001, 10, NULL), 0x6A80);             /* data file needs one */
	UK_CHECK_EQ(create_file(0xD001, 10, ""), 0x6A80);
	UK_CHECK_EQ(create_file(0xD000, 10, "other"), 0x6A89);          /* fid taken */
	UK_CHECK_EQ(create_file(0xD001, 10, longname), 0x6A89);         /* name taken */
	UK_CHECK_EQ(create_file(0xD020, 10, "d32"), 0x6A80);            /* 32 data files: 00-1F */
	UK_CHECK_EQ(create_file(0xE000, 10, "e"), 0x6A80);
	UK_CHECK_EQ(create_file(0xC000, 10, NULL), 0x6A88);             /* no container 0 */
	UK_CHECK_EQ(ukt_host_create_container(&h, "c0"), 0x9000);
	UK_CHECK_EQ(create_file(0xC000, UKT_FILE_CERT_MAX + 1, NULL), 0x6A84);
	UK_CHECK_EQ(create_file(0xC000, 10, "named"), 0x6A80);          /* certificates: no name */
	UK_CHECK_EQ(create_file(0xC000, UKT_FILE_CERT_MAX, NULL), 0x9000);
	/* malformed payloads */
	UK_CHECK_EQ(sec(0x80, 0xE0, 0x01, 0x00, (const uint8_t *)"\x83\x02\xD0\x05", 4), 0x6A80);
	UK_CHECK_EQ(sec(0x80, 0xE0, 0x01, 0x00, (const uint8_t *)"\x83\x02\xD0\x05\x80\x05\x00",
	                7), 0x6A80);                                    /* truncated TLV */
	UK_CHECK_EQ(sec(0x80, 0xE0, 0x02, 0x00, (const uint8_t *)"\x83\x02\xD0\x05", 4), 0x6A86);
	UK_CHECK_EQ(sec(0x80, 0xE4, 0x00, 0x00, (const uint8_t *)"\x83\x01\xD0", 3), 0x6A80);
	UK_CHECK_EQ(sec(0x80, 0xE4, 0x01, 0x00, (const uint8_t *)"\x80\x01\x10", 3), 0x6A80);
	UK_CHECK_EQ(delete_container(5), 0x6A88);
	/* capacity: 32 data files of 64 KiB do not fit in 512 KiB */
	for (n = 1; n < 32; n++) {
		char nm[8];

		snprintf(nm, sizeof(nm), "f%u", n);
		if (create_file((uint16_t)(0xD000 + n), UKT_FILE_DATA_MAX, nm) != 0x9000)
			break;
	}
	UK_CHECK(n < 32);
	UK_CHECK_EQ(create_file((uint16_t)(0xD000 + n), UKT_FILE_DATA_MAX, "last"), 0x6A84);
	UK_CHECK(free_space() < UKT_FILE_DATA_MAX);
	UK_CHECK_EQ(listed((uint16_t)(0xD000 + n - 1), NULL, &size, &len), 1);
	UK_CHECK_EQ(size, UKT_FILE_DATA_MAX);
	/* writes need the user PIN of the securing session, and secure messaging */
	UK_CHECK_EQ(select_file(0xD000), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);                 /* fresh, no PIN */
	UK_CHECK_EQ(update(0, "x", 1), 0x6982);
	UK_CHECK_EQ(create_file(0xD01F, 10, "nopin"), 0x6982);
	UK_CHECK_EQ(delete_file(0xD000), 0x6982);
	UK_CHECK_EQ(delete_container(0), 0x6982);
	UK_CHECK_EQ(ukt_host_hex(&h, "00D6000001AA"), 0x6987);
	UK_CHECK_EQ(ukt_host_hex(&h, "80E4000004" "8302D000"), 0x6987);
	UK_CHECK_EQ(read_bin(0, 256), 0x6282);                          /* reading is public */
	ukt_card_close(card);
}

static void test_corruption(const char *dir)
{
	static const uint8_t content[] = "seal image";
	ukt_card *card = tu_card_logged_in(dir, &h);
	uint32_t size = 0, len = 0;

	UK_CHECK_EQ(create_file(0xD000, 64, "bad"), 0x9000);
	UK_CHECK_EQ(update(0, content, sizeof(content)), 0x9000);
	UK_CHECK_EQ(create_file(0xD001, 64, "good"), 0x9000);
	UK_CHECK_EQ(update(0, content, sizeof(content)), 0x9000);
	/* damaged while the card runs: re-checked at every read */
	flip_byte(dir, 0xD000, 40);
	UK_CHECK_EQ(select_file(0xD000), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x6581);
	UK_CHECK_EQ(h.rlen, 0);
	UK_CHECK_EQ(update(0, "x", 1), 0x6581);                 /* not rewritten from bad data */
	UK_CHECK_EQ(listed(0xD000, NULL, &size, &len), 0);
	ukt_card_close(card);
	/* after reopen: still refused, the other file and the card work, delete recovers */
	card = tu_card_logged_in(dir, &h);
	UK_CHECK_EQ(listed(0xD000, NULL, &size, &len), 0);
	UK_CHECK_EQ(listed(0xD001, "good", &size, &len), 1);
	UK_CHECK_EQ(select_file(0xD000), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x6581);
	UK_CHECK_EQ(create_file(0xD000, 64, "again"), 0x6A89);
	UK_CHECK_EQ(select_file(0xD001), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x9000);
	UK_CHECK_MEM(h.resp, content, sizeof(content));
	UK_CHECK_EQ(delete_file(0xD000), 0x9000);
	UK_CHECK_EQ(create_file(0xD000, 64, "again"), 0x9000);
	/* a truncated file is damaged too */
	{
		char path[1024];

		snprintf(path, sizeof(path), "%s/file-D001", dir);
		UK_CHECK(truncate(path, 30) == 0);
	}
	UK_CHECK_EQ(select_file(0xD001), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x6581);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010000"), 0x9000);
	ukt_card_close(card);
}

static int fail_writes(void *arg)
{
	(void)arg;
	return 1;
}

static void test_write_failure(const char *dir)
{
	ukt_card *card = tu_card_logged_in(dir, &h);

	UK_CHECK_EQ(create_file(0xD000, 64, "f"), 0x9000);
	UK_CHECK_EQ(update(0, "abc", 3), 0x9000);
	ukt_card_set_write_hook(card, fail_writes, NULL);
	UK_CHECK_EQ(update(0, "xyz", 3), 0x6581);
	UK_CHECK_EQ(create_file(0xD001, 64, "g"), 0x6581);
	UK_CHECK_EQ(delete_file(0xD000), 0x6581);
	ukt_card_set_write_hook(card, NULL, NULL);
	UK_CHECK_EQ(select_file(0xD000), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x9000);
	UK_CHECK_EQ(h.rlen, 3);
	UK_CHECK_MEM(h.resp, "abc", 3);
	UK_CHECK_EQ(select_file(0xD001), 0x6A82);
	ukt_card_close(card);
}

/* The sealed private key of kr as stored in the state file. */
static size_t sealed_blob(const char *dir, unsigned kr, uint8_t *out, size_t cap)
{
	ukt_state *st = calloc(1, sizeof(*st));
	const ukt_keypair *k;
	size_t n;

	UK_CHECK(st != NULL);
	UK_CHECK_EQ(ukt_state_load(dir, st), 1);
	k = &st->cont[kr / 2].pair[kr % 2];
	UK_CHECK(k->present);
	n = k->wrapped_len;
	UK_CHECK(n >= 32 && n <= cap);
	memcpy(out, k->wrapped, n);
	ukt_state_wipe(st);
	free(st);
	return n;
}

static int state_has(const char *dir, const uint8_t *needle, size_t n)
{
	size_t len;
	unsigned char *img = tu_state_bytes(dir, &len);
	int found = memmem(img, len, needle, n) != NULL;

	free(img);
	return found;
}

/* SPEC S0-K9: DELETE CONTAINER destroys the key pairs and the certificates. */
static void test_delete_container(const char *dir)
{
	static uint8_t cert[3000];
	ukt_card *card = tu_card_logged_in(dir, &h);
	uint8_t e[32], sig[64], blob0[512], blob1[512], keep[512], idx, idx2;
	size_t n0, n1, nk, i;
	uk_tlv t, v;

	for (i = 0; i < sizeof(cert); i++)
		cert[i] = (uint8_t)(i * 7 + 1);
	UK_CHECK_EQ(ukt_host_create_container(&h, "doomed"), 0x9000);
	idx = h.resp[2];
	UK_CHECK_EQ(ukt_host_create_container(&h, "kept"), 0x9000);
	idx2 = h.resp[2];
	UK_CHECK_EQ(idx, 0);                                            /* lowest free index */
	UK_CHECK_EQ(idx2, 1);
	UK_CHECK_EQ(ukt_host_generate(&h, (uint8_t)(idx * 2), 0x01, NULL), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, (uint8_t)(idx * 2 + 1), 0x01, NULL), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, (uint8_t)(idx2 * 2), 0x01, NULL), 0x9000);
	UK_CHECK_EQ(create_file((uint16_t)(0xC000 + idx * 2), sizeof(cert), NULL), 0x9000);
	UK_CHECK_EQ(update(0, cert, sizeof(cert)), 0x9000);             /* one extended APDU */
	UK_CHECK_EQ(create_file((uint16_t)(0xC000 + idx * 2 + 1), 100, NULL), 0x9000);
	UK_CHECK_EQ(update(0, cert, 100), 0x9000);
	UK_CHECK_EQ(create_file(0xC002, 10, NULL), 0x9000);             /* container "kept" */
	UK_CHECK_EQ(update(0, "kept cert", 9), 0x9000);
	/* GET DATA 02: 86/87 carry the certificate lengths */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xCA, 0x01, 0x02, NULL, 0, 65536), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0xA0, &t), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x80, &v), 1);
	UK_CHECK_EQ(v.value[0], idx);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x86, &v), 1);
	UK_CHECK_EQ(uk_get_u16(v.value), sizeof(cert));
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x87, &v), 1);
	UK_CHECK_EQ(uk_get_u16(v.value), 100);
	/* READ with an extended Le: one APDU */
	UK_CHECK_EQ(select_file((uint16_t)(0xC000 + idx * 2)), 0x9000);
	UK_CHECK_EQ(read_bin(0, 65536), 0x9000);
	UK_CHECK_EQ(h.rlen, sizeof(cert));
	UK_CHECK_MEM(h.resp, cert, sizeof(cert));
	memset(e, 0x5A, sizeof(e));
	UK_CHECK_EQ(ukt_host_sign(&h, (uint8_t)(idx * 2), e, sig), 0x9000);
	n0 = sealed_blob(dir, idx * 2u, blob0, sizeof(blob0));
	n1 = sealed_blob(dir, idx * 2u + 1, blob1, sizeof(blob1));
	nk = sealed_blob(dir, 2, keep, sizeof(keep));
	UK_CHECK(state_has(dir, blob0, n0) && state_has(dir, blob1, n1));

	UK_CHECK_EQ(delete_container(idx), 0x9000);
	/* the keys: no signature, no public key, the sealed bytes are gone from the state */
	UK_CHECK_EQ(ukt_host_sign(&h, (uint8_t)(idx * 2), e, sig), 0x6A88);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x46, 0x81, (uint8_t)(idx * 2), NULL, 0, 256),
	            0x6A88);
	UK_CHECK(!state_has(dir, blob0, n0));
	UK_CHECK(!state_has(dir, blob1, n1));
	UK_CHECK(!state_has(dir, (const uint8_t *)"doomed", 6));
	UK_CHECK(state_has(dir, keep, nk));                             /* control */
	/* the listing and the certificates */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xCA, 0x01, 0x02, NULL, 0, 65536), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0xA0, &t), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x80, &v), 1);
	UK_CHECK(v.value[0] != idx);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x86, &v), 1);          /* "kept": its cert */
	UK_CHECK_EQ(uk_get_u16(v.value), 9);
	UK_CHECK(!file_exists(dir, (uint16_t)(0xC000 + idx * 2)));
	UK_CHECK(!file_exists(dir, (uint16_t)(0xC000 + idx * 2 + 1)));
	UK_CHECK(file_exists(dir, 0xC002));
	UK_CHECK_EQ(read_bin(0, 256), 0x6986);                          /* was current */
	UK_CHECK_EQ(select_file((uint16_t)(0xC000 + idx * 2)), 0x6A82);
	UK_CHECK_EQ(delete_container(idx), 0x6A88);
	ukt_card_close(card);
	/* and after a power cycle */
	card = tu_card_logged_in(dir, &h);
	UK_CHECK_EQ(ukt_host_sign(&h, (uint8_t)(idx * 2), e, sig), 0x6A88);
	UK_CHECK_EQ(select_file(0xC002), 0x9000);
	UK_CHECK_EQ(read_bin(0, 256), 0x9000);
	UK_CHECK_MEM(h.resp, "kept cert", 9);
	ukt_card_close(card);
}

/* A crash after DELETE CONTAINER wrote the state but before the unlinks: the certificate
 * file is still there. It is never served, and is removed at open. */
static void test_orphan(const char *dir)
{
	char src[1024], dst[1024], cmd[2200];
	ukt_card *card = tu_card_logged_in(dir, &h);

	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x9000);
	UK_CHECK_EQ(h.resp[2], 0);
	UK_CHECK_EQ(create_file(0xC000, 16, NULL), 0x9000);
	UK_CHECK_EQ(update(0, "old certificate", 15), 0x9000);
	snprintf(src, sizeof(src), "%s/file-C000", dir);
	snprintf(dst, sizeof(dst), "%s/saved-C000", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
	UK_CHECK(system(cmd) == 0);
	UK_CHECK_EQ(delete_container(0), 0x9000);
	ukt_card_close(card);
	UK_CHECK(rename(dst, src) == 0);                 /* as if the unlink never happened */
	card = tu_card_logged_in(dir, &h);
	UK_CHECK(!file_exists(dir, 0xC000));            /* swept at open */
	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x9000);
	UK_CHECK_EQ(h.resp[2], 0);
	UK_CHECK_EQ(select_file(0xC000), 0x6A82);       /* the old certificate does not return */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xCA, 0x01, 0x02, NULL, 0, 65536), 0x9000);
	UK_CHECK(memmem(h.resp, h.rlen, "\x86\x02", 2) == NULL);
	ukt_card_close(card);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 64 KiB in 4 KiB UPDATE BINARYs (D6 below 32,768, D7 above), read back with B0 and B1. */
static void test_large(const char *dir)
{
	static uint8_t img[UKT_FILE_DATA_MAX];
	ukt_card *card = tu_card_logged_in(dir, &h);
	size_t off, i, got;
	double t0, dt;

	for (i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i ^ (i >> 8) ^ 0x3C);
	UK_CHECK_EQ(create_file(0xD01F, sizeof(img), "seal.png"), 0x9000);
	t0 = now_s();
	for (off = 0; off < sizeof(img); off += 4096)
		UK_CHECK_EQ(off < 0x8000 ? update(off, img + off, 4096)
		                         : update_odd(off, img + off, 4096), 0x9000);
	dt = now_s() - t0;
	printf("write speed: 64 KiB in 16 UPDATE BINARYs of 4 KiB: %.1f ms, %.0f KB/s "
	       "(in-process, each an atomic fsync'ed file write)\n", dt * 1e3,
	       (double)sizeof(img) / 1024.0 / dt);
	UK_CHECK_EQ(update(0x7FFF, img + 0x7FFF, 1), 0x9000);          /* last B0/D6 offset */
	UK_CHECK_EQ(read_bin(0, 65536), 0x9000);                        /* one frame's worth */
	got = h.rlen;
	UK_CHECK_EQ(got, UKT_RESP_MAX - 2);
	UK_CHECK_MEM(h.resp, img, got);
	UK_CHECK_EQ(read_odd(got, 65536), 0x9000);                      /* the rest past 32 KiB */
	UK_CHECK_EQ(h.rlen, 2 + sizeof(img) - got);
	UK_CHECK_MEM(h.resp + 2, img + got, sizeof(img) - got);
	UK_CHECK_EQ(read_odd(40000, 16), 0x9000);
	UK_CHECK_EQ(h.rlen, 16);
	UK_CHECK_MEM(h.resp + 2, img + 40000, 14);
	UK_CHECK_EQ(read_odd(sizeof(img) - 4, 100), 0x6282);
	UK_CHECK_EQ(h.rlen, 2 + 4);
	UK_CHECK_EQ(read_odd(sizeof(img) + 1, 100), 0x6B00);
	/* a short Le 00 READ BINARY gives 256 bytes, 9000 */
	UK_CHECK_EQ(read_bin(256, 256), 0x9000);
	UK_CHECK_EQ(h.rlen, 256);
	UK_CHECK_MEM(h.resp, img + 256, 256);
	ukt_card_close(card);
}

int main(void)
{
	void (*const tests[])(const char *) = {
		test_basic, test_limits, test_corruption, test_write_failure,
		test_delete_container, test_orphan, test_large,
	};
	size_t i;

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		char *dir = tu_tmpdir();

		tests[i](dir);
		tu_rmdir(dir);
		free(dir);
	}
	return uk_test_done("token_files");
}
