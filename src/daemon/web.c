/* web.c: the HTTP listener of /metrics, the sanctions page and its JSON
 * (see web.h). libmicrohttpd runs in external mode with epoll: the loop
 * polls web_fd() and calls web_service(), which answers on this thread. */
#include "daemon/web.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/addr.h"
#include "common/json_text.h"
#include "common/log.h"
#include "common/prom.h"
#include "common/xalloc.h"
#include "ctl/ctl_proto.h"
#include "daemon/daemon.h"
#include "daemon/metrics.h"

/* The page (src/daemon/page.html, embedded by scripts/embed-text). */
extern const char web_page[];
extern const size_t web_page_len;

/* Answers counted by status code, for pacto_http_requests_total. */
static const unsigned web_codes[] = {200, 400, 403, 404, 405, 500};
#define NCODES (sizeof(web_codes) / sizeof(*web_codes))

struct web {
	struct daemon *d;
	struct MHD_Daemon *mhd;
	char csp[512];
	uint64_t answered[NCODES];
};

/* ---- answers ---- */

static void count(struct web *w, unsigned code)
{
	for (size_t i = 0; i < NCODES; i++)
		if (web_codes[i] == code)
			w->answered[i]++;
}

/* Queues body (taken over when must_free) with the headers every answer
 * carries: no caching (the state is live), no MIME sniffing. */
static enum MHD_Result answer(struct web *w, struct MHD_Connection *c, unsigned code, const char *type,
			      const char *body, size_t len, bool must_free)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
							       must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
	if (strncmp(type, "text/html", 9) == 0) {
		MHD_add_response_header(r, "Content-Security-Policy", w->csp);
		MHD_add_response_header(r, "X-Frame-Options", "DENY");
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	}
	enum MHD_Result rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	count(w, code);
	return rc;
}

static enum MHD_Result answer_text(struct web *w, struct MHD_Connection *c, unsigned code, const char *text)
{
	return answer(w, c, code, "text/plain; charset=utf-8", text, strlen(text), false);
}

static enum MHD_Result answer_metrics(struct web *w, struct MHD_Connection *c)
{
	struct prom_buf b = {0};
	metrics_render(w->d, &b);
	/* b.text is malloc'd: MHD frees it with the response. */
	return answer(w, c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.text ? b.text : xstrdup(""),
		      b.len, true);
}

/* ---- the JSON: the control commands' answers ---- */

/* Only these commands can be reached from here: they change nothing. */
static const char *const read_only[] = {"status", "sanctions", "why", "allies"};

static json_t *run_command(struct web *w, const char *name, json_t *args)
{
	static const struct ctl_peer nobody = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	bool allowed = false;
	for (size_t i = 0; i < sizeof(read_only) / sizeof(*read_only); i++)
		allowed |= strcmp(read_only[i], name) == 0;
	for (size_t i = 0; allowed && i < daemon_ncommands; i++)
		if (strcmp(daemon_commands[i].name, name) == 0)
			return daemon_commands[i].handler(w->d, args, &nobody);
	return ctl_reply_error("no such command");
}

/* /api/NAME.json -> the reply of command NAME, as `pacto --json` gets it
 * ({"ok": true, "result": ...} or {"ok": false, "error": ...}). */
static enum MHD_Result answer_api(struct web *w, struct MHD_Connection *c, const char *name)
{
	json_t *args = json_object(), *reply;
	if (strcmp(name, "sanctions") == 0) {
		/* The latest, in any state: the page's timeline needs the past too. */
		json_object_set_new(args, "all", json_true());
	} else if (strcmp(name, "why") == 0) {
		const char *a = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "address");
		if (a)
			json_object_set_new(args, "address", json_text_cstr(a));   /* not UTF-8: "not an address" */
	}
	if (strcmp(name, "allies") == 0 && !w->d->alliance)
		reply = ctl_reply_ok(json_pack("{s:n}", "alliance"));
	else
		reply = run_command(w, name, args);
	json_decref(args);
	bool ok = json_is_true(json_object_get(reply, "ok"));
	char *text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (!text)
		return answer_text(w, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return answer(w, c, ok ? MHD_HTTP_OK : MHD_HTTP_BAD_REQUEST, "application/json", text, strlen(text), true);
}

/* ---- requests ---- */

/* A Host that a DNS rebinding attack cannot produce: an address literal
 * or localhost, with an optional port. Missing (HTTP/1.0): accepted. */
static bool host_allowed(const char *host)
{
	struct addr a;
	uint16_t port;
	if (!host || addr_parse_endpoint(host, &a, &port) == 0)   /* 127.0.0.1:9467, [::1]:9467 */
		return true;
	size_t n = strlen(host);
	if (host[0] == '[')                                       /* [::1] */
		return n > 2 && host[n - 1] == ']' && addr_parse(host + 1, n - 2, &a) == 0;
	size_t len = strcspn(host, ":");
	const char *p = host + len;                               /* "" or ":PORT" */
	if (*p && (!p[1] || strspn(p + 1, "0123456789") != strlen(p + 1)))
		return false;
	return (len == 9 && strncasecmp(host, "localhost", 9) == 0) || addr_parse(host, len, &a) == 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct web *w = cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0)
		return answer_text(w, c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET only\n");
	if (strcmp(url, "/metrics") == 0)
		return answer_metrics(w, c);
	if (!host_allowed(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST)))
		return answer_text(w, c, MHD_HTTP_FORBIDDEN, "use an address or localhost in the URL\n");
	if (strcmp(url, "/") == 0)
		return answer(w, c, MHD_HTTP_OK, "text/html; charset=utf-8", web_page, web_page_len, false);
	static const char *const api[] = {"status", "sanctions", "why", "allies"};
	for (size_t i = 0; i < sizeof(api) / sizeof(*api); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/api/%s.json", api[i]);
		if (strcmp(url, path) == 0)
			return answer_api(w, c, api[i]);
	}
	return answer_text(w, c, MHD_HTTP_NOT_FOUND, "not found: /, /metrics, /api/{status,sanctions,why,allies}.json\n");
}

