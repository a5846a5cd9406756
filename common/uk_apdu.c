#include "uk_apdu.h"

#include <string.h>

/* ISO/IEC 7816-4 §5.1: the body after the 4-byte header is one of
 *   (empty)                      case 1
 *   Le(1)                        case 2S    00 00 Le(2)   case 2E (00 = extended marker)
 *   Lc(1) data                   case 3S    00 Lc(2) data case 3E
 *   Lc(1) data Le(1)             case 4S    00 Lc(2) data Le(2) case 4E
 * A short Le of 00 means 256, an extended Le of 0000 means 65536. */
uint16_t uk_apdu_parse(const uint8_t *raw, size_t len, uk_apdu *out)
{
	const uint8_t *b;
	size_t n, lc;

	memset(out, 0, sizeof(*out));
	if (raw == NULL || len < 4)
		return UK_SW_WRONG_LENGTH;
	out->cla = raw[0];
	out->ins = raw[1];
	out->p1 = raw[2];
	out->p2 = raw[3];
	b = raw + 4;
	n = len - 4;
	if (n == 0)
		return UK_SW_OK;
	if (n == 1) {
		out->has_le = 1;
		out->le = b[0] ? b[0] : 256;
		return UK_SW_OK;
	}
	if (b[0] != 0) {
		/* short Lc */
		lc = b[0];
		if (n == 1 + lc) {
			out->data = b + 1;
			out->lc = lc;
			return UK_SW_OK;
		}
		if (n == 2 + lc) {
			out->data = b + 1;
			out->lc = lc;
			out->has_le = 1;
			out->le = b[1 + lc] ? b[1 + lc] : 256;
			return UK_SW_OK;
		}
		return UK_SW_WRONG_LENGTH;
	}
	/* b[0] == 0 and n >= 2: extended */
	out->extended = 1;
	if (n == 3) {
		out->has_le = 1;
		out->le = uk_get_u16(b + 1) ? uk_get_u16(b + 1) : 65536;
		return UK_SW_OK;
	}
	if (n < 3)
		return UK_SW_WRONG_LENGTH;
	lc = uk_get_u16(b + 1);
	if (lc == 0)
		return UK_SW_WRONG_LENGTH;
	if (n == 3 + lc) {
		out->data = b + 3;
		out->lc = lc;
		return UK_SW_OK;
	}
	if (n == 5 + lc) {
		out->data = b + 3;
		out->lc = lc;
		out->has_le = 1;
		out->le = uk_get_u16(b + 3 + lc) ? uk_get_u16(b + 3 + lc) : 65536;
		return UK_SW_OK;
	}
	return UK_SW_WRONG_LENGTH;
}

int uk_apdu_encode(const uk_apdu *a, uk_buf *out)
{
	int ext;

	if (a->lc > UK_APDU_MAX_NC || (a->has_le && (a->le == 0 || a->le > UK_APDU_MAX_NE)))
		return -1;
	if (a->lc > 0 && a->data == NULL)
		return -1;
	ext = a->extended || a->lc > 255 || (a->has_le && a->le > 256);
	uk_buf_put_u8(out, a->cla);
	uk_buf_put_u8(out, a->ins);
	uk_buf_put_u8(out, a->p1);
	uk_buf_put_u8(out, a->p2);
	if (a->lc > 0) {
		if (ext) {
			uk_buf_put_u8(out, 0);
			uk_buf_put_u16(out, (uint16_t)a->lc);
		} else {
			uk_buf_put_u8(out, (uint8_t)a->lc);
		}
		uk_buf_put(out, a->data, a->lc);
	}
	if (a->has_le) {
		if (ext) {
			if (a->lc == 0)
				uk_buf_put_u8(out, 0);
			uk_buf_put_u16(out, (uint16_t)(a->le == 65536 ? 0 : a->le));
		} else {
			uk_buf_put_u8(out, (uint8_t)(a->le == 256 ? 0 : a->le));
		}
	}
	return out->failed ? -1 : 0;
}

static const struct {
	uint16_t sw;
	uint16_t mask;
	const char *name;
} sw_names[] = {
	{ UK_SW_OK, 0xFFFF, "success" },
	{ UK_SW_BYTES_REMAINING, 0xFF00, "more response bytes available" },
	{ UK_SW_TRIES_LEFT, 0xFFF0, "verification failed (tries left in low nibble)" },
	{ UK_SW_MEMORY_FAILURE, 0xFFFF, "memory failure" },
	{ UK_SW_WRONG_LENGTH, 0xFFFF, "wrong length" },
	{ UK_SW_LOGICAL_CHANNEL, 0xFFFF, "logical channel not supported" },
	{ UK_SW_SM_UNSUPPORTED, 0xFFFF, "secure messaging not supported" },
	{ UK_SW_LAST_CMD_EXPECTED, 0xFFFF, "last command of the chain expected" },
	{ UK_SW_CHAINING_UNSUPPORTED, 0xFFFF, "command chaining not supported" },
	{ UK_SW_SECURITY_STATUS, 0xFFFF, "security status not satisfied" },
	{ UK_SW_AUTH_BLOCKED, 0xFFFF, "authentication method blocked" },
	{ UK_SW_DATA_INVALID, 0xFFFF, "reference data not usable" },
	{ UK_SW_CONDITIONS, 0xFFFF, "conditions of use not satisfied" },
	{ UK_SW_NOT_ALLOWED, 0xFFFF, "command not allowed" },
	{ UK_SW_SM_MISSING, 0xFFFF, "secure messaging data objects missing" },
	{ UK_SW_SM_INCORRECT, 0xFFFF, "secure messaging data objects incorrect" },
	{ UK_SW_WRONG_DATA, 0xFFFF, "incorrect data" },
	{ UK_SW_FUNC_UNSUPPORTED, 0xFFFF, "function not supported" },
	{ UK_SW_NOT_FOUND, 0xFFFF, "file or application not found" },
	{ UK_SW_NO_SPACE, 0xFFFF, "not enough memory space" },
	{ UK_SW_LC_INCONSISTENT, 0xFFFF, "Nc inconsistent with P1-P2" },
	{ UK_SW_WRONG_P1P2, 0xFFFF, "incorrect P1-P2" },
	{ UK_SW_REF_NOT_FOUND, 0xFFFF, "referenced data not found" },
	{ UK_SW_ALREADY_EXISTS, 0xFFFF, "already exists" },
	{ UK_SW_WRONG_P1P2_NO_INFO, 0xFFFF, "wrong parameters P1-P2" },
	{ UK_SW_WRONG_LE, 0xFF00, "wrong Le" },
	{ UK_SW_INS_UNSUPPORTED, 0xFFFF, "instruction not supported" },
	{ UK_SW_CLA_UNSUPPORTED, 0xFFFF, "class not supported" },
};

const char *uk_sw_name(uint16_t sw)
{
	size_t i;

	for (i = 0; i < sizeof(sw_names) / sizeof(sw_names[0]); i++)
		if ((sw & sw_names[i].mask) == sw_names[i].sw)
			return sw_names[i].name;
	return "unknown status";
}
