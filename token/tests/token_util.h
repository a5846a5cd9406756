/* ukey token tests: shared helpers (temporary state directories, file snapshots). */
#ifndef TOKEN_UTIL_H
#define TOKEN_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uk_test.h"
#include "ukt_card.h"
#include "ukt_host.h"

/* ASan+UBSan builds (UKEY_SANITIZE) run the card code several times slower: the scale tests
 * (kill counts, operation counts) do 1/TU_SLOW of their work there; memory errors need no
 * scale, the ordinary build keeps the full count. */
#if defined(__SANITIZE_ADDRESS__)
#define TU_SLOW 4
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_SLOW 4
#endif
#endif
#ifndef TU_SLOW
#define TU_SLOW 1
#endif

/* A fresh directory under TMPDIR; removed by tu_rmdir. */
static inline char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	static char path[512];

	snprintf(path, sizeof(path), "%s/ukt-test-XXXXXX", base);
	UK_CHECK(mkdtemp(path) != NULL);
	return strdup(path);
}

static inline void tu_rmdir(const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* Read DIR/state into a malloc'ed buffer. */
static inline unsigned char *tu_state_bytes(const char *dir, size_t *len)
{
	char path[1024];
	unsigned char *p;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "rb");
	UK_CHECK(f != NULL);
	UK_CHECK(fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	UK_CHECK(n > 0);
	rewind(f);
	p = malloc((size_t)n);
	UK_CHECK(p != NULL);
	UK_CHECK(fread(p, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Check the state file still holds exactly snap. */
#define TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen)                                      \
	do {                                                                              \
		size_t tu_n_;                                                             \
		unsigned char *tu_now_ = tu_state_bytes((dir), &tu_n_);                   \
		UK_CHECK_EQ(tu_n_, (snaplen));                                            \
		UK_CHECK_MEM(tu_now_, (snap), tu_n_);                                     \
		free(tu_now_);                                                            \
	} while (0)

/* Card opened with defaults in dir, selected, with a session and the user PIN verified. */
static inline ukt_card *tu_card_logged_in(const char *dir, ukt_host *h)
{
	ukt_card *card = ukt_card_open(dir, NULL);

	UK_CHECK(card != NULL);
	ukt_host_init_card(h, card);
	UK_CHECK_EQ(ukt_host_select(h), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(h), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(h, 0x81, "user1234", 8), 0x9000);
	return card;
}

#endif
