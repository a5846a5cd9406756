/* ifd_devname: the reader.conf DEVICENAME syntax (uki.h), accepted and refused forms. */
#include "uki.h"
#include "uk_test.h"

int main(void)
{
	static const char *const bad[] = {
		"", "unix", "unix:", ":/x", "unix:relative.sock", "unix:/x;slots=0",
		"unix:/x;slots=17", "unix:/x;slots=", "unix:/x;slots=2x", "unix:/x;slots=-1",
		"unix:/x;bogus=1", "unix:/x;slots", "unix:/x;timeout=10", "unix:/x;;slots=2",
		"unix:/x;owner=-5",
	};
	uki_devname d;
	size_t i;

	UK_CHECK_EQ(uki_devname_parse("unix:/run/ukey/link.sock", &d), UKI_OK);
	UK_CHECK(strcmp(d.scheme, "unix") == 0);
	UK_CHECK(strcmp(d.address, "/run/ukey/link.sock") == 0);
	UK_CHECK_EQ(d.slots, 1);
	UK_CHECK_EQ(d.timeout_ms, UKI_DEFAULT_TIMEOUT_MS);
	UK_CHECK_EQ(d.owner, -1);
	UK_CHECK_EQ(uki_devname_parse("unix:/run/ukey/link.sock;slots=4", &d), UKI_OK);
	UK_CHECK_EQ(d.slots, 4);
	UK_CHECK(strcmp(d.address, "/run/ukey/link.sock") == 0);
	UK_CHECK_EQ(uki_devname_parse("unix:/a;timeout=1500;slots=16;owner=1000", &d), UKI_OK);
	UK_CHECK_EQ(d.slots, 16);
	UK_CHECK_EQ(d.timeout_ms, 1500);
	UK_CHECK_EQ(d.owner, 1000);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d.slots = 99;
		if (uki_devname_parse(bad[i], &d) != UKI_ERR_PARAM)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		UK_CHECK_EQ(uki_devname_parse(bad[i], &d), UKI_ERR_PARAM);
		UK_CHECK_EQ(d.slots, 99);       /* output untouched on error */
	}
	/* as pcscd passes a quoted reader.conf value */
	UK_CHECK_EQ(uki_devname_parse("\"unix:/r/l.sock;slots=3\"", &d), UKI_OK);
	UK_CHECK_EQ(d.slots, 3);
	UK_CHECK(strcmp(d.address, "/r/l.sock") == 0);
	UK_CHECK_EQ(uki_devname_parse("'unix:/r/l.sock'", &d), UKI_OK);
	UK_CHECK_EQ(uki_devname_parse("\"unix:/r/l.sock", &d), UKI_ERR_PARAM);
	UK_CHECK_EQ(uki_devname_parse(NULL, &d), UKI_ERR_PARAM);
	return uk_test_done("ifd_devname");
}
