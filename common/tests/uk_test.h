/* ukey test helpers: a test program is a main() calling UK_CHECK*; it exits 1 on the
 * first failed check (after printing where), 77 when skipped, 0 when every check passed. */
#ifndef UK_TEST_H
#define UK_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UK_TEST_SKIP 77

static int uk_test_checks;

#define UK_CHECK(cond)                                                                  \
	do {                                                                            \
		uk_test_checks++;                                                       \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
			        #cond);                                                 \
			exit(1);                                                        \
		}                                                                       \
	} while (0)

#define UK_CHECK_EQ(a, b)                                                               \
	do {                                                                            \
		long long uk_a_ = (long long)(a), uk_b_ = (long long)(b);               \
		uk_test_checks++;                                                       \
		if (uk_a_ != uk_b_) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s == %s (0x%llx != 0x%llx)\n", \
			        __FILE__, __LINE__, #a, #b, uk_a_, uk_b_);              \
			exit(1);                                                        \
		}                                                                       \
	} while (0)

#define UK_CHECK_MEM(a, b, n)                                                           \
	do {                                                                            \
		uk_test_checks++;                                                       \
		if (memcmp((a), (b), (n)) != 0) {                                       \
			fprintf(stderr, "%s:%d: check failed: %s equals %s (%zu bytes)\n", \
			        __FILE__, __LINE__, #a, #b, (size_t)(n));               \
			exit(1);                                                        \
		}                                                                       \
	} while (0)

/* Call at the end of main(): a test that checked nothing fails. */
static inline int uk_test_done(const char *name)
{
	if (uk_test_checks == 0) {
		fprintf(stderr, "%s: no checks ran\n", name);
		return 1;
	}
	printf("%s: %d checks passed\n", name, uk_test_checks);
	return 0;
}

static inline int uk_test_skip(const char *why)
{
	printf("skipped: %s\n", why);
	return UK_TEST_SKIP;
}

#endif
