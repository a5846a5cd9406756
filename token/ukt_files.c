/* ukey token: certificates and data files (docs/apdu.md "Files"; GM/T 0016 §6.4 file and
 * certificate functions, modelled on ISO 7816-4 transparent EFs).
 *
 * One file per EF in the key's state directory, DIR/file-<FID in hex>:
 *   magic "UKEYFILE" (8) || version (2, BE) || fid (2) || size (4) || length (4)
 *   || name length (1) || name || content (length bytes) || SHA-256 of everything before (32)
 * "size" is what CREATE FILE reserved (counted against free space), "length" the bytes
 * written so far (UPDATE BINARY extends it up to size). Every change writes the whole file
 * to DIR/file-<FID>.tmp, fsyncs it, renames it over the old one and fsyncs DIR, so a kill -9
 * at any instant leaves the old or the new file. The directory is the record: an index of
 * the 64 possible files is read at open (each checked once) and kept in memory for listings;
 * READ/UPDATE BINARY re-read the file and re-check its digest, so a file damaged on disk is
 * never served (6581) even while the card runs. */
#include "ukt_internal.h"
#include "ukt_files.h"
#include "ukt_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "uk_log.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

#define FILE_MAGIC "UKEYFILE"
#define FILE_VERSION 1
#define FILE_HDR_FIXED 21u             /* magic, version, fid, size, length, name length */
#define FILE_DIGEST 32u
#define FILE_IMG_MAX (FILE_HDR_FIXED + UKT_FILE_NAME_MAX + UKT_FILE_DATA_MAX + FILE_DIGEST)
#define FILE_SLOTS ((int)(UKT_MAX_KEYS + UKT_FILE_DATA_COUNT))
#define CERT_SLOTS ((int)UKT_MAX_KEYS)

enum file_state { FS_ABSENT = 0, FS_OK = 1, FS_DAMAGED = 2 };

typedef struct file_meta {
	uint8_t state;
	uint32_t size;          /* reserved by CREATE FILE */
	uint32_t len;           /* bytes written */
	uint8_t name_len;
	uint8_t name[UKT_FILE_NAME_MAX];
} file_meta;

struct ukt_files {
	file_meta f[FILE_SLOTS];        /* 0-31 certificates by KR, 32-63 data files */
	int cur;                        /* current EF (slot), -1 none */
};

/* ---- identifiers ---- */

static int fid_slot(uint16_t fid)
{
	unsigned hi = fid >> 8, lo = fid & 0xFF;

	if (hi == UKT_FID_CERT && lo < UKT_MAX_KEYS)
		return (int)lo;
	if (hi == UKT_FID_DATA && lo < UKT_FILE_DATA_COUNT)
		return (int)(UKT_MAX_KEYS + lo);
	return -1;
}

static uint16_t slot_fid(int slot)
{
	return slot < (int)UKT_MAX_KEYS ? (uint16_t)(UKT_FID_CERT << 8 | slot)
	                                : (uint16_t)(UKT_FID_DATA << 8 | (slot - UKT_MAX_KEYS));
}

static int slot_is_cert(int slot)
{
	return slot < (int)UKT_MAX_KEYS;
}

/* A certificate exists only while its container does (GM/T 0016: it belongs to it). */
static const file_meta *slot_meta(const ukt_card *card, int slot)
{
	const file_meta *m = &card->files->f[slot];

	if (m->state == FS_ABSENT)
		return NULL;
	if (slot_is_cert(slot) && !card->st.cont[slot / 2].present)
		return NULL;
	return m;
}

static char *file_path(const char *dir, int slot, int tmp)
{
	size_t n = strlen(dir) + 32;
	char *p = malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/file-%04X%s", dir, slot_fid(slot), tmp ? ".tmp" : "");
	return p;
}

/* ---- image encoding ---- */

static int sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	unsigned len = 0;

	return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == 32 ? 0 : -1;
}

static int file_encode(int slot, const file_meta *m, const uint8_t *content, uk_buf *img)
{
	uint8_t hdr[FILE_HDR_FIXED], digest[FILE_DIGEST];

	memcpy(hdr, FILE_MAGIC, 8);
	uk_set_u16(hdr + 8, FILE_VERSION);
	uk_set_u16(hdr + 10, slot_fid(slot));
	uk_set_u32(hdr + 12, m->size);
	uk_set_u32(hdr + 16, m->len);
	hdr[20] = m->name_len;
	uk_buf_put(img, hdr, sizeof(hdr));
	if (m->name_len > 0)
		uk_buf_put(img, m->name, m->name_len);
	if (m->len > 0)
		uk_buf_put(img, content, m->len);
	if (img->failed || sha256(img->data, img->len, digest) != 0)
		return -1;
	return uk_buf_put(img, digest, sizeof(digest));
}

