/* journal_fmt.c: one `journalctl -o json` line -> struct log_event, with
 * jansson (see journal_fmt.h). MESSAGE may be a string or, when it is not
 * valid UTF-8, an array of byte values: both are accepted. */
#include "detect/journal_fmt.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Copies a string field into dst (size cap); returns its length or -1. */
static long copy_string(json_t *obj, const char *key, char *dst, size_t cap)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return -1;
	size_t len = json_string_length(v);
	if (len >= cap)
		return -1;
	memcpy(dst, json_string_value(v), len);
	dst[len] = '\0';
	return (long)len;
}

/* MESSAGE as an array of byte values (journalctl's form for binary data). */
static long copy_byte_array(json_t *arr, char *dst, size_t cap)
{
	size_t n = json_array_size(arr);
	if (n >= cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *b = json_array_get(arr, i);
		if (!json_is_integer(b) || json_integer_value(b) < 0 || json_integer_value(b) > 255)
			return -1;
		dst[i] = (char)json_integer_value(b);
	}
	dst[n] = '\0';
	return (long)n;
}

/* Numbers arrive as decimal strings ("_PID": "1234"). Bounded so that
 * nothing computed from them (a time plus a duration) can overflow. */
#define DECIMAL_MAX 100000000000000000LL   /* 10^17: far past year 3000 in µs */

static int64_t decimal_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return -1;
	const char *s = json_string_value(v);
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || n < 0 || n > DECIMAL_MAX)
		return -1;
	return n;
}

bool journal_identity_trusted(const char *transport, size_t transport_len, const char *comm, size_t comm_len,
			      const char *ident, size_t ident_len)
{
	if (transport && !(transport_len == 6 && memcmp(transport, "syslog", 6) == 0) &&
	    !(transport_len == 7 && memcmp(transport, "journal", 7) == 0))
		return false;
	if (!comm)
		return true;
	size_t n = ident_len < 15 ? ident_len : 15;
	return comm_len == n && memcmp(comm, ident, n) == 0;
}

/* The JSON entry's identity, through the common rule. */
static bool trusted_identity(json_t *obj, const char *prog, size_t prog_len)
{
	json_t *transport = json_object_get(obj, "_TRANSPORT");
	json_t *comm = json_object_get(obj, "_COMM");
	if ((transport && !json_is_string(transport)) || (comm && !json_is_string(comm)))
		return false;
	return journal_identity_trusted(transport ? json_string_value(transport) : NULL,
					transport ? json_string_length(transport) : 0,
					comm ? json_string_value(comm) : NULL, comm ? json_string_length(comm) : 0,
					prog, prog_len);
}

static int fill_event(json_t *obj, struct journal_store *store, struct log_event *ev)
{
	json_t *msg = json_object_get(obj, "MESSAGE");
	long len = json_is_array(msg) ? copy_byte_array(msg, store->msg, sizeof(store->msg))
				      : copy_string(obj, "MESSAGE", store->msg, sizeof(store->msg));
	if (len < 0)
		return -1;
	memset(ev, 0, sizeof(*ev));
	ev->msg = store->msg;
	ev->msg_len = (size_t)len;
	ev->pid = decimal_field(obj, "_PID");
	int64_t t = decimal_field(obj, "__REALTIME_TIMESTAMP");
	ev->time_us = t >= 0 ? t : LOG_TIME_UNSET;
	ev->ts_format = TS_EPOCH_US;
	long plen = copy_string(obj, "SYSLOG_IDENTIFIER", store->prog, sizeof(store->prog));
	ev->prog = store->prog;
	ev->prog_len = plen > 0 ? (size_t)plen : 0;
	ev->has_header = plen > 0 && trusted_identity(obj, store->prog, (size_t)plen);
	long hlen = copy_string(obj, "_HOSTNAME", store->host, sizeof(store->host));
	ev->host = store->host;
	ev->host_len = hlen > 0 ? (size_t)hlen : 0;
	return 0;
}

int journal_json_parse(const char *line, size_t len, struct journal_store *store, struct log_event *ev)
{
	json_error_t err;
	json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	if (!obj)
		return -1;
	int rc = json_is_object(obj) ? fill_event(obj, store, ev) : -1;
	json_decref(obj);
	return rc;
}

/* ---- export format ---- */

struct export_fields {
	struct journal_store *store;
	long msg_len, prog_len, host_len;   /* -1 when absent */
	int64_t pid, time_us;
	bool bad;
	char transport[16];
	long transport_len;                 /* -1 when absent */
	char comm[16];
	long comm_len;                      /* -1 when absent */
};

static bool field_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(name, want, len) == 0;
}

