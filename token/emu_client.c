/* ukey-emu ctl: the command-line client of the control socket (docs/ukey-emu.md).
 *
 *   ukey-emu ctl [--control PATH] [--timeout S] COMMAND [ARGS...]
 *   ukey-emu ctl [--control PATH] create [--serial S] [--label L] [--zone green|yellow]
 *                [--user-pin-file F] [--so-pin-file F] [--button] [--auto-confirm]
 *                [--confirm-timeout MS] [--pinpad] [--auto-pinpad-file F] [--max-tries N]
 *   ukey-emu ctl [--control PATH] pinpad N [--pin-file F] | pinpad N cancel
 *
 * The path defaults to $UKEY_EMU_CONTROL. PINs for `create` come from the files or from
 * $UKEY_EMU_USER_PIN / $UKEY_EMU_SO_PIN, never from the command line (ps shows it); likewise the
 * PIN typed on a pinpad comes from --pin-file F or $UKEY_EMU_PINPAD_PIN. Prints the
 * reply line; exit 0 for `ok`, 1 for `error`, 2 for a usage or connection problem. */
#define _GNU_SOURCE
#include "emu.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "uk_wipe.h"

typedef struct client_opts {
	const char *control;
	long timeout_s;
	const char *serial, *label, *zone, *user_pin_file, *so_pin_file, *confirm_ms;
	const char *pad_file, *max_tries, *pin_file;
	int button, auto_confirm, pinpad;
} client_opts;

static void client_usage(void)
{
	fprintf(stderr,
	        "usage: ukey-emu ctl [--control PATH] [--timeout S] COMMAND [ARGS...]\n"
	        "commands: list | create [--serial S] [--label L] [--zone green|yellow]\n"
	        "          [--user-pin-file F] [--so-pin-file F] [--button] [--auto-confirm]\n"
	        "          [--confirm-timeout MS] [--pinpad] [--auto-pinpad-file F]\n"
	        "          [--max-tries N] | remove N | insert N | latency N MS|s0 |\n"
	        "          powerloss N [before|after] | refuse N on|off | clear N | confirm N |\n"
	        "          pinpad N [--pin-file F] (else $UKEY_EMU_PINPAD_PIN) | pinpad N cancel\n");
}

static int client_parse(int argc, char **argv, client_opts *o)
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, 'c' }, { "timeout", required_argument, NULL, 't' },
		{ "serial", required_argument, NULL, 'S' },  { "label", required_argument, NULL, 'L' },
		{ "zone", required_argument, NULL, 'z' },
		{ "user-pin-file", required_argument, NULL, 'u' },
		{ "so-pin-file", required_argument, NULL, 'o' },
		{ "button", no_argument, NULL, 'b' },        { "auto-confirm", no_argument, NULL, 'a' },
		{ "confirm-timeout", required_argument, NULL, 'w' },
		{ "pinpad", no_argument, NULL, 'p' },
		{ "auto-pinpad-file", required_argument, NULL, 'P' },
		{ "max-tries", required_argument, NULL, 'm' },
		{ "pin-file", required_argument, NULL, 'f' }, { NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->control = getenv("UKEY_EMU_CONTROL");
	o->timeout_s = 60;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->control = optarg; break;
		case 't': o->timeout_s = strtol(optarg, NULL, 10); break;
		case 'S': o->serial = optarg; break;
		case 'L': o->label = optarg; break;
		case 'z': o->zone = optarg; break;
		case 'u': o->user_pin_file = optarg; break;
		case 'o': o->so_pin_file = optarg; break;
		case 'b': o->button = 1; break;
		case 'a': o->auto_confirm = 1; break;
		case 'w': o->confirm_ms = optarg; break;
		case 'p': o->pinpad = 1; break;
		case 'P': o->pad_file = optarg; break;
		case 'm': o->max_tries = optarg; break;
		case 'f': o->pin_file = optarg; break;
		default: return -1;
		}
	}
	return o->control != NULL && optind < argc && o->timeout_s > 0 ? 0 : -1;
}

static void append(char *line, size_t cap, const char *prefix, const char *v)
{
	size_t n = strlen(line);

	snprintf(line + n, cap - n, "%s%s", prefix, v);
}

/* %XX-encode a value for the line (labels may hold spaces, PINs anything): " key=value", or
 * " value" when key is NULL. */
static void append_escaped(char *line, size_t cap, const char *key, const uint8_t *v, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(line), i;

	o += (size_t)(key != NULL ? snprintf(line + o, cap - o, " %s=", key)
	                          : snprintf(line + o, cap - o, " "));
	for (i = 0; i < n && o + 4 < cap; i++) {
		line[o++] = '%';
		line[o++] = hex[v[i] >> 4];
		line[o++] = hex[v[i] & 15];
	}
	line[o] = '\0';
}

static int append_pin(char *line, size_t cap, const char *key, const char *file, const char *env)
{
	uint8_t pin[EMU_PIN_MAX];
	long n = emu_pin_source(file, env, pin);

	if (n > 0)
		append_escaped(line, cap, key, pin, (size_t)n);
	uk_wipe(pin, sizeof(pin));
	return n < 0 ? -1 : 0;
}