static uint32_t slot_limit(int slot)
{
	return slot_is_cert(slot) ? UKT_FILE_CERT_MAX : UKT_FILE_DATA_MAX;
}

/* Check an image and fill m; *content points at the content inside img. 0 or -1. */
static int file_decode(int slot, const uint8_t *img, size_t n, file_meta *m,
                       const uint8_t **content)
{
	uint8_t digest[FILE_DIGEST];
	size_t nl;

	if (n < FILE_HDR_FIXED + FILE_DIGEST || memcmp(img, FILE_MAGIC, 8) != 0 ||
	    uk_get_u16(img + 8) != FILE_VERSION || uk_get_u16(img + 10) != slot_fid(slot))
		return -1;
	memset(m, 0, sizeof(*m));
	m->size = uk_get_u32(img + 12);
	m->len = uk_get_u32(img + 16);
	nl = img[20];
	if (nl > UKT_FILE_NAME_MAX || m->size == 0 || m->size > slot_limit(slot) ||
	    m->len > m->size || n != FILE_HDR_FIXED + nl + m->len + FILE_DIGEST)
		return -1;
	if (sha256(img, n - FILE_DIGEST, digest) != 0 ||
	    !uk_ct_equal(digest, img + n - FILE_DIGEST, FILE_DIGEST))
		return -1;
	m->name_len = (uint8_t)nl;
	memcpy(m->name, img + FILE_HDR_FIXED, nl);
	m->state = FS_OK;
	*content = img + FILE_HDR_FIXED + nl;
	return 0;
}

/* ---- disk ---- */

/* Read slot's file into img: 1 read, 0 absent, -1 unreadable. */
static int file_read(const char *dir, int slot, uk_buf *img)
{
	char *path = file_path(dir, slot, 0);
	int ret = path != NULL ? ukt_fs_read(path, img) : -1;

	free(path);
	return ret;
}

/* Atomic replace (docs/apdu.md "Persistence", ukt_fs.h). */
static int file_write(const char *dir, int slot, const uk_buf *img)
{
	char *tmp = file_path(dir, slot, 1), *path = file_path(dir, slot, 0);
	int ret = -1;

	if (tmp != NULL && path != NULL)
		ret = ukt_fs_replace(dir, tmp, path, img->data, img->len);
	free(tmp);
	free(path);
	return ret;
}

static int file_unlink(const char *dir, int slot, int tmp)
{
	char *path = file_path(dir, slot, tmp);
	int r = -1;

	if (path != NULL)
		r = unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	free(path);
	return r;
}

/* Write meta + content of slot; the card's test hook can make it fail like a full disk. */
static uint16_t file_store(ukt_card *card, int slot, const file_meta *m, const uint8_t *content)
{
	uk_buf img;
	uint16_t sw = UK_SW_MEMORY_FAILURE;

	uk_buf_init(&img, FILE_IMG_MAX, 0);
	if (card->hook != NULL && card->hook(card->hook_arg) != 0)
		goto out;
	if (file_encode(slot, m, content, &img) != 0 || file_write(card->dir, slot, &img) != 0) {
		uk_log(UK_LOG_ERROR, "token", "%s: write of file %04X failed", card->dir,
		       slot_fid(slot));
		goto out;
	}
	card->files->f[slot] = *m;
	sw = UK_SW_OK;
out:
	uk_buf_free(&img);
	return sw;
}

/* Load and check slot's file (into img; *content inside it). A file that fails its check
 * is marked damaged and not served: 6581. */
static uint16_t file_load(ukt_card *card, int slot, uk_buf *img, file_meta *m,
                          const uint8_t **content)
{
	if (file_read(card->dir, slot, img) == 1 &&
	    file_decode(slot, img->data, img->len, m, content) == 0)
		return UK_SW_OK;
	uk_log(UK_LOG_ERROR, "token", "%s: file %04X fails its integrity check, not served",
	       card->dir, slot_fid(slot));
	card->files->f[slot].state = FS_DAMAGED;
	return UK_SW_MEMORY_FAILURE;
}

/* ---- open, close ---- */