int64_t journal_decimal(const char *s, size_t len)
{
	if (len == 0 || len > 17)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static long copy_value(const char *v, size_t len, char *dst, size_t cap)
{
	if (len >= cap)
		return -1;
	memcpy(dst, v, len);
	dst[len] = '\0';
	return (long)len;
}

/* Keeps the fields pacto reads; an oversized one marks the entry bad. */
static void export_field(struct export_fields *f, const char *name, size_t nlen, const char *v, size_t vlen)
{
	struct journal_store *st = f->store;
	if (field_is(name, nlen, "MESSAGE")) {
		f->msg_len = copy_value(v, vlen, st->msg, sizeof(st->msg));
		f->bad |= f->msg_len < 0;
	} else if (field_is(name, nlen, "SYSLOG_IDENTIFIER")) {
		f->prog_len = copy_value(v, vlen, st->prog, sizeof(st->prog));
	} else if (field_is(name, nlen, "_HOSTNAME")) {
		f->host_len = copy_value(v, vlen, st->host, sizeof(st->host));
	} else if (field_is(name, nlen, "_PID")) {
		f->pid = journal_decimal(v, vlen);
	} else if (field_is(name, nlen, "__REALTIME_TIMESTAMP")) {
		f->time_us = journal_decimal(v, vlen);
	} else if (field_is(name, nlen, "_TRANSPORT")) {
		f->transport_len = copy_value(v, vlen, f->transport, sizeof(f->transport));
		if (f->transport_len < 0)
			f->transport_len = copy_value("(long)", 6, f->transport, sizeof(f->transport));
	} else if (field_is(name, nlen, "_COMM")) {
		f->comm_len = copy_value(v, vlen, f->comm, sizeof(f->comm));
	}
}

static bool export_trusted(const struct export_fields *f)
{
	if (f->prog_len <= 0)
		return false;
	return journal_identity_trusted(f->transport_len >= 0 ? f->transport : NULL,
					f->transport_len >= 0 ? (size_t)f->transport_len : 0,
					f->comm_len >= 0 ? f->comm : NULL, f->comm_len >= 0 ? (size_t)f->comm_len : 0,
					f->store->prog, (size_t)f->prog_len);
}

static bool valid_field_name(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Where to resume after a malformed entry: past the next empty line. */
static long resync(const char *buf, size_t len, size_t from)
{
	for (size_t i = from; i + 1 < len; i++)
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			return -(long)(i + 2);
	return JOURNAL_EXPORT_SKIP_ALL;
}

/* Reads one field at buf[*pos]; returns 1, 0 when incomplete, -1 when malformed. */
static int export_next_field(const char *buf, size_t len, size_t *pos, struct export_fields *f)
{
	const char *line = buf + *pos;
	const char *nl = memchr(line, '\n', len - *pos);
	if (!nl)
		return 0;
	const char *eq = memchr(line, '=', (size_t)(nl - line));
	if (eq) {
		if (!valid_field_name(line, (size_t)(eq - line)))
			return -1;
		export_field(f, line, (size_t)(eq - line), eq + 1, (size_t)(nl - eq - 1));
		*pos = (size_t)(nl - buf) + 1;
		return 1;
	}
	/* A binary field: NAME, newline, 64-bit little-endian size, data, newline. */
	size_t nlen = (size_t)(nl - line), at = (size_t)(nl - buf) + 1;
	if (!valid_field_name(line, nlen))
		return -1;
	if (len - at < 8)
		return 0;
	uint64_t size = 0;
	for (int i = 7; i >= 0; i--)
		size = size << 8 | (unsigned char)buf[at + (size_t)i];
	if (size > 16 * 1024 * 1024)
		return -1;
	at += 8;
	if (len - at < size + 1)
		return 0;
	if (buf[at + size] != '\n')
		return -1;
	export_field(f, line, nlen, buf + at, (size_t)size);
	*pos = at + size + 1;
	return 1;
}

static void export_event(const struct export_fields *f, struct log_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->msg = f->store->msg;
	ev->msg_len = (size_t)f->msg_len;
	ev->pid = f->pid;
	ev->time_us = f->time_us >= 0 ? f->time_us : LOG_TIME_UNSET;
	ev->ts_format = TS_EPOCH_US;
	ev->prog = f->store->prog;
	ev->prog_len = f->prog_len > 0 ? (size_t)f->prog_len : 0;
	ev->has_header = export_trusted(f);
	ev->host = f->store->host;
	ev->host_len = f->host_len > 0 ? (size_t)f->host_len : 0;
}

long journal_export_parse(const char *buf, size_t len, bool at_eof, struct journal_store *store,
			  struct log_event *ev, bool *has_message)
{
	struct export_fields f = {.store = store, .msg_len = -1, .prog_len = -1, .host_len = -1,
				  .pid = -1, .time_us = -1, .transport_len = -1, .comm_len = -1};
	size_t pos = 0;
	*has_message = false;
	for (;;) {
		if (pos < len && buf[pos] == '\n') {
			pos++;          /* the empty line that ends the entry */
			break;
		}
		if (pos == len) {
			if (!at_eof || pos == 0)
				return 0;
			break;          /* the last entry may lack its empty line */
		}
		int rc = export_next_field(buf, len, &pos, &f);
		if (rc < 0)
			return resync(buf, len, pos);
		if (rc == 0) {
			if (!at_eof)
				return 0;
			return JOURNAL_EXPORT_SKIP_ALL;   /* truncated at the end of input */
		}
	}
	if (f.bad)
		return -(long)pos;
	if (f.msg_len >= 0) {
		export_event(&f, ev);
		*has_message = true;
	}
	return (long)pos;
}

bool journal_export_detect(const char *data, size_t len)
{
	static const char *const firsts[] = {"__CURSOR=", "__REALTIME_TIMESTAMP=", "__MONOTONIC_TIMESTAMP="};
	for (size_t i = 0; i < sizeof(firsts) / sizeof(*firsts); i++) {
		size_t n = strlen(firsts[i]);
		if (len >= n && memcmp(data, firsts[i], n) == 0)
			return true;
	}
	return false;
}
