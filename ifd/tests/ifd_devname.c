/* ifd_devname: the reader.conf DEVICENAME syntax (uki.h), accepted and refused forms. */
#include "uki.h"
#include "uki_usb.h"
#include "uk_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* tcp:HOST:PORT (vsmartcard interop): loopback only, port 1..65535, no owner=. */
static void check_tcp(void)
{
	static const char *const bad[] = {
		"tcp:", "tcp:127.0.0.1", "tcp:127.0.0.1:", "tcp:127.0.0.1:0", "tcp:127.0.0.1:65536",
		"tcp:127.0.0.1:-1", "tcp:127.0.0.1:+80", "tcp:127.0.0.1:0x8C7B", "tcp::35963",
		"tcp:0.0.0.0:35963", "tcp:10.0.0.1:35963", "tcp:192.168.1.2:35963", "tcp:[::]:1",
		"tcp:::2:1", "tcp:example.com:35963", "tcp:localhost.:1", "tcp:[127.0.0.1]x:1",
		"tcp:127.0.0.1:35963;owner=1000", "tcp:127.0.0.1:35963;slots=17",
		"tcp:128.0.0.1:35963", "tcp:[::1:5", "tcp:/tmp/x.sock",
	};
	struct sockaddr_storage ss;
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	uki_devname d;
	size_t i, len = 0;

	UK_CHECK_EQ(uki_devname_parse("tcp:127.0.0.1:35963", &d), UKI_OK);
	UK_CHECK(strcmp(d.scheme, "tcp") == 0);
	UK_CHECK(strcmp(d.address, "127.0.0.1:35963") == 0);
	UK_CHECK_EQ(d.slots, 1);
	UK_CHECK_EQ(uki_devname_parse("\"tcp:localhost:1;slots=3;timeout=1500\"", &d), UKI_OK);
	UK_CHECK_EQ(d.slots, 3);
	UK_CHECK_EQ(d.timeout_ms, 1500);
	UK_CHECK_EQ(uki_devname_parse("tcp:::1:35963", &d), UKI_OK);
	UK_CHECK_EQ(uki_devname_parse("tcp:[::1]:65535", &d), UKI_OK);
	UK_CHECK_EQ(uki_devname_parse("tcp:127.9.8.7:80", &d), UKI_OK);

	UK_CHECK_EQ(uki_devname_tcp("127.0.0.1:35963", &ss, &len), UKI_OK);
	UK_CHECK_EQ(ss.ss_family, AF_INET);
	UK_CHECK_EQ(len, sizeof(struct sockaddr_in));
	UK_CHECK_EQ(ntohs(v4->sin_port), 35963);
	UK_CHECK_EQ(ntohl(v4->sin_addr.s_addr), 0x7F000001u);
	UK_CHECK_EQ(uki_devname_tcp("localhost:1", &ss, &len), UKI_OK);
	UK_CHECK_EQ(ss.ss_family, AF_INET);
	UK_CHECK_EQ(ntohl(v4->sin_addr.s_addr), 0x7F000001u);
	UK_CHECK_EQ(ntohs(v4->sin_port), 1);
	UK_CHECK_EQ(uki_devname_tcp("[::1]:443", &ss, &len), UKI_OK);
	UK_CHECK_EQ(ss.ss_family, AF_INET6);
	UK_CHECK_EQ(len, sizeof(struct sockaddr_in6));
	UK_CHECK_EQ(ntohs(v6->sin6_port), 443);
	UK_CHECK(IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d.slots = 99;
		if (uki_devname_parse(bad[i], &d) != UKI_ERR_PARAM)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		UK_CHECK_EQ(uki_devname_parse(bad[i], &d), UKI_ERR_PARAM);
		UK_CHECK_EQ(d.slots, 99);
	}
}

