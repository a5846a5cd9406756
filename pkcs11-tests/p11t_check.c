/* p11t_check.c — the suite's checks: each records the first failure of a case in t->msg and
 * returns whether it held, so a case decides itself whether to go on (no hidden control flow). */
#include <stdio.h>
#include <string.h>

#include "p11t.h"

struct rv_name {
	CK_RV rv;
	const char *name;
};

#define RV(x) { x, #x }
static const struct rv_name rv_names[] = {
	RV(CKR_OK),
	RV(CKR_HOST_MEMORY),
	RV(CKR_SLOT_ID_INVALID),
	RV(CKR_GENERAL_ERROR),
	RV(CKR_FUNCTION_FAILED),
	RV(CKR_ARGUMENTS_BAD),
	RV(CKR_CANT_LOCK),
	RV(CKR_ATTRIBUTE_READ_ONLY),
	RV(CKR_ATTRIBUTE_SENSITIVE),
	RV(CKR_ATTRIBUTE_TYPE_INVALID),
	RV(CKR_ATTRIBUTE_VALUE_INVALID),
	RV(CKR_DATA_INVALID),
	RV(CKR_DATA_LEN_RANGE),
	RV(CKR_DEVICE_ERROR),
	RV(CKR_DEVICE_MEMORY),
	RV(CKR_DEVICE_REMOVED),
	RV(CKR_FUNCTION_NOT_SUPPORTED),
	RV(CKR_KEY_HANDLE_INVALID),
	RV(CKR_KEY_TYPE_INCONSISTENT),
	RV(CKR_MECHANISM_INVALID),
	RV(CKR_MECHANISM_PARAM_INVALID),
	RV(CKR_OBJECT_HANDLE_INVALID),
	RV(CKR_OPERATION_ACTIVE),
	RV(CKR_OPERATION_NOT_INITIALIZED),
	RV(CKR_PIN_INCORRECT),
	RV(CKR_PIN_LEN_RANGE),
	RV(CKR_PIN_LOCKED),
	RV(CKR_SESSION_CLOSED),
	RV(CKR_SESSION_COUNT),
	RV(CKR_SESSION_HANDLE_INVALID),
	RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
	RV(CKR_SESSION_READ_ONLY),
	RV(CKR_SESSION_EXISTS),
	RV(CKR_SESSION_READ_ONLY_EXISTS),
	RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
	RV(CKR_SIGNATURE_INVALID),
	RV(CKR_SIGNATURE_LEN_RANGE),
	RV(CKR_TEMPLATE_INCOMPLETE),
	RV(CKR_TEMPLATE_INCONSISTENT),
	RV(CKR_TOKEN_NOT_PRESENT),
	RV(CKR_TOKEN_NOT_RECOGNIZED),
	RV(CKR_USER_ALREADY_LOGGED_IN),
	RV(CKR_USER_NOT_LOGGED_IN),
	RV(CKR_USER_PIN_NOT_INITIALIZED),
	RV(CKR_USER_TYPE_INVALID),
	RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
	RV(CKR_USER_TOO_MANY_TYPES),
	RV(CKR_DOMAIN_PARAMS_INVALID),
	RV(CKR_CURVE_NOT_SUPPORTED),
	RV(CKR_BUFFER_TOO_SMALL),
	RV(CKR_CRYPTOKI_NOT_INITIALIZED),
	RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
};
#undef RV

const char *p11t_rv_name(CK_RV rv)
{
	for (size_t i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	return "CKR_?";
}

static void record(struct p11t *t, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void record(struct p11t *t, const char *fmt, va_list ap)
{
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
}

bool p11t_rv(struct p11t *t, CK_RV got, CK_RV want, const char *what)
{
	if (got == want)
		return true;
	if (!t->failed)
		snprintf(t->msg, sizeof(t->msg), "%s: got %s (0x%lx), want %s (0x%lx)", what,
		         p11t_rv_name(got), (unsigned long)got, p11t_rv_name(want),
		         (unsigned long)want);
	t->failed = true;
	return false;
}

bool p11t_true(struct p11t *t, bool cond, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		return true;
	if (!t->failed) {
		va_start(ap, fmt);
		record(t, fmt, ap);
		va_end(ap);
	}
	t->failed = true;
	return false;
}

int p11t_skip(struct p11t *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
	return P11T_SKIP;
}

int p11t_result(const struct p11t *t)
{
	return t->failed ? P11T_FAIL : P11T_PASS;
}

/* §3.1/§3.2: the character-string fields of CK_INFO, CK_SLOT_INFO and CK_TOKEN_INFO "must be
 * padded with the blank character (' ')" and "should not be null-terminated": so no NUL and
 * no other control byte anywhere in the field. Printable ASCII is what every module here
 * writes (UTF-8 would be allowed; none of them uses it). */
bool p11t_padded(struct p11t *t, const CK_UTF8CHAR *s, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (!p11t_true(t, s[i] >= 0x20 && s[i] < 0x7f,
		               "%s: byte %zu is 0x%02x, want a printable or blank-padded field", what,
		               i, s[i]))
			return false;
	return true;
}
