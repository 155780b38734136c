/* web.h: pactod's HTTP listener: Prometheus metrics and a read-only page
 * of its sanctions, allies and a timeline of aggressions.
 * Why: operators watch a host with Prometheus and a browser, not only with
 * `pacto`; both read the same state as the control commands.
 * Guarantees:
 *  - runs in pactod's one thread: libmicrohttpd in external mode on one
 *    epoll descriptor that the loop polls, so handlers read the daemon's
 *    state without locks and nothing changes it behind them;
 *  - read-only: GET only; the JSON is what `pacto status|sanctions|why|
 *    allies` answer (the control commands' own builders), never an action;
 *  - bounded: WEB_MAX_CONNECTIONS connections (WEB_MAX_PER_IP from one
 *    address), WEB_MEMORY bytes per connection for the request (a longer
 *    request line or headers is refused), WEB_TIMEOUT_S of idleness, and
 *    listings capped by the control commands' own limits;
 *  - the page loads nothing from anywhere but this listener, escapes all
 *    text from logs and allies (it is attacker-written), and its Content-
 *    Security-Policy runs only its own script (by hash); the page and
 *    /api/ answer only requests whose Host is an address or "localhost",
 *    so a hostile web site cannot read them through DNS rebinding.
 * Ownership: web_open's struct web is the daemon's; web_close frees it. */
#ifndef PACTO_DAEMON_WEB_H
#define PACTO_DAEMON_WEB_H

#include <stddef.h>

#define WEB_MAX_CONNECTIONS 16
#define WEB_MAX_PER_IP 8
#define WEB_MEMORY (32 * 1024)
#define WEB_TIMEOUT_S 10

struct daemon;
struct web;
struct prom_buf;

/* Listens on endpoint ("ADDR:PORT" or "[ADDR]:PORT"). Returns 0, or -1
 * with err. */
int web_open(struct daemon *d, const char *endpoint, struct web **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void web_close(struct web *w);  /* accepts NULL */

/* The descriptor to poll for reading, or -1 (w NULL). */
int web_fd(const struct web *w);

/* The longest the loop may sleep before web_service must run (connection
 * timeouts, work left over), at most max_ms. */
int web_timeout_ms(struct web *w, int max_ms);

/* Accepts, reads and answers what is ready; never blocks. Accepts NULL. */
void web_service(struct web *w);

/* pacto_http_* families (requests, refusals); nothing when w is NULL. */
void web_metrics(const struct web *w, struct prom_buf *b);

#endif
