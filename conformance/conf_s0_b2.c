/* SPEC S0-B2: a 20-digit standard serial number on every key, and two casings: yellow =
 * core-business zone, green = public-service zone. The key reports both in GET DATA 00
 * (docs/apdu.md: tag 80 serial, 20 ASCII digits; tag 82 zone 01 yellow / 02 green). */
#include <string.h>

#include "conf.h"
#include "uk_tlv.h"

static void read_info(conf_ctx *c, char serial[21], uint8_t *zone)
{
	uk_buf b;
	uk_tlv t;
	size_t i;

	uk_buf_init(&b, 0, 0);
	UK_CHECK_EQ(conf_get_data(c, 0x00, &b), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(b.data, b.len, 0x80, &t), 1);
	UK_CHECK_EQ(t.len, 20);
	for (i = 0; i < t.len; i++)
		UK_CHECK(t.value[i] >= '0' && t.value[i] <= '9');
	memcpy(serial, t.value, 20);
	serial[20] = '\0';
	UK_CHECK_EQ(uk_tlv_find(b.data, b.len, 0x82, &t), 1);
	UK_CHECK_EQ(t.len, 1);
	UK_CHECK(t.value[0] == 0x01 || t.value[0] == 0x02);
	*zone = t.value[0];
	uk_buf_free(&b);
}

static void check_card(conf_ctx *c, const char *want_serial, uint8_t want_zone)
{
	char serial[21];
	uint8_t zone;

	UK_CHECK_EQ(ukt_host_select(&c->h), 0x9000);
	read_info(c, serial, &zone);
	conf_say(c, "GET DATA 00: serial %s (20 digits), zone %02X (%s)", serial, zone,
	         zone == 1 ? "yellow, core-business" : "green, public-service");
	if (want_serial != NULL)
		UK_CHECK(strcmp(serial, want_serial) == 0);
	if (want_zone != 0)
		UK_CHECK_EQ(zone, want_zone);
	if (c->card != NULL)
		UK_CHECK(strcmp(serial, ukt_card_serial(c->card)) == 0);
	/* the serial is a property of the key: the same after a power cycle */
	conf_reset(c, 1);
	UK_CHECK_EQ(ukt_host_select(&c->h), 0x9000);
	{
		char again[21];
		uint8_t z2;

		read_info(c, again, &z2);
		UK_CHECK(strcmp(again, serial) == 0);
		UK_CHECK_EQ(z2, zone);
	}
	conf_say(c, "serial and zone unchanged after a reset");
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-B2_serial_zone";
	static conf_ctx c;
	ukt_provision yellow;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	/* the defaults: green zone (DESIGN.md "Emulated key defaults") */
	check_card(&c, NULL, 0x02);
	conf_close(&c);
	if (argc == 1) {
		/* in-process only: a key provisioned yellow with a given serial reports both */
		memset(&yellow, 0, sizeof(yellow));
		yellow.serial = "31010012345678901234";
		yellow.zone = 1;
		UK_CHECK_EQ(conf_open(&c, name, argc, argv, &yellow), 0);
		check_card(&c, yellow.serial, 0x01);
		conf_close(&c);
	}
	return uk_test_done(name);
}
