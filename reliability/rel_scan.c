/* rel_scan: search files for secrets, byte for byte and as hex text (rel_secrets.sh).
 *   rel_scan [-m NAME=HEX]... [-s NAME=HEX]... FILE...
 * -s: a secret; found anywhere, in the raw bytes of a file or in its hex text, is a failure.
 * -m: a marker that must be found in at least one file (the search can fail: a log whose
 *     APDUs the scan did not see would pass every secret).
 * The hex text of a file is its hex digits alone, lower-cased, everything else dropped: pcscd's
 * -a log prints APDUs as "00 A4 04 00 ..." and the search sees through the spaces and line
 * breaks. A secret is also looked for as upper- and lower-case ASCII of its hex spelling in
 * the raw bytes (a state file that stored "3945208F..." as text). Exit 0 clean, 1 a secret
 * found or a marker missing, 2 usage. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEEDLES 512

typedef struct needle {
	const char *name;
	unsigned char *bin;
	char *hex;              /* lower-case */
	size_t n;               /* bytes */
	int must, found;
} needle;

static needle nd[MAX_NEEDLES];
static int nn;

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* NAME=HEX into nd[nn]. */
static int add_needle(char *arg, int must)
{
	char *eq = strchr(arg, '=');
	size_t i, len;
	needle *d = &nd[nn];

	if (eq == NULL || nn == MAX_NEEDLES)
		return -1;
	*eq = '\0';
	len = strlen(eq + 1);
	if (len == 0 || len % 2 != 0)
		return -1;
	d->name = arg;
	d->n = len / 2;
	d->bin = malloc(d->n);
	d->hex = malloc(len + 1);
	if (d->bin == NULL || d->hex == NULL)
		return -1;
	for (i = 0; i < len; i++) {
		if (hexval(eq[1 + i]) < 0)
			return -1;
		d->hex[i] = (char)tolower((unsigned char)eq[1 + i]);
	}
	d->hex[len] = '\0';
	for (i = 0; i < d->n; i++)
		d->bin[i] = (unsigned char)(hexval(d->hex[2 * i]) << 4 | hexval(d->hex[2 * i + 1]));
	d->must = must;
	nn++;
	return 0;
}

static int contains(const unsigned char *h, size_t hn, const void *p, size_t n)
{
	size_t i;

	if (n == 0 || n > hn)
		return 0;
	for (i = 0; i + n <= hn; i++)
		if (h[i] == *(const unsigned char *)p && memcmp(h + i, p, n) == 0)
			return 1;
	return 0;
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL, *nb;
	size_t cap = 0, got;

	*n = 0;
	if (f == NULL)
		return NULL;
	for (;;) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (nb == NULL)
				break;
			buf = nb;
		}
		got = fread(buf + *n, 1, cap - *n, f);
		*n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	return buf;
}

/* The hex digits of buf, lower-cased. */
static unsigned char *hex_text(const unsigned char *buf, size_t n, size_t *hn)
{
	unsigned char *h = malloc(n + 1);
	size_t i;

	*hn = 0;
	for (i = 0; h != NULL && i < n; i++)
		if (hexval(buf[i]) >= 0)
			h[(*hn)++] = (unsigned char)tolower(buf[i]);
	return h;
}

static int upper_in(const unsigned char *buf, size_t n, const needle *d)
{
	size_t i, len = strlen(d->hex);
	char *u = malloc(len + 1);
	int r;

	if (u == NULL)
		return 1;
	for (i = 0; i <= len; i++)
		u[i] = (char)toupper((unsigned char)d->hex[i]);
	r = contains(buf, n, u, len);
	free(u);
	return r;
}

/* 1 when a secret is in the file. */
static int scan_file(const char *path)
{
	size_t n, hn;
	unsigned char *buf = slurp(path, &n), *h;
	int i, bad = 0, where;

	if (buf == NULL && n == 0) {
		fprintf(stderr, "rel_scan: cannot read %s (counts as empty)\n", path);
		return 0;
	}
	h = hex_text(buf, n, &hn);
	for (i = 0; i < nn; i++) {
		where = contains(buf, n, nd[i].bin, nd[i].n) ? 1 :
		        h != NULL && contains(h, hn, nd[i].hex, strlen(nd[i].hex)) ? 2 :
		        contains(buf, n, nd[i].hex, strlen(nd[i].hex)) || upper_in(buf, n, &nd[i]) ? 3 :
		        0;
		if (where == 0)
			continue;
		nd[i].found = 1;
		if (!nd[i].must) {
			printf("SECRET %s found in %s (%s)\n", nd[i].name, path,
			       where == 1 ? "raw bytes" : where == 2 ? "hex text" : "hex as ASCII");
			bad = 1;
		}
	}
	free(h);
	free(buf);
	return bad;
}

int main(int argc, char **argv)
{
	int i, bad = 0, files = 0, secrets = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc || (strcmp(argv[i], "-s") != 0 && strcmp(argv[i], "-m") != 0) ||
		    add_needle(argv[i + 1], argv[i][1] == 'm') != 0) {
			fprintf(stderr, "usage: rel_scan [-m NAME=HEX]... [-s NAME=HEX]... FILE...\n");
			return 2;
		}
	}
	for (; i < argc; i++, files++)
		bad |= scan_file(argv[i]);
	for (i = 0; i < nn; i++) {
		secrets += !nd[i].must;
		if (nd[i].must && !nd[i].found) {
			printf("MARKER %s not found: the scan did not see what it should\n", nd[i].name);
			bad = 1;
		}
	}
	printf("rel_scan: %d files, %d secrets, %d markers: %s\n", files, secrets, nn - secrets,
	       bad ? "FAILED" : "clean");
	for (i = 0; i < nn; i++) {
		free(nd[i].bin);
		free(nd[i].hex);
	}
	return bad;
}