static void index_slot(ukt_card *card, int slot)
{
	file_meta *m = &card->files->f[slot];
	const uint8_t *content;
	uk_buf img;
	int r;

	uk_buf_init(&img, FILE_IMG_MAX, 0);
	(void)file_unlink(card->dir, slot, 1);  /* a write interrupted before its rename */
	r = file_read(card->dir, slot, &img);
	if (r != 0 && (card->st.sweep_files ||
	               (slot_is_cert(slot) && !card->st.cont[slot / 2].present))) {
		/* orphan: DELETE CONTAINER's (or REINITIALISE's) state was written, the unlink
		 * did not happen */
		if (file_unlink(card->dir, slot, 0) == 0)
			(void)ukt_fs_sync_dir(card->dir);
		r = 0;
	}
	if (r == 0)
		m->state = FS_ABSENT;
	else if (r < 0 || file_decode(slot, img.data, img.len, m, &content) != 0) {
		uk_log(UK_LOG_ERROR, "token", "%s: file %04X fails its integrity check, not served",
		       card->dir, slot_fid(slot));
		memset(m, 0, sizeof(*m));
		m->state = FS_DAMAGED;
	}
	uk_buf_free(&img);
}

int ukt_files_open(ukt_card *card)
{
	int slot;

	card->files = calloc(1, sizeof(*card->files));
	if (card->files == NULL)
		return -1;
	card->files->cur = -1;
	for (slot = 0; slot < FILE_SLOTS; slot++)
		index_slot(card, slot);
	return 0;
}

void ukt_files_close(ukt_card *card)
{
	free(card->files);
	card->files = NULL;
}

void ukt_files_deselect(ukt_card *card)
{
	if (card->files != NULL)
		card->files->cur = -1;
}

/* ---- space, listings ---- */

size_t ukt_files_used(const ukt_card *card)
{
	size_t used = 0;
	int slot;

	for (slot = 0; slot < FILE_SLOTS; slot++)
		if (slot_meta(card, slot) != NULL)
			used += card->files->f[slot].size;
	return used;
}

/* Nominal free space (GET DATA 00 tag 86): a fixed capacity less the containers
 * (ukt_space_used, ukt_cmd.c) and the sizes files reserved. */
size_t ukt_space_free(const ukt_card *card)
{
	size_t used = ukt_files_used(card) + ukt_space_used(&card->st);

	return used < UKT_CAPACITY ? UKT_CAPACITY - used : 0;
}

void ukt_files_put_cert_lengths(const ukt_card *card, unsigned idx, uk_buf *tpl)
{
	const file_meta *m;
	uint8_t len[2];
	unsigned u;

	for (u = 0; u < 2; u++) {
		m = slot_meta(card, (int)(idx * 2 + u));
		if (m == NULL || m->state != FS_OK)
			continue;
		uk_set_u16(len, (uint16_t)m->len);
		uk_tlv_put(tpl, 0x86 + u, len, sizeof(len));
	}
}

static void put_data_entry(uk_buf *r, int slot, const file_meta *m)
{
	uint8_t fid[2], size[4], len[4];
	uk_buf e;

	uk_set_u16(fid, slot_fid(slot));
	uk_set_u32(size, m->size);
	uk_set_u32(len, m->len);
	uk_buf_init(&e, 0, 0);
	uk_tlv_put(&e, 0x83, fid, sizeof(fid));
	uk_tlv_put(&e, 0x84, m->name, m->name_len);
	uk_tlv_put(&e, 0x80, size, sizeof(size));
	uk_tlv_put(&e, 0x81, len, sizeof(len));
	if (e.failed)
		r->failed = 1;
	else
		uk_tlv_put(r, 0xA1, e.data, e.len);
	uk_buf_free(&e);
}

void ukt_files_put_list(const ukt_card *card, uk_buf *r)
{
	const file_meta *m;
	int slot;

	for (slot = CERT_SLOTS; slot < FILE_SLOTS; slot++) {
		m = slot_meta(card, slot);
		if (m != NULL && m->state == FS_OK)
			put_data_entry(r, slot, m);
	}
}

/* ---- operations ---- */

/* SELECT by file identifier (ISO 7816-4 §11.1.1, P1 02): absent keeps the selection. */
uint16_t ukt_files_select(ukt_card *card, uint16_t fid)
{
	int slot = fid_slot(fid);

	if (slot < 0 || slot_meta(card, slot) == NULL)
		return UK_SW_NOT_FOUND;
	card->files->cur = slot;
	return UK_SW_OK;
}

static int data_name_taken(const ukt_card *card, const uint8_t *name, size_t n)
{
	const file_meta *m;
	int slot;

	for (slot = CERT_SLOTS; slot < FILE_SLOTS; slot++) {
		m = slot_meta(card, slot);
		if (m != NULL && m->state == FS_OK && m->name_len == n &&
		    memcmp(m->name, name, n) == 0)
			return 1;
	}
	return 0;
}

