/* ukey common: secret wiping and constant-time comparison.
 * Every part clears secrets (PINs, keys, APDU buffers) only through uk_wipe()
 * and compares them only through uk_ct_equal(). */
#ifndef UK_WIPE_H
#define UK_WIPE_H

#include <stddef.h>

/* Clear n bytes at p in a way the compiler cannot elide. p may be NULL when n is 0. */
void uk_wipe(void *p, size_t n);

/* 1 if the n bytes at a and b are equal, 0 otherwise; time depends only on n. */
int uk_ct_equal(const void *a, const void *b, size_t n) __attribute__((warn_unused_result));

#endif