/* A file named to ukey-emu, which may run in another directory: made absolute. */
static int append_path(char *line, size_t cap, const char *key, const char *file)
{
	char *abs = realpath(file, NULL);

	if (abs == NULL)
		return fprintf(stderr, "ukey-emu ctl: %s: %s\n", file, strerror(errno)), -1;
	append_escaped(line, cap, key, (const uint8_t *)abs, strlen(abs));
	free(abs);
	return 0;
}

/* pinpad N [--pin-file F]: the PIN typed on key N's pinpad, from the file or
 * $UKEY_EMU_PINPAD_PIN (never a command-line word); pinpad N cancel goes as it is. */
static int build_pinpad(const client_opts *o, int argc, char **argv, char *line, size_t cap)
{
	uint8_t pin[EMU_PIN_MAX];
	long n;

	if (argc - optind == 3 && strcmp(argv[optind + 2], "cancel") == 0 && o->pin_file == NULL)
		return snprintf(line, cap, "pinpad %s cancel", argv[optind + 1]) < (int)cap ? 0 : -1;
	if (argc - optind != 2 || strpbrk(argv[optind + 1], " \n") != NULL)
		return -1;
	snprintf(line, cap, "pinpad %s", argv[optind + 1]);
	n = emu_pin_source(o->pin_file, "UKEY_EMU_PINPAD_PIN", pin);
	if (n > 0)
		append_escaped(line, cap, NULL, pin, (size_t)n);
	uk_wipe(pin, sizeof(pin));
	return n > 0 && strlen(line) + 2 < cap ? 0 : -1;
}

static int build_create(const client_opts *o, char *line, size_t cap)
{
	snprintf(line, cap, "create");
	if (o->serial)
		append(line, cap, " serial=", o->serial);
	if (o->label)
		append_escaped(line, cap, "label", (const uint8_t *)o->label, strlen(o->label));
	if (o->zone)
		append(line, cap, " zone=", o->zone);
	if (o->confirm_ms)
		append(line, cap, " confirm-timeout=", o->confirm_ms);
	if (o->button)
		append(line, cap, " button", "");
	if (o->auto_confirm)
		append(line, cap, " auto-confirm", "");
	if (o->pinpad)
		append(line, cap, " pinpad", "");
	if (o->max_tries)
		append(line, cap, " max-tries=", o->max_tries);
	if (o->pad_file && append_path(line, cap, "auto-pinpad-file", o->pad_file) != 0)
		return -1;
	if (append_pin(line, cap, "user-pin", o->user_pin_file, "UKEY_EMU_USER_PIN") != 0 ||
	    append_pin(line, cap, "so-pin", o->so_pin_file, "UKEY_EMU_SO_PIN") != 0)
		return -1;
	return strlen(line) + 2 < cap ? 0 : -1;
}

static int build_line(const client_opts *o, int argc, char **argv, char *line, size_t cap)
{
	int i;

	if (strcmp(argv[optind], "create") == 0)
		return optind + 1 == argc ? build_create(o, line, cap) : -1;
	if (strcmp(argv[optind], "pinpad") == 0)
		return build_pinpad(o, argc, argv, line, cap);
	line[0] = '\0';
	for (i = optind; i < argc; i++) {
		if (strchr(argv[i], ' ') != NULL || strchr(argv[i], '\n') != NULL)
			return -1;
		append(line, cap, i == optind ? "" : " ", argv[i]);
	}
	return strlen(line) + 2 < cap ? 0 : -1;
}

/* Send the line, read one reply line (bounded). 0 ok, 1 error reply, 2 transport. */
static int client_exchange(const client_opts *o, char *line)
{
	char reply[EMU_CTL_LINE_MAX + 2];
	size_t len = 0, n = strlen(line);
	long long deadline = emu_now_ms() + o->timeout_s * 1000;
	struct pollfd p;
	ssize_t r;
	int fd = emu_connect_unix(o->control);

	if (fd < 0)
		return fprintf(stderr, "ukey-emu ctl: %s: %s\n", o->control, strerror(errno)), 2;
	line[n] = '\n';
	r = send(fd, line, n + 1, MSG_NOSIGNAL);
	line[n] = '\0';
	while (r == (ssize_t)n + 1 && memchr(reply, '\n', len) == NULL && len < sizeof(reply) - 1) {
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(deadline - emu_now_ms())) <= 0)
			break;
		r = read(fd, reply + len, sizeof(reply) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		r = (ssize_t)n + 1;
	}
	close(fd);
	if (memchr(reply, '\n', len) == NULL)
		return fprintf(stderr, "ukey-emu ctl: no reply from %s\n", o->control), 2;
	reply[strcspn(reply, "\n")] = '\0';
	printf("%s\n", reply);
	return strncmp(reply, "ok", 2) == 0 && (reply[2] == '\0' || reply[2] == ' ') ? 0 : 1;
}

int emu_ctl_client(int argc, char **argv)
{
	char line[EMU_CTL_LINE_MAX];
	client_opts o;
	int ret = 2;

	if (client_parse(argc, argv, &o) != 0) {
		client_usage();
		return 2;
	}
	if (build_line(&o, argc, argv, line, sizeof(line)) != 0) {
		fprintf(stderr, "ukey-emu ctl: bad command or PIN source\n");
		goto out;
	}
	ret = client_exchange(&o, line);
out:
	uk_wipe(line, sizeof(line));
	return ret;
}