static uint16_t create_check(const ukt_card *card, int slot, size_t size, size_t name_len)
{
	if (slot < 0)
		return UK_SW_WRONG_DATA;
	if (slot_is_cert(slot) && !card->st.cont[slot / 2].present)
		return UK_SW_REF_NOT_FOUND;     /* a certificate needs its container */
	if (slot_is_cert(slot) ? name_len != 0 : name_len == 0 || name_len > UKT_FILE_NAME_MAX)
		return UK_SW_WRONG_DATA;
	if (size == 0)
		return UK_SW_WRONG_DATA;
	if (card->files->f[slot].state != FS_ABSENT)
		return UK_SW_ALREADY_EXISTS;
	if (size > slot_limit(slot) || size > ukt_space_free(card))
		return UK_SW_NO_SPACE;
	return UK_SW_OK;
}

/* The sweep mark of REINITIALISE (ukt_cmd_reinit.c) removes every file at open: it must be
 * durably gone before a file is created, or that file would be swept. 9000 or 6581. */
static uint16_t sweep_clear(ukt_card *card)
{
	ukt_state next;
	uint16_t sw;

	if (!card->st.sweep_files)
		return UK_SW_OK;
	memcpy(&next, &card->st, sizeof(next));
	next.sweep_files = 0;
	sw = ukt_state_commit(card, &next);
	ukt_state_wipe(&next);
	return sw;
}

/* CREATE FILE: an empty EF of the given size; it becomes the current file (ISO 7816-9
 * §6.1, as CREATE FILE does). */
uint16_t ukt_files_create(ukt_card *card, uint16_t fid, size_t size, const uint8_t *name,
                          size_t name_len)
{
	int slot = fid_slot(fid);
	file_meta m;
	uint16_t sw;

	sw = create_check(card, slot, size, name_len);
	if (sw != UK_SW_OK)
		return sw;
	if (!slot_is_cert(slot) && data_name_taken(card, name, name_len))
		return UK_SW_ALREADY_EXISTS;
	sw = sweep_clear(card);
	if (sw != UK_SW_OK)
		return sw;
	memset(&m, 0, sizeof(m));
	m.state = FS_OK;
	m.size = (uint32_t)size;
	m.name_len = (uint8_t)name_len;
	if (name_len > 0)               /* a certificate has no name: name may be NULL (C11 7.24.1) */
		memcpy(m.name, name, name_len);
	sw = file_store(card, slot, &m, NULL);
	if (sw == UK_SW_OK)
		card->files->cur = slot;
	return sw;
}

static uint16_t remove_slot(ukt_card *card, int slot)
{
	if (card->hook != NULL && card->hook(card->hook_arg) != 0)
		return UK_SW_MEMORY_FAILURE;
	if (file_unlink(card->dir, slot, 0) != 0 || ukt_fs_sync_dir(card->dir) != 0) {
		uk_log(UK_LOG_ERROR, "token", "%s: delete of file %04X failed", card->dir,
		       slot_fid(slot));
		return UK_SW_MEMORY_FAILURE;
	}
	memset(&card->files->f[slot], 0, sizeof(file_meta));
	if (card->files->cur == slot)
		card->files->cur = -1;
	return UK_SW_OK;
}

/* DELETE FILE: a damaged file can be deleted (how the holder recovers its slot). */
uint16_t ukt_files_delete(ukt_card *card, uint16_t fid)
{
	int slot = fid_slot(fid);

	if (slot < 0 || slot_meta(card, slot) == NULL)
		return UK_SW_NOT_FOUND;
	return remove_slot(card, slot);
}

void ukt_files_drop_container(ukt_card *card, unsigned idx)
{
	unsigned u;
	int slot;

	for (u = 0; u < 2; u++) {
		slot = (int)(idx * 2 + u);
		if (card->files->f[slot].state == FS_ABSENT)
			continue;
		/* the state no longer lists the container, so the file is not served either
		 * way; an unlink that fails here is retried by the sweep at the next open */
		(void)file_unlink(card->dir, slot, 0);
		memset(&card->files->f[slot], 0, sizeof(file_meta));
		if (card->files->cur == slot)
			card->files->cur = -1;
	}
	(void)ukt_fs_sync_dir(card->dir);
}

