/* ukey-tool: main, options, the command table and each command's --help
 * (docs/ukey-tool.md "Synopsis", "Commands").
 *
 *   ukey-tool [GLOBAL OPTIONS] COMMAND [SUBCOMMAND] [ARGS] [OPTIONS]
 *   ukey-tool COMMAND --help
 *
 * Options may come before or after the command. PINs never come from the command line. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ukey-tool.h"

#define KEYSEL "[--serial S|--slot ID]"

static const struct ut_cmd commands[] = {
	{ "list", NULL, 0, 0, 0, cmd_list, "list",
	  "Every key inserted: serial, label, zone, user PIN and SO PIN tries left / maximum and\n"
	  "state; then the readers without a key. No PIN needed." },
	{ "info", NULL, 0, 0, 0, cmd_info, "info " KEYSEL,
	  "One key: token info, PIN states, containers with their key pairs, certificates\n"
	  "(subject, issuer, serial number, validity, SHA-256 fingerprint) and data files." },
	{ "verify-pin", NULL, 0, 0, 0, cmd_verify_pin, "verify-pin [--so] [--pin-file F|--so-pin-file F]",
	  "Log in and out with the user PIN (--so: the SO PIN) and show the tries left." },
	{ "change-pin", NULL, 0, 0, 0, cmd_change_pin,
	  "change-pin [--so] [--pin-file F|--so-pin-file F] [--new-pin-file F]",
	  "Change the user PIN (--so: the SO PIN): the old PIN, then the new one (twice on a\n"
	  "terminal). The new PIN: 8-12 letters and digits, with at least one of each." },
	{ "unlock", NULL, 0, 0, 0, cmd_unlock, "unlock [--so-pin-file F] [--new-pin-file F]",
	  "The SO PIN sets a new user PIN (unblocks a locked one, sets one after init); the key\n"
	  "then asks the holder to change it." },
	{ "init", NULL, 0, UT_NEED_LABEL, 0, cmd_init, "init --label LABEL [--so-pin-file F] [--yes]",
	  "Re-initialise the key with the SO PIN: every container, key, certificate and data\n"
	  "file is erased; the SO PIN stays; then set the user PIN with `ukey-tool unlock`." },
	{ "containers", "list", 0, 0, 0, cmd_containers_list, "containers list",
	  "The containers and what each holds (signing pair, encryption pair, certificates)." },
	{ "containers", "create", 1, 0, 0, cmd_containers_create,
	  "containers create NAME [--alg sm2|p256|rsa2048]",
	  "A container NAME with its signing key pair (a container exists only with a pair)." },
	{ "containers", "delete", 1, 0, 0, cmd_containers_delete, "containers delete NAME [--yes]",
	  "Delete container NAME with its key pairs and certificates." },
	{ "keygen", NULL, 0, UT_NEED_LABEL, 0, cmd_keygen,
	  "keygen --label NAME [--alg sm2|p256|rsa2048] [--usage sign|enc]",
	  "Generate a key pair in container NAME (created if absent); default SM2 signing." },
	{ "pubkey", NULL, 0, UT_NEED_LABEL | UT_NEED_OUT, 0, cmd_pubkey,
	  "pubkey --label NAME [--usage sign|enc] --out F",
	  "Write the public key of the pair as PEM SubjectPublicKeyInfo (--out -: stdout)." },
	{ "sign", NULL, 0, UT_NEED_LABEL | UT_NEED_IN | UT_NEED_OUT, 0, cmd_sign,
	  "sign --label NAME --in F --out F",
	  "Sign F with the signing pair: SM2 with SM3 and the default user ID (DER signature);\n"
	  "ECDSA-SHA256 for P-256, SHA256-RSA-PKCS for RSA." },
	{ "csr", NULL, 0, UT_NEED_LABEL | UT_NEED_SUBJECT | UT_NEED_OUT, 0, cmd_csr,
	  "csr --label NAME --subject /CN=../O=.. --out F [--usage sign|enc]",
	  "A PKCS#10 request (PEM) signed on the key: SM2 with SM3 and user ID\n"
	  "1234567812345678 for SM2, ECDSA-SHA256 or SHA256-RSA for the others." },
	{ "import-cert", NULL, 0, UT_NEED_LABEL | UT_NEED_IN, 0, cmd_import_cert,
	  "import-cert --label NAME --in F [--usage sign|enc]",
	  "Store a certificate (PEM or DER) with the pair whose public key it holds." },
	{ "export-cert", NULL, 0, UT_NEED_LABEL | UT_NEED_OUT, 0, cmd_export_cert,
	  "export-cert --label NAME [--usage sign|enc] [--der] --out F",
	  "Write the pair's certificate, PEM (DER with --der); --out - writes to stdout." },
	{ "import-enveloped", NULL, 0, UT_NEED_LABEL | UT_NEED_IN, 0, cmd_import_enveloped,
	  "import-enveloped --label NAME --in BLOB",
	  "Import the CA's escrowed encryption key pair (GM/T 0016 ENVELOPEDKEYBLOB, 388 bytes,\n"
	  "binary or base64), opened by the container's SM2 signing pair." },
	{ "delete", NULL, 0, UT_NEED_LABEL, 0, cmd_delete,
	  "delete --label NAME [--usage sign|enc] [--cert-only] [--yes]",
	  "Delete one key pair and its certificate, or with --cert-only only the certificate." },
	{ "data", "list", 0, 0, 0, cmd_data_list, "data list", "The data files: name, size." },
	{ "data", "put", 1, UT_NEED_IN, 0, cmd_data_put, "data put NAME --in F [--yes]",
	  "Store F (up to 64 KiB) as data file NAME; an existing one is replaced after\n"
	  "confirmation or --yes." },
	{ "data", "get", 1, UT_NEED_OUT, 0, cmd_data_get, "data get NAME --out F",
	  "Read data file NAME into F (--out -: stdout)." },
	{ "data", "delete", 1, 0, 0, cmd_data_delete, "data delete NAME [--yes]",
	  "Delete data file NAME." },
	{ "emu", "create", 0, 0, 1, cmd_emu_create,
	  "emu create [--serial S] [--label L] [--zone green|yellow] [--max-tries N] [--pinpad]\n"
	  "           [--button] [--pin-file F] [--so-pin-file F] [--control PATH]",
	  "A new emulated key in the running ukey-emu, provisioned with the PINs from\n"
	  "--pin-file/--so-pin-file or $UKEY_USER_PIN/$UKEY_SO_PIN, plugged in at once." },
	{ "emu", "list", 0, 0, 1, cmd_emu_list, "emu list [--control PATH]",
	  "The emulated keys of the running ukey-emu." },
	{ "emu", "remove", 1, 0, 1, cmd_emu_remove, "emu remove N [--control PATH]",
	  "Pull emulated key N out." },
	{ "emu", "insert", 1, 0, 1, cmd_emu_insert, "emu insert N [--control PATH]",
	  "Plug emulated key N back in." },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_help[] =
	"Global options: --module PATH, --serial S, --slot ID, --json, --pin-file F,\n"
	"  --so-pin-file F, --new-pin-file F, --yes. `ukey-tool COMMAND --help` for a command.\n"
	"PINs come from the files, $UKEY_USER_PIN/$UKEY_SO_PIN/$UKEY_NEW_PIN or the terminal.\n"
	"Exit: 0 done, 1 failed, 2 usage, 3 no key, 4 wrong PIN, 5 PIN locked or not set,\n"
	"6 PIN policy, 7 not found.\n";

/* ---- options --------------------------------------------------------------------------- */

