/* ukey token: certificates and data files (docs/apdu.md "Files"), GM/T 0016 model: each
 * container holds a signing and an encryption certificate, the application holds data
 * files (seal images, S0 §3). Internal to the token, not installed.
 *
 * File identifiers are proprietary and fixed: certificate of key reference KR = C0 KR
 * (KR 0-31), data file n = D0 n (n 0-31). Each file is one file in the key's state
 * directory (file-C000 …), written atomically (temp, fsync, rename, fsync dir), with a header
 * carrying its length and a SHA-256; a file that fails the check is never served. The
 * directory is the record: the main state (ukt_state) does not list files. A certificate is
 * served only while its container exists; orphans (a crash between DELETE CONTAINER's state
 * write and its unlinks) are removed when the card is opened. */
#ifndef UKT_FILES_H
#define UKT_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "uk_buf.h"

typedef struct ukt_card ukt_card;
typedef struct ukt_cmd ukt_cmd;
typedef struct ukt_files ukt_files;

#define UKT_FILE_CERT_MAX 4096u
#define UKT_FILE_DATA_MAX 65536u
#define UKT_FILE_DATA_COUNT 32u
#define UKT_FILE_NAME_MAX 32u
#define UKT_FID_CERT 0xC0
#define UKT_FID_DATA 0xD0

/* Load the file index of card->dir (checks every file once), sweep temp files and orphan
 * certificates. 0, or -1 (out of memory). */
int ukt_files_open(ukt_card *card);
void ukt_files_close(ukt_card *card);
/* No current file (power off/reset, SELECT of the application). */
void ukt_files_deselect(ukt_card *card);
/* Bytes reserved by files (their declared sizes), for the free space of GET DATA 00. */
size_t ukt_files_used(const ukt_card *card);
/* Nominal free space: UKT_CAPACITY less containers and files (GET DATA 00 tag 86). */
size_t ukt_space_free(const ukt_card *card);
/* Bytes the containers of st take (ukt_cmd.c). */
struct ukt_state;
size_t ukt_space_used(const struct ukt_state *st);
/* GET DATA 02: 86/87 = length of the signing/encryption certificate of container idx
 * (2 bytes), when present, appended to the container template tpl. */
void ukt_files_put_cert_lengths(const ukt_card *card, unsigned idx, uk_buf *tpl);
/* GET DATA 03: one A1 { 83 fid, 84 name, 80 size, 81 length } per data file. */
void ukt_files_put_list(const ukt_card *card, uk_buf *r);

/* ukt_cmd_files.c: instruction handlers (ISO 7816-4 §11.1.1, §11.2.3, §11.2.5; proprietary
 * CREATE/DELETE FILE and DELETE CONTAINER, GM/T 0016 SKF_CreateFile/DeleteFile/
 * DeleteContainer). The two dispatchers share INS with the instructions of ukt_cmd.c:
 * A4 (P1 04 AID, 02 file), E0 (P1 00 container, 01 file), E4 (P1 00 file, 01 container). */
uint16_t ukt_cmd_select_any(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_create_any(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_delete_any(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_read_binary(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_update_binary(ukt_card *card, ukt_cmd *c);

/* The file operations behind the handlers (ukt_files.c). Status words of docs/apdu.md. */
uint16_t ukt_files_select(ukt_card *card, uint16_t fid);
uint16_t ukt_files_create(ukt_card *card, uint16_t fid, size_t size, const uint8_t *name,
                          size_t name_len);
uint16_t ukt_files_delete(ukt_card *card, uint16_t fid);
/* Read from the current file at off: up to max bytes appended to r; *eof set when the end
 * of the file was reached before max bytes. */
uint16_t ukt_files_read(ukt_card *card, size_t off, size_t max, uk_buf *r, int *eof);
uint16_t ukt_files_write(ukt_card *card, size_t off, const uint8_t *p, size_t n);
/* RENAME FILE: data file fid gets name (1-32 bytes, unique among data files). 9000, 6A80
 * (not a data file, bad name), 6A82 absent, 6A89 name taken, 6581 damaged or write failed. */
uint16_t ukt_files_rename(ukt_card *card, uint16_t fid, const uint8_t *name, size_t n);
/* After DELETE CONTAINER's state write: remove the certificates of container idx. */
void ukt_files_drop_container(ukt_card *card, unsigned idx);
/* After REINITIALISE APPLICATION's state write: remove every file (a failed unlink is
 * retried at the next open, st.sweep_files). */
void ukt_files_drop_all(ukt_card *card);

#endif