void ukt_files_drop_all(ukt_card *card)
{
	int slot;

	for (slot = 0; slot < FILE_SLOTS; slot++) {
		if (card->files->f[slot].state == FS_ABSENT)
			continue;
		(void)file_unlink(card->dir, slot, 0);  /* else swept at the next open */
		memset(&card->files->f[slot], 0, sizeof(file_meta));
	}
	card->files->cur = -1;
	(void)ukt_fs_sync_dir(card->dir);
}

/* RENAME FILE (docs/apdu.md "RENAME"): a data file's name, unique among data files. The
 * file is read and checked, then rewritten whole with the new name by the same atomic
 * replace as UPDATE BINARY, so a crash leaves the old or the new name. A certificate has no
 * name of its own (its label is its container's): 6A80. */
uint16_t ukt_files_rename(ukt_card *card, uint16_t fid, const uint8_t *name, size_t n)
{
	const uint8_t *content;
	file_meta m;
	uk_buf img;
	uint16_t sw;
	int slot = fid_slot(fid);

	if (slot < 0 || slot_is_cert(slot) || n == 0 || n > UKT_FILE_NAME_MAX)
		return UK_SW_WRONG_DATA;
	if (slot_meta(card, slot) == NULL)
		return UK_SW_NOT_FOUND;
	if (card->files->f[slot].state != FS_OK)
		return UK_SW_MEMORY_FAILURE;
	if (card->files->f[slot].name_len == n && memcmp(card->files->f[slot].name, name, n) == 0)
		return UK_SW_OK;                /* already so named: nothing to write */
	if (data_name_taken(card, name, n))
		return UK_SW_ALREADY_EXISTS;
	uk_buf_init(&img, FILE_IMG_MAX, 0);
	sw = file_load(card, slot, &img, &m, &content);
	if (sw == UK_SW_OK) {
		m.name_len = (uint8_t)n;
		memset(m.name, 0, sizeof(m.name));
		memcpy(m.name, name, n);
		sw = file_store(card, slot, &m, content);
	}
	uk_buf_free(&img);
	return sw;
}

/* The current EF, or the status word of why there is none usable. */
static uint16_t current(const ukt_card *card, int *slot)
{
	const file_meta *m;

	*slot = card->files->cur;
	if (*slot < 0 || (m = slot_meta(card, *slot)) == NULL)
		return UK_SW_NOT_ALLOWED;       /* 6986: no current EF (ISO 7816-4 §5.6) */
	return m->state == FS_OK ? UK_SW_OK : UK_SW_MEMORY_FAILURE;
}

uint16_t ukt_files_read(ukt_card *card, size_t off, size_t max, uk_buf *r, int *eof)
{
	const uint8_t *content;
	file_meta m;
	uk_buf img;
	uint16_t sw;
	size_t n;
	int slot;

	*eof = 0;
	uk_buf_init(&img, FILE_IMG_MAX, 0);
	sw = current(card, &slot);
	if (sw == UK_SW_OK)
		sw = file_load(card, slot, &img, &m, &content);
	if (sw != UK_SW_OK)
		goto out;
	sw = UK_SW_WRONG_P1P2_NO_INFO;          /* 6B00: offset beyond the end of the EF */
	if (off > m.len)
		goto out;
	n = m.len - off;
	*eof = n < max;
	if (n > max)
		n = max;
	sw = uk_buf_put(r, content + off, n) == 0 ? UK_SW_OK : UK_SW_UNKNOWN;
out:
	uk_buf_free(&img);
	return sw;
}

uint16_t ukt_files_write(ukt_card *card, size_t off, const uint8_t *p, size_t n)
{
	const uint8_t *content;
	uint8_t *next = NULL;
	file_meta m;
	uk_buf img;
	uint16_t sw;
	int slot;

	uk_buf_init(&img, FILE_IMG_MAX, 0);
	sw = current(card, &slot);
	if (sw == UK_SW_OK)
		sw = file_load(card, slot, &img, &m, &content);
	if (sw != UK_SW_OK)
		goto out;
	sw = UK_SW_WRONG_P1P2_NO_INFO;          /* no holes: write within or at the end */
	if (off > m.len)
		goto out;
	sw = UK_SW_NO_SPACE;                    /* 6A84: past the size the file was given */
	if (n > m.size - off)
		goto out;
	sw = UK_SW_UNKNOWN;
	next = malloc(m.size);
	if (next == NULL)
		goto out;
	memcpy(next, content, m.len);
	memcpy(next + off, p, n);
	if (off + n > m.len)
		m.len = (uint32_t)(off + n);
	sw = file_store(card, slot, &m, next);
out:
	free(next);
	uk_buf_free(&img);
	return sw;
}