struct opt_def {
	const char *name;
	int has_arg;
	size_t off;     /* const char * field, or int flag */
};

#define OS(n, f) { n, 1, offsetof(struct ut_opts, f) }
#define OF(n, f) { n, 0, offsetof(struct ut_opts, f) }

static const struct opt_def opt_defs[] = {
	OS("--module", module_path), OS("--serial", serial), OS("--pin-file", pin_file),
	OS("--so-pin-file", so_pin_file), OS("--new-pin-file", new_pin_file),
	OS("--label", label), OS("--in", in), OS("--out", out), OS("--subject", subject),
	OS("--alg", alg), OS("--usage", usage), OS("--control", control), OS("--zone", zone),
	OS("--max-tries", max_tries), OS("--slot", slot),
	OF("--json", json), OF("--yes", yes), OF("--so", so), OF("--der", der),
	OF("--cert-only", cert_only), OF("--pinpad", pinpad), OF("--button", button),
	OF("--help", help), OF("-h", help),
};

static void print_usage(FILE *f, const struct ut_cmd *c)
{
	fprintf(f, "usage: ukey-tool %s\n", c->usage);
}

static void print_all_usage(FILE *f, const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (name == NULL || strcmp(commands[i].name, name) == 0)
			fprintf(f, "  ukey-tool %s\n", commands[i].usage);
}

int ut_usage_error(struct ut *t, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ut_error(t, UT_EXIT_USAGE, "usage", "%s", msg);
	if (t->cmd != NULL)
		print_usage(stderr, t->cmd);
	return UT_EXIT_USAGE;
}

static int parse_slot(struct ut *t, const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		return -1;
	t->o.slot = (CK_SLOT_ID)v;
	t->o.have_slot = 1;
	return 0;
}

