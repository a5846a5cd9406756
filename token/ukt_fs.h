/* ukey token: durable files. Every file the card keeps (the state file, certificates and
 * data files) is replaced atomically: a temporary file is written and fsync'ed, renamed over
 * the old one, and the directory fsync'ed, so a crash leaves the old or the new content. */
#ifndef UKT_FS_H
#define UKT_FS_H

#include <stddef.h>
#include <stdint.h>

#include "uk_buf.h"

/* Read the whole file at path into img (appending): 1 read, 0 absent, -1 error
 * (unreadable, or larger than img's limit). */
int ukt_fs_read(const char *path, uk_buf *img);

/* Replace path with n bytes at p through tmp (both in dir), durably. 0 or -1; on failure
 * path is unchanged and tmp removed. */
int ukt_fs_replace(const char *dir, const char *tmp, const char *path, const uint8_t *p,
                   size_t n);

/* fsync a directory, after an unlink or rename in it. */
int ukt_fs_sync_dir(const char *dir);

#endif