/* ---- opening ---- */

/* 'sha256-BASE64' of the text between the first open and close tags. */
static int element_hash(const char *open, const char *close, char *out, size_t len)
{
	const char *start = strstr(web_page, open), *end;
	unsigned char digest[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	if (!start || !(end = strstr(start, close)))
		return -1;
	start += strlen(open);
	crypto_hash_sha256(digest, (const unsigned char *)start, (unsigned long long)(end - start));
	sodium_bin2base64(b64, sizeof(b64), digest, sizeof(digest), sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, len, "'sha256-%s'", b64);
	return 0;
}

/* The page's policy: its own script and style (by hash), requests to this
 * listener only, nothing else from anywhere. */
static int make_csp(struct web *w)
{
	char script[80], style[80];
	if (sodium_init() < 0 || element_hash("<script>", "</script>", script, sizeof(script)) != 0 ||
	    element_hash("<style>", "</style>", style, sizeof(style)) != 0)
		return -1;
	snprintf(w->csp, sizeof(w->csp),
		 "default-src 'none'; script-src %s; style-src %s; connect-src 'self'; img-src data:; "
		 "base-uri 'none'; form-action 'none'; frame-ancestors 'none'", script, style);
	return 0;
}

static void mhd_log(void *arg, const char *fmt, va_list ap)
{
	char msg[512];
	(void)arg;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warnx("web: %s", msg);
}

static struct MHD_Daemon *start(struct web *w, const struct addr *a, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	memcpy(&sin.sin_addr, a->bytes, 4);
	memcpy(&sin6.sin6_addr, a->bytes, 16);
	const struct sockaddr *sa = a->family == AF_INET ? (const struct sockaddr *)&sin : (const struct sockaddr *)&sin6;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (a->family == AF_INET6 ? MHD_USE_IPv6 : 0);
	/* The logger first: libmicrohttpd says so, and logs to stderr before it. */
	return MHD_start_daemon(flags, port, NULL, NULL, on_request, w,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_MAX_CONNECTIONS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)WEB_MAX_PER_IP,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)WEB_MEMORY,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_TIMEOUT_S,
				/* No MHD_OPTION_LISTENING_ADDRESS_REUSE: it would set
				 * SO_REUSEPORT and let a second pactod share the port. */
				MHD_OPTION_END);
}

int web_open(struct daemon *d, const char *endpoint, struct web **out, char *err, size_t errlen)
{
	struct addr a;
	uint16_t port;
	if (addr_parse_endpoint(endpoint, &a, &port) != 0) {
		snprintf(err, errlen, "metrics: '%s' is not ADDR:PORT", endpoint);
		return -1;
	}
	struct web *w = xcalloc(1, sizeof(*w));
	w->d = d;
	if (make_csp(w) != 0) {
		snprintf(err, errlen, "metrics: the embedded page has no <script> or <style>");
		free(w);
		return -1;
	}
	w->mhd = start(w, &a, port);
	if (!w->mhd) {
		snprintf(err, errlen, "metrics: cannot listen on %s (in use, or no such address here)", endpoint);
		free(w);
		return -1;
	}
	if (!addr_is_loopback(&a))
		log_warnx("metrics: listening on %s: the sanctions page is open beyond this host", endpoint);
	*out = w;
	return 0;
}

void web_close(struct web *w)
{
	if (!w)
		return;
	MHD_stop_daemon(w->mhd);
	free(w);
}

int web_fd(const struct web *w)
{
	if (!w)
		return -1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	return info ? info->epoll_fd : -1;
}

int web_timeout_ms(struct web *w, int max_ms)
{
	MHD_UNSIGNED_LONG_LONG ms;
	if (!w || MHD_get_timeout(w->mhd, &ms) != MHD_YES || ms >= (MHD_UNSIGNED_LONG_LONG)max_ms)
		return max_ms;
	return (int)ms;
}

void web_service(struct web *w)
{
	if (w)
		MHD_run(w->mhd);
}

void web_metrics(const struct web *w, struct prom_buf *b)
{
	char code[8];
	if (!w)
		return;
	prom_family(b, "pacto_http_requests_total", "counter", "Requests answered by the metrics listener, by status");
	for (size_t i = 0; i < NCODES; i++) {
		snprintf(code, sizeof(code), "%u", web_codes[i]);
		prom_u64(b, "pacto_http_requests_total", &(struct prom_label){"code", code}, 1, w->answered[i]);
	}
}