/* One option at argv[*i] (also --opt=value); -1 unknown or missing value. */
static int parse_option(struct ut *t, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *eq = strchr(a, '='), *val;
	size_t n = eq != NULL ? (size_t)(eq - a) : strlen(a);

	for (size_t k = 0; k < sizeof(opt_defs) / sizeof(opt_defs[0]); k++) {
		const struct opt_def *d = &opt_defs[k];
		if (strlen(d->name) != n || strncmp(d->name, a, n) != 0)
			continue;
		if (!d->has_arg) {
			if (eq != NULL)
				return -1;
			*(int *)((char *)&t->o + d->off) = 1;
			return 0;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else
			return -1;
		if (strcmp(d->name, "--slot") == 0)
			return parse_slot(t, val);
		*(const char **)((char *)&t->o + d->off) = val;
		return 0;
	}
	return -1;
}

static const struct ut_cmd *find_cmd(const char *name, const char *sub, int *known)
{
	*known = 0;
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) != 0)
			continue;
		*known = 1;
		if (commands[i].sub == NULL || (sub != NULL && strcmp(commands[i].sub, sub) == 0))
			return &commands[i];
	}
	return NULL;
}

static int has_subs(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].sub != NULL;
	return 0;
}

static int global_usage(struct ut *t, int help)
{
	FILE *f = help ? stdout : stderr;

	if (!help)
		ut_error(t, UT_EXIT_USAGE, "usage", "no command given");
	fprintf(f, "usage: ukey-tool [GLOBAL OPTIONS] COMMAND [SUBCOMMAND] [ARGS] [OPTIONS]\n"
	        "commands:\n");
	print_all_usage(f, NULL);
	fputs(global_help, f);
	return help ? -1 : UT_EXIT_USAGE;
}

static int command_help(const struct ut_cmd *c)
{
	print_usage(stdout, c);
	printf("\n%s\n", c->help);
	return -1;
}

/* A command's checks of what the table says it needs. */
static int check_needs(struct ut *t, int nwords)
{
	static const struct { unsigned bit; size_t off; const char *name; } needs[] = {
		{ UT_NEED_LABEL, offsetof(struct ut_opts, label), "--label" },
		{ UT_NEED_IN, offsetof(struct ut_opts, in), "--in" },
		{ UT_NEED_OUT, offsetof(struct ut_opts, out), "--out" },
		{ UT_NEED_SUBJECT, offsetof(struct ut_opts, subject), "--subject" },
	};

	if (nwords != t->cmd->nargs)
		return ut_usage_error(t, nwords < t->cmd->nargs ? "missing argument" :
		                      "too many arguments");
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
		if ((t->cmd->need & needs[i].bit) &&
		    *(const char **)((const char *)&t->o + needs[i].off) == NULL)
			return ut_usage_error(t, "%s is required", needs[i].name);
	return 0;
}

/* 0 to run t->cmd, -1 help printed (exit 0), else the exit status of a usage error. */
static int parse_args(struct ut *t, int argc, char **argv)
{
	const char *words[8];
	int nw = 0, known, first;

	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			if (parse_option(t, argc, argv, &i) != 0)
				return ut_error(t, UT_EXIT_USAGE, "usage", "bad option %s (ukey-tool "
				                "--help)", argv[i]);
		} else if (nw < (int)(sizeof(words) / sizeof(words[0]))) {
			words[nw++] = argv[i];
		} else {
			return ut_error(t, UT_EXIT_USAGE, "usage", "too many arguments");
		}
	}
	if (nw == 0)
		return global_usage(t, t->o.help);
	t->cmd = find_cmd(words[0], nw > 1 ? words[1] : NULL, &known);
	if (!known)
		return ut_error(t, UT_EXIT_USAGE, "usage", "unknown command %s (ukey-tool --help)",
		                words[0]);
	if (t->cmd == NULL) {
		FILE *f = t->o.help ? stdout : stderr;
		if (!t->o.help)
			ut_error(t, UT_EXIT_USAGE, "usage", "%s: which one?", words[0]);
		print_all_usage(f, words[0]);
		return t->o.help ? -1 : UT_EXIT_USAGE;
	}
	if (t->o.help)
		return command_help(t->cmd);
	first = has_subs(words[0]) ? 2 : 1;
	for (int k = first; k < nw && k - first < 4; k++)
		t->o.args[t->o.nargs++] = words[k];
	return check_needs(t, nw - first);
}

int main(int argc, char **argv)
{
	struct ut t;
	int rc;

	memset(&t, 0, sizeof(t));
	t.err_tries = -1;
	rc = parse_args(&t, argc, argv);
	if (rc == -1) {
		rc = 0;
		t.o.json = 0;           /* help is text */
	} else if (rc == 0) {
		if (!t.cmd->no_module)
			rc = ut_load(&t);
		if (rc == 0)
			rc = t.cmd->run(&t);
	}
	if (t.initialized || t.dl != NULL)
		ut_unload(&t);
	ut_json_finish(&t, rc);
	ut_json_free(&t);
	return rc;
}
