/* ukey-tool: errors and output. Human messages go to stderr; with --json stdout carries exactly
 * one JSON object (RFC 8259), built in memory and printed once at the end, so a failure half
 * way through replaces the partial result with {"error":{...}} (docs/ukey-tool.md "JSON"). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ukey-tool.h"

size_t ut_trim(const CK_UTF8CHAR *p, size_t n)
{
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\0'))
		n--;
	return n;
}

void ut_hex(const uint8_t *p, size_t n, char *out, size_t cap, int colons)
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n && o + 4 <= cap; i++) {
		if (colons && i > 0)
			out[o++] = ':';
		out[o++] = colons ? (char)(hx[p[i] >> 4] - (p[i] >> 4 > 9 ? 32 : 0)) : hx[p[i] >> 4];
		out[o++] = colons ? (char)(hx[p[i] & 15] - ((p[i] & 15) > 9 ? 32 : 0)) : hx[p[i] & 15];
	}
	if (cap > 0)
		out[o < cap ? o : cap - 1] = '\0';
}

/* Text results on stdout, unless --json owns stdout. */
void ut_printf(struct ut *t, const char *fmt, ...)
{
	va_list ap;

	if (t->o.json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* ---- the JSON writer ------------------------------------------------------------------- */

static void js_put(struct ut_json *j, const char *s, size_t n)
{
	if (j->oom)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t cap = (j->cap ? j->cap * 2 : 1024) + n;
		char *p = realloc(j->buf, cap);
		if (p == NULL) {
			j->oom = 1;
			return;
		}
		j->buf = p;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

/* A string per RFC 8259 §7: quote, backslash and control characters escaped; bytes >= 0x80
 * pass as they are (labels are UTF-8), except invalid ones, which become U+FFFD so the
 * output stays UTF-8. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;

	if (s[0] < 0xC2 || need == 0 || need > n)
		return 0;
	for (size_t i = 1; i < need; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return need;
}

static void js_string(struct ut_json *j, const char *v, size_t n)
{
	const unsigned char *s = (const unsigned char *)v;
	char esc[8];

	js_put(j, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		size_t u;
		if (s[i] == '"' || s[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)s[i];
			js_put(j, esc, 2);
		} else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
			esc[0] = '\\';
			esc[1] = s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : 't';
			js_put(j, esc, 2);
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
			js_put(j, esc, 6);
		} else if (s[i] < 0x80) {
			js_put(j, (const char *)s + i, 1);
		} else if ((u = utf8_len(s + i, n - i)) > 0) {
			js_put(j, (const char *)s + i, u);
			i += u - 1;
		} else {
			js_put(j, "\\ufffd", 6);
		}
	}
	js_put(j, "\"", 1);
}

/* The separator and key before a value at the current depth. */
static void js_key(struct ut_json *j, const char *key)
{
	if (j->depth > 0 && !j->first[j->depth - 1])
		js_put(j, ",", 1);
	if (j->depth > 0)
		j->first[j->depth - 1] = 0;
	if (key != NULL) {
		js_string(j, key, strlen(key));
		js_put(j, ":", 1);
	}
}

static void js_push(struct ut_json *j, const char *key, const char *open)
{
	js_key(j, key);
	js_put(j, open, 1);
	if (j->depth < UT_JSON_DEPTH)
		j->first[j->depth] = 1;
	j->depth++;
}

static void js_pop(struct ut_json *j, const char *close)
{
	if (j->depth > 0)
		j->depth--;
	js_put(j, close, 1);
}

void ut_json_open(struct ut *t, const char *key) { js_push(&t->js, key, "{"); }
void ut_json_close(struct ut *t) { js_pop(&t->js, "}"); }
void ut_json_array(struct ut *t, const char *key) { js_push(&t->js, key, "["); }
void ut_json_array_end(struct ut *t) { js_pop(&t->js, "]"); }

void ut_json_strn(struct ut *t, const char *key, const char *v, size_t n)
{
	js_key(&t->js, key);
	js_string(&t->js, v, n);
}

void ut_json_str(struct ut *t, const char *key, const char *v)
{
	if (v == NULL) {
		js_key(&t->js, key);
		js_put(&t->js, "null", 4);
		return;
	}
	ut_json_strn(t, key, v, strlen(v));
}

void ut_json_int(struct ut *t, const char *key, long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%ld", v);

	js_key(&t->js, key);
	js_put(&t->js, num, (size_t)n);
}

void ut_json_bool(struct ut *t, const char *key, int v)
{
	js_key(&t->js, key);
	js_put(&t->js, v ? "true" : "false", v ? 4 : 5);
}

void ut_json_hex(struct ut *t, const char *key, const uint8_t *p, size_t n)
{
	char hx[2 * UT_ID_MAX + 1];

	ut_hex(p, n < UT_ID_MAX ? n : UT_ID_MAX, hx, sizeof(hx), 0);
	ut_json_str(t, key, hx);
}

void ut_json_free(struct ut *t)
{
	free(t->js.buf);
	memset(&t->js, 0, sizeof(t->js));
}

/* The error object of docs/ukey-tool.md "JSON" replaces whatever the command had built. */
static void js_error(struct ut *t)
{
	ut_json_free(t);
	ut_json_open(t, NULL);
	ut_json_open(t, "error");
	ut_json_int(t, "exit", t->err_exit);
	ut_json_str(t, "code", t->err_code);
	ut_json_str(t, "message", t->err_msg);
	if (t->err_tries >= 0)
		ut_json_int(t, "tries_left", t->err_tries);
	ut_json_close(t);
	ut_json_close(t);
}

void ut_json_finish(struct ut *t, int rc)
{
	if (!t->o.json)
		return;
	if (rc != 0 && t->err_exit == 0) {
		/* a path that failed without ut_error (should not happen): still one object */
		t->err_exit = rc;
		snprintf(t->err_code, sizeof(t->err_code), "failed");
		snprintf(t->err_msg, sizeof(t->err_msg), "failed");
	}
	if (rc != 0) {
		js_error(t);
	} else if (t->js.len == 0) {
		ut_json_free(t);
		ut_json_open(t, NULL);
		ut_json_close(t);
	}
	if (t->js.oom) {
		fputs("{\"error\":{\"exit\":1,\"code\":\"failed\",\"message\":\"out of memory\"}}\n",
		      stdout);
		return;
	}
	fwrite(t->js.buf, 1, t->js.len, stdout);
	fputc('\n', stdout);
}

/* Every failure goes through here: "ukey-tool: MESSAGE" on stderr, and the first one is kept
 * for the JSON error object. Returns exit_code so callers can `return ut_error(...)`. */
int ut_error(struct ut *t, int exit_code, const char *code, const char *fmt, ...)
{
	char msg[sizeof(t->err_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ukey-tool: %s\n", msg);
	if (t->err_exit == 0) {
		t->err_exit = exit_code;
		snprintf(t->err_code, sizeof(t->err_code), "%s", code);
		memcpy(t->err_msg, msg, sizeof(msg));
	}
	return t->err_exit;
}
