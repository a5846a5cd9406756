/* ifd_ccid fuzz target: the CCID host layer (ifd/uki_ccid.h) reading what a USB device
 * sends — class descriptors, RDR_to_PC messages, interrupt notices, and whole exchanges
 * against a bus that serves the input as bulk-IN transfers.
 *
 * Input: byte 0 chooses the mode.
 *   bits 0-1  0 = the parsers on the rest of the input; 1 = one XfrBlock exchange;
 *             2 = IccPowerOn then IccPowerOff; 3 = GetSlotStatus then an XfrBlock
 *   bit 2     extended APDU level with dwMaxCCIDMessageLength 26 (16 data bytes per
 *             message: chaining both ways), else short APDU level, 271
 *   bits 3-7  how the rest is cut into bulk-IN transfers: 0 = each transfer is a length
 *             byte then that many bytes; k = transfers of k bytes
 * For modes 1-3, byte 1 gives the command length (4 + byte 1) and byte 2 the response
 * capacity (2 x byte 2 + 1); the transfers start at byte 3. The bus times out at once when
 * the input is used up, so every exchange ends. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "uki_ccid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_bus {
	const uint8_t *p;
	size_t n;
	unsigned split;
} fuzz_bus;

static uki_status fb_out(void *ctx, const uint8_t *p, size_t n, int timeout_ms)
{
	(void)ctx;
	(void)p;
	if (n < UKI_CCID_HDR || n > UKI_CCID_MSG_MAX || timeout_ms <= 0)
		__builtin_trap();       /* the layer broke its own bounds */
	return UKI_OK;
}

static uki_status fb_in(void *ctx, uint8_t *p, size_t cap, size_t *got, int timeout_ms)
{
	fuzz_bus *b = ctx;
	size_t k;

	if (timeout_ms <= 0)
		__builtin_trap();
	*got = 0;
	if (b->n == 0)
		return UKI_ERR_TIMEOUT;
	if (b->split == 0) {
		k = b->p[0];
		b->p++;
		b->n--;
	} else {
		k = b->split;
	}
	if (k > b->n)
		k = b->n;
	if (k > cap)
		k = cap;
	memcpy(p, b->p, k);
	b->p += k;
	b->n -= k;
	*got = k;
	return UKI_OK;
}

static void fuzz_parsers(const uint8_t *p, size_t n, unsigned max_slot)
{
	uki_ccid_desc d;
	uki_ccid_msg m;
	uint32_t present, changed;
	volatile size_t sink = 0;

	if (uki_ccid_parse_desc(p, n, &d) == UKI_OK && d.dwMaxCCIDMessageLength < 11)
		__builtin_trap();
	(void)uki_ccid_find_desc(p, n, &d);
	if (uki_ccid_parse_msg(p, n, &m) == UKI_OK && m.length > 0)
		sink += m.data[m.length - 1];   /* data is inside the input */
	(void)uki_ccid_parse_notify(p, n, max_slot, &present, &changed);
	if (n > 1)
		sink += strlen(uki_ccid_error_name(p[1])) + uki_ccid_error_status(p[0], p[1]);
	(void)sink;
}

/* One layer per level for the whole run: uki_ccid_init's 64 KiB allocation per input
 * would take most of the fuzzer's time. */
static uki_ccid *fuzz_layer(int ext, const uki_ccid_bus *bus)
{
	static uki_ccid layers[2];
	uki_ccid_desc desc = { 0x0110, 0, 7, 2, ext ? 0x000404BEu : 0x000204BEu,
		               ext ? 26u : 271u, 1 };
	uki_ccid *c = &layers[ext != 0];

	if (c->buf == NULL && uki_ccid_init(c, bus, &desc, 1000) != UKI_OK)
		__builtin_trap();
	c->bus = *bus;
	c->seq = 0;
	return c;
}

static void fuzz_exchange(unsigned op, int ext, const uint8_t *p, size_t n)
{
	static uint8_t resp[520];
	uint8_t cmd[4 + 255];
	fuzz_bus b = { p + 3, n - 3, p[0] >> 3 };
	uki_ccid_bus bus = { &b, fb_out, fb_in };
	uki_ccid *c = fuzz_layer(ext, &bus);
	size_t cmd_len = 4 + (size_t)p[1], cap = 2 * (size_t)p[2] + 1, got = 0, i;
	unsigned icc;

	for (i = 0; i < cmd_len; i++)
		cmd[i] = (uint8_t)(i + 1);
	cmd[4] = p[1];
	switch (op) {
	case 1:
		if (uki_ccid_xfr(c, 0, cmd, cmd_len, resp, cap, &got) == UKI_OK &&
		    (got < 2 || got > cap))
			__builtin_trap();
		break;
	case 2:
		if (uki_ccid_power_on(c, 0, resp, UKI_ATR_MAX, &got) == UKI_OK &&
		    (got < 2 || got > UKI_ATR_MAX))
			__builtin_trap();
		(void)uki_ccid_power_off(c, 0);
		break;
	default:
		if (uki_ccid_slot_status(c, 0, &icc) == UKI_OK && icc > 2)
			__builtin_trap();
		(void)uki_ccid_xfr(c, 0, cmd, cmd_len, resp, cap, &got);
		break;
	}
	/* every exchange wipes its buffer; nothing reaches past the command or the input */
	for (i = 0; i < UKI_CCID_MSG_MAX && i < n + UKI_CCID_HDR + sizeof(cmd); i++)
		if (c->buf[i] != 0)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned op;

	if (size < 1)
		return 0;
	op = data[0] & 3u;
	if (op == 0)
		fuzz_parsers(data + 1, size - 1, data[0] >> 3);
	else if (size >= 3)
		fuzz_exchange(op, (data[0] & 4u) != 0, data, size);
	return 0;
}