/* usb: forms of docs/ccid.md "DEVICENAME for USB keys". */
static void check_usb(void)
{
	static const char *const bad[] = {
		"usb:1209", "usb:1209/", "usb:1209/001", "usb:12g9/0001", "usb:1209-0001",
		"usb:1209/00011", "usb:1209/0001:", "usb:1209/0001:libudev",
		"usb:1209/0001:libudev:0", "usb:1209/0001:libudev:0:/dev/bus/usb/001",
		"usb:1209/0001:libudev:0:/dev/bus/usb/001/",
		"usb:1209/0001:libudev:x:/dev/bus/usb/001/002",
		"usb:1209/0001:libudev:0:/dev/usb/001/002",
		"usb:1209/0001:libudev:0:/dev/bus/usb/000/002",
		"usb:1209/0001:libudev:0:/dev/bus/usb/001/000",
		"usb:1209/0001:libudev:0:/dev/bus/usb/256/002",
		"usb:1209/0001:libudev:0:/dev/bus/usb/001/128",
		"usb:1209/0001:libudev:0:/dev/bus/usb/001/002x",
		"usb:1209/0001:libudev:256:/dev/bus/usb/001/002",
		"usb:1209/0001:libudev:0:/dev/bus/usb/001/002;slots=2", "usb:;slots=17",
		"usb:;bogus=1", "Usb:", "usb",
	};
	uki_usb_filter f;
	uki_devname d;
	size_t i;

	UK_CHECK_EQ(uki_devname_parse("usb:", &d), UKI_OK);
	UK_CHECK(strcmp(d.scheme, "usb") == 0);
	UK_CHECK(strcmp(d.address, "") == 0);
	UK_CHECK_EQ(d.slots, 1);
	UK_CHECK_EQ(uki_usb_filter_parse(d.address, &f), UKI_OK);
	UK_CHECK_EQ(f.by_id, 0);
	UK_CHECK_EQ(f.exact, 0);
	UK_CHECK_EQ(uki_devname_parse("\"usb:;slots=4;timeout=2000\"", &d), UKI_OK);
	UK_CHECK_EQ(d.slots, 4);
	UK_CHECK_EQ(d.timeout_ms, 2000);
	UK_CHECK_EQ(uki_devname_parse("usb:096E/080a", &d), UKI_OK);
	UK_CHECK_EQ(uki_usb_filter_parse(d.address, &f), UKI_OK);
	UK_CHECK_EQ(f.by_id, 1);
	UK_CHECK_EQ(f.vid, 0x096E);
	UK_CHECK_EQ(f.pid, 0x080A);
	UK_CHECK_EQ(f.exact, 0);
	/* exactly what pcscd 1.9.9 hotplug_libudev.c writes: "usb:%04x/%04x:libudev:%d:%s" */
	UK_CHECK_EQ(uki_devname_parse("usb:1209/0001:libudev:0:/dev/bus/usb/003/017", &d), UKI_OK);
	UK_CHECK_EQ(d.slots, 1);
	UK_CHECK_EQ(uki_usb_filter_parse(d.address, &f), UKI_OK);
	UK_CHECK_EQ(f.by_id, 1);
	UK_CHECK_EQ(f.vid, 0x1209);
	UK_CHECK_EQ(f.pid, 0x0001);
	UK_CHECK_EQ(f.exact, 1);
	UK_CHECK_EQ(f.iface, 0);
	UK_CHECK_EQ(f.bus, 3);
	UK_CHECK_EQ(f.address, 17);
	UK_CHECK_EQ(uki_usb_filter_parse("abcd/ef01:libudev:2:/dev/bus/usb/255/127", &f), UKI_OK);
	UK_CHECK_EQ(f.iface, 2);
	UK_CHECK_EQ(f.bus, 255);
	UK_CHECK_EQ(f.address, 127);
	UK_CHECK_EQ(uki_usb_filter_parse(NULL, &f), UKI_ERR_PARAM);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d.slots = 99;
		if (uki_devname_parse(bad[i], &d) != UKI_ERR_PARAM)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		UK_CHECK_EQ(uki_devname_parse(bad[i], &d), UKI_ERR_PARAM);
		UK_CHECK_EQ(d.slots, 99);
	}
	/* the driver's own list (ukey-usb-ids.txt) holds the emulated key's test ID */
	UK_CHECK(uki_usb_id_known(0x1209, 0x0001));
	UK_CHECK(!uki_usb_id_known(0x1209, 0x0002));
	UK_CHECK(!uki_usb_id_known(0x163C, 0x0407));    /* TPDU level: libccid's */
}

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
	check_tcp();
	check_usb();
	return uk_test_done("ifd_devname");
}
