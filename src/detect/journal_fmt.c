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

/* Numbers arrive as decimal strings ("_PID": "1234"). */
static int64_t decimal_field(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return -1;
	const char *s = json_string_value(v);
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || n < 0)
		return -1;
	return n;
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
	ev->has_header = plen > 0;
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
