#include "ukt_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Reads straight into the buffer (no stack copy to wipe when the buffer is secret), never
 * asking it for more than its limit: a file of exactly the limit still reads. */
static int read_all(int fd, uk_buf *b)
{
	uint8_t *dst, extra;
	size_t want;
	ssize_t r;

	for (;;) {
		want = b->max - b->len < 4096 ? b->max - b->len : 4096;
		if (want == 0) {
			/* full: the file must end here */
			r = read(fd, &extra, 1);
			if (r < 0 && errno == EINTR)
				continue;
			return r == 0 ? 0 : -1;
		}
		dst = uk_buf_extend(b, want);
		if (dst == NULL)
			return -1;
		r = read(fd, dst, want);
		b->len -= want;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		b->len += (size_t)r;
	}
}

int ukt_fs_read(const char *path, uk_buf *img)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	ret = read_all(fd, img) == 0 ? 1 : -1;
	close(fd);
	return ret;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int ukt_fs_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int ukt_fs_replace(const char *dir, const char *tmp, const char *path, const uint8_t *p,
                   size_t n)
{
	int fd, ret = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, p, n) != 0 || fsync(fd) != 0) {
		close(fd);
		goto out;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0 || ukt_fs_sync_dir(dir) != 0)
		goto out;
	ret = 0;
out:
	if (ret != 0)
		unlink(tmp);
	return ret;
}
