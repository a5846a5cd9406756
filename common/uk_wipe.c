#include "uk_wipe.h"

#include <string.h>

/* explicit_bzero (glibc >= 2.25) is not removed as a dead store; it keeps libcrypto out of
 * the parts that need no cryptography (the pcscd driver). */
void uk_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

/* Accumulate the differences of every byte so the time depends on n only; the volatile
 * accumulator keeps the compiler from ending the loop at the first difference. */
int uk_ct_equal(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	volatile unsigned char acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= (unsigned char)(x[i] ^ y[i]);
	return acc == 0;
}
