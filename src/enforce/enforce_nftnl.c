/* enforce_nftnl.c: set elements straight to the kernel over netlink, the
 * nft backend's hot path (see enforce_nftnl.h for the contract).
 * Why: each libnftables command first rebuilds its cache with a handful of
 * netlink dumps; for one element that is most of a sanction's ~0.5 ms.
 * Here a batch is built in memory (libnftnl writes the messages) and sent
 * with one sendmsg (libmnl's socket): no cache, no text, no dump.
 * How the kernel answers: nfnetlink runs the whole batch inside our
 * sendmsg, as one transaction, and queues one answer per message that asked
 * for NLM_F_ACK (0 or -errno), plus an error on the batch's first sequence
 * number when the batch as a whole fails (commit failure, out of memory,
 * no CAP_NET_ADMIN). So all answers are waiting when sendmsg returns; we
 * still wait (bounded) for any missing one, and count a batch applied only
 * when every message was acknowledged with 0.
 * Never: reads elements back, or touches a table other than ours. */
#include "enforce/enforce_nftnl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ENFORCE_TABLE is "inet pacto": the family goes in each message header. */
#define TABLE_NAME "pacto"
#define TABLE_FAMILY NFPROTO_INET
/* Elements per message: a message's element list is one netlink attribute,
 * whose length must fit 16 bits; 256 IPv6 elements with timeouts take
 * ~10 KB. */
#define ELEMS_PER_MSG 256
/* Room kept free in the batch buffer before writing one message. */
#define MSG_ROOM (32 * 1024)
/* Socket buffers: a chunk of ENFORCE_CHUNK operations makes a batch of at
 * most ~0.5 MB, sent with one sendmsg; the kernel refuses a message larger
 * than the send buffer. */
#define SOCKET_BUFFER (2 * 1024 * 1024)
/* How long to wait for an answer that is not already queued (it always is,
 * see above): only a broken kernel path could make us wait this long. */
#define ANSWER_TIMEOUT_MS 2000

/* What each message of the batch in flight did, for error messages:
 * sent[i] is the message with sequence number first_seq + 1 + i. */
struct sent {
	uint16_t type;
	char set[16];
};

static struct {
	struct mnl_socket *sock;   /* NULL when closed */
	uint32_t seq;              /* the last sequence number used */
	char *buf;                 /* the batch being built: len bytes of cap */
	size_t len, cap;
	struct sent *sent;
	size_t nsent, capsent;
	uint32_t first_seq;        /* the batch-begin message's */
	/* The ruleset generation (NFT_MSG_GETGEN: one counter per network
	 * namespace, bumped by every committed transaction of any table):
	 * expected is what it should read if only we changed anything since
	 * the last enforce_nftnl_generation_changed(); foreign is set when a
	 * transaction of ours found it moved by more than its own commit. */
	uint32_t gen_expected;
	bool gen_known, gen_foreign;
} nl;

/* ---- Building a batch -------------------------------------------------- */

static int oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "enforce: netlink: building a batch: out of memory");
	return -1;
}

/* At least need free bytes past nl.len. libnftnl and libmnl clear each
 * header and attribute padding they write: the buffer need not be zeroed. */
static int room(size_t need)
{
	if (nl.cap - nl.len >= need)
		return 0;
	size_t cap = nl.cap ? nl.cap : 64 * 1024;
	while (cap - nl.len < need)
		cap *= 2;
	char *p = realloc(nl.buf, cap);
	if (!p)
		return -1;
	nl.buf = p;
	nl.cap = cap;
	return 0;
}

static int note_sent(uint16_t type, const char *set)
{
	if (nl.nsent == nl.capsent) {
		size_t cap = nl.capsent ? nl.capsent * 2 : 64;
		struct sent *s = reallocarray(nl.sent, cap, sizeof(*s));
		if (!s)
			return -1;
		nl.sent = s;
		nl.capsent = cap;
	}
	struct sent *s = &nl.sent[nl.nsent++];
	s->type = type;
	snprintf(s->set, sizeof(s->set), "%s", set);
	return 0;
}

static void batch_start(void)
{
	nl.len = nl.nsent = 0;
	nl.first_seq = ++nl.seq;
	struct nlmsghdr *h = nftnl_batch_begin(nl.buf, nl.first_seq);
	nl.len += NLMSG_ALIGN(h->nlmsg_len);
}

static void batch_finish(void)
{
	struct nlmsghdr *h = nftnl_batch_end(nl.buf + nl.len, ++nl.seq);
	nl.len += NLMSG_ALIGN(h->nlmsg_len);
}

/* The three passes over one set's operations (see enforce_render_batch). */
enum pass { PASS_REMOVES, PASS_ALL, PASS_ADDS };

static bool picked(const struct enforce_op *op, enum pass pass)
{
	return pass == PASS_ALL || (pass == PASS_ADDS) == (op->kind == ENFORCE_ADD);
}

/* One element: the (masked) address as the set's key, and the timeout in
 * milliseconds (the kernel's unit) for the timed adds. */
static struct nftnl_set_elem *element(const struct enforce_op *op, bool timed)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	uint32_t keylen = op->addr.family == AF_INET ? 4 : 16;
	if (!e)
		return NULL;
	if (nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, op->addr.bytes, keylen) < 0) {
		nftnl_set_elem_free(e);
		return NULL;
	}
	if (timed)
		nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, (uint64_t)op->duration_s * 1000);
	return e;
}

/* Appends one message of type carrying s's elements. */
static int put_message(uint16_t type, struct nftnl_set *s, const char *set)
{
	uint16_t flags = NLM_F_ACK | (type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0);
	if (room(MSG_ROOM) != 0 || note_sent(type, set) != 0)
		return -1;
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(nl.buf + nl.len, type, TABLE_FAMILY, flags, ++nl.seq);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nl.len += NLMSG_ALIGN(h->nlmsg_len);
	return 0;
}

/* Appends the picked operations of one set g[0..n) as messages of type,
 * at most ELEMS_PER_MSG elements each; *i is where to resume. */
static int put_some(uint16_t type, const struct enforce_op *g, size_t n, enum pass pass, size_t *i)
{
	char name[16];
	size_t k = 0;
	int rc = -1;
	struct nftnl_set *s = nftnl_set_alloc();

	enforce_set_name(&g[0].addr, name, sizeof(name));
	if (!s || nftnl_set_set_str(s, NFTNL_SET_TABLE, TABLE_NAME) < 0 || nftnl_set_set_str(s, NFTNL_SET_NAME, name) < 0)
		goto out;
	for (; *i < n && k < ELEMS_PER_MSG; ++*i) {
		if (!picked(&g[*i], pass))
			continue;
		struct nftnl_set_elem *e = element(&g[*i], type == NFT_MSG_NEWSETELEM && pass == PASS_ADDS);
		if (!e)
			goto out;
		nftnl_set_elem_add(s, e);
		k++;
	}
	rc = k ? put_message(type, s, name) : 0;
out:
	if (s)
		nftnl_set_free(s);
	return rc;
}

static int put_pass(uint16_t type, const struct enforce_op *g, size_t n, enum pass pass)
{
	for (size_t i = 0; i < n;)
		if (put_some(type, g, n, pass, &i) != 0)
			return -1;
	return 0;
}

/* One set's operations: the same sequence as render_group's text. */
static int put_group(const struct enforce_op *g, size_t n, bool refresh)
{
	enum pass clear = refresh ? PASS_REMOVES : PASS_ALL;
	if (put_pass(NFT_MSG_NEWSETELEM, g, n, clear) != 0 || put_pass(NFT_MSG_DELSETELEM, g, n, clear) != 0)
		return -1;
	return put_pass(NFT_MSG_NEWSETELEM, g, n, PASS_ADDS);
}

static int build(const struct enforce_op *ops, size_t n, bool refresh)
{
	if (room(MSG_ROOM) != 0)
		return -1;
	batch_start();
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && ops[j].addr.family == ops[i].addr.family && ops[j].addr.prefix == ops[i].addr.prefix;
		     j++)
			;
		if (put_group(ops + i, j - i, refresh) != 0)
			return -1;
	}
	batch_finish();
	return 0;
}

/* ---- Talking to the kernel ------------------------------------------------- */

/* Answers left from an earlier exchange that gave up waiting. */
static void drain_stale(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	while (recv(mnl_socket_get_fd(nl.sock), buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

struct answers {
	size_t answered;   /* messages acknowledged, with 0 or an error */
	int error;         /* the first error (negative errno), 0 if none */
	uint32_t error_seq;
	bool batch_failed; /* the error is about the batch as a whole */
};

static void take_answer(const struct nlmsghdr *h, struct answers *a)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
	uint32_t last = nl.first_seq + (uint32_t)nl.nsent;
	if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return;
	if (h->nlmsg_seq < nl.first_seq || h->nlmsg_seq > last + 1)
		return;  /* not about this batch */
	if (e->error && !a->error) {
		a->error = e->error;
		a->error_seq = h->nlmsg_seq;
	}
	if (h->nlmsg_seq == nl.first_seq || h->nlmsg_seq == last + 1)
		a->batch_failed |= e->error != 0;
	else
		a->answered++;
}

/* Reads answers until every message is answered, the batch failed as a
 * whole, or ANSWER_TIMEOUT_MS passes without any. */
static int read_answers(struct answers *a, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(4)));
	struct pollfd p = {.fd = mnl_socket_get_fd(nl.sock), .events = POLLIN};
	while (a->answered < nl.nsent && !a->batch_failed) {
		int r = poll(&p, 1, ANSWER_TIMEOUT_MS);
		if (r == 0) {
			snprintf(err, errlen, "enforce: netlink: no answer for %zu of %zu messages",
				 nl.nsent - a->answered, nl.nsent);
			return -1;
		}
		ssize_t len = r < 0 ? -1 : recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (len < 0) {
			snprintf(err, errlen, "enforce: netlink: reading answers: %s", strerror(errno));
			return -1;
		}
		int left = (int)len;
		for (const struct nlmsghdr *h = (const void *)buf; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left))
			take_answer(h, a);
	}
	return 0;
}

static const char *type_name(uint16_t type)
{
	return type == NFT_MSG_NEWSETELEM ? "add element" : "delete element";
}

static void describe_error(const struct answers *a, char *err, size_t errlen)
{
	uint32_t i = a->error_seq - nl.first_seq - 1;
	if (a->batch_failed || i >= nl.nsent)
		snprintf(err, errlen, "enforce: netlink: transaction refused: %s", strerror(-a->error));
	else
		snprintf(err, errlen, "enforce: netlink: %s %s %s: %s", type_name(nl.sent[i].type), ENFORCE_TABLE,
			 nl.sent[i].set, strerror(-a->error));
}

static int exchange(char *err, size_t errlen)
{
	struct answers a = {0};
	drain_stale();
	if (mnl_socket_sendto(nl.sock, nl.buf, nl.len) < 0) {
		snprintf(err, errlen, "enforce: netlink: sending %zu bytes: %s", nl.len, strerror(errno));
		return -1;
	}
	if (read_answers(&a, err, errlen) != 0)
		return -1;
	if (a.error) {
		describe_error(&a, err, errlen);
		return -1;
	}
	return 0;
}

/* ---- Generation and element probes ------------------------------------------ */

static int parse_gen(const struct nlmsghdr *h, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();
	if (!g)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(h, g) == 0 && nftnl_gen_is_set(g, NFTNL_GEN_ID))
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

/* Reads the current generation (one request, one answer). */
static int read_gen(uint32_t *out, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(4)));
	uint32_t seq = ++nl.seq, portid = mnl_socket_get_portid(nl.sock);
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, seq);
	int rc = MNL_CB_OK;
	drain_stale();
	if (mnl_socket_sendto(nl.sock, h, h->nlmsg_len) < 0)
		rc = MNL_CB_ERROR;
	while (rc > MNL_CB_STOP) {
		ssize_t len = mnl_socket_recvfrom(nl.sock, buf, sizeof(buf));
		rc = len < 0 ? MNL_CB_ERROR : mnl_cb_run(buf, (size_t)len, seq, portid, parse_gen, out);
	}
	if (rc < 0) {
		snprintf(err, errlen, "enforce: netlink: reading the ruleset generation: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* After a transaction of ours committed: the generation must have moved by
 * exactly one; otherwise someone else committed too (or ours changed
 * nothing, which only costs a needless check). */
void enforce_nftnl_own_change(void)
{
	uint32_t g;
	char why[ENFORCE_ERRLEN];
	if (!nl.sock || read_gen(&g, why, sizeof(why)) != 0) {
		nl.gen_known = false;
		return;
	}
	if (nl.gen_known && g != nl.gen_expected + 1)
		nl.gen_foreign = true;
	nl.gen_expected = g;
	nl.gen_known = true;
}

int enforce_nftnl_generation_changed(char *err, size_t errlen)
{
	uint32_t g;
	if (!nl.sock) {
		snprintf(err, errlen, "enforce: netlink: not open");
		return -1;
	}
	if (read_gen(&g, err, errlen) != 0)
		return -1;
	bool changed = !nl.gen_known || nl.gen_foreign || g != nl.gen_expected;
	nl.gen_expected = g;
	nl.gen_known = true;
	nl.gen_foreign = false;
	return changed;
}

/* One NFT_MSG_GETSETELEM of a single key (not a dump: the kernel looks the
 * key up, whatever the set's size). */
static int put_probe(const struct addr *a, uint32_t seq)
{
	struct enforce_op op = {.kind = ENFORCE_ADD, .addr = *a};
	char name[16];
	int rc = -1;
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = element(&op, false);
	enforce_set_name(a, name, sizeof(name));
	if (!s || !e || room(MSG_ROOM) != 0 || nftnl_set_set_str(s, NFTNL_SET_TABLE, TABLE_NAME) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, name) < 0)
		goto out;
	nftnl_set_elem_add(s, e);
	e = NULL;
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(nl.buf + nl.len, NFT_MSG_GETSETELEM, TABLE_FAMILY, NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nl.len += NLMSG_ALIGN(h->nlmsg_len);
	rc = 0;
out:
	if (e)
		nftnl_set_elem_free(e);
	if (s)
		nftnl_set_free(s);
	return rc;
}

/* Reads the acknowledgements of probes first..first+n-1: 0 means the
 * element is there, ENOENT that it (or its set) is not. */
static int read_probes(uint32_t first, size_t n, bool *present, char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(4)));
	struct pollfd p = {.fd = mnl_socket_get_fd(nl.sock), .events = POLLIN};
	size_t answered = 0;
	while (answered < n) {
		if (poll(&p, 1, ANSWER_TIMEOUT_MS) <= 0) {
			snprintf(err, errlen, "enforce: netlink: probing elements: no answer");
			return -1;
		}
		ssize_t len = recv(p.fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (len < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (len < 0) {
			snprintf(err, errlen, "enforce: netlink: probing elements: %s", strerror(errno));
			return -1;
		}
		int left = (int)len;
		for (const struct nlmsghdr *h = (const void *)buf; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
			uint32_t i = h->nlmsg_seq - first;
			if (h->nlmsg_type != NLMSG_ERROR || i >= n)
				continue;   /* the element itself, or stale */
			if (e->error && e->error != -ENOENT) {
				snprintf(err, errlen, "enforce: netlink: probing an element: %s", strerror(-e->error));
				return -1;
			}
			present[i] = e->error == 0;
			answered++;
		}
	}
	return 0;
}

int enforce_nftnl_probe(const struct addr *addrs, size_t n, bool *present, char *err, size_t errlen)
{
	if (!nl.sock) {
		snprintf(err, errlen, "enforce: netlink: not open");
		return -1;
	}
	for (size_t done = 0; done < n;) {
		size_t k = n - done < ENFORCE_PROBE_CHUNK ? n - done : ENFORCE_PROBE_CHUNK;
		uint32_t first = nl.seq + 1;
		nl.len = 0;
		for (size_t i = 0; i < k; i++)
			if (put_probe(&addrs[done + i], ++nl.seq) != 0)
				return oom(err, errlen);
		drain_stale();
		if (mnl_socket_sendto(nl.sock, nl.buf, nl.len) < 0) {
			snprintf(err, errlen, "enforce: netlink: sending probes: %s", strerror(errno));
			return -1;
		}
		if (read_probes(first, k, present + done, err, errlen) != 0)
			return -1;
		done += k;
	}
	return 0;
}

/* ---- Public ------------------------------------------------------------------- */

int enforce_nftnl_apply(const struct enforce_op *ops, size_t n, bool refresh, char *err, size_t errlen)
{
	if (!nl.sock) {
		snprintf(err, errlen, "enforce: netlink: not open");
		return -1;
	}
	if (n == 0)
		return 0;
	if (build(ops, n, refresh) != 0)
		return oom(err, errlen);
	if (exchange(err, errlen) != 0)
		return -1;
	enforce_nftnl_own_change();
	return 0;
}

/* Large buffers, forced past the sysctl limits (we have CAP_NET_ADMIN);
 * without the privilege the ordinary call gets what the limits allow. */
static void size_buffers(int fd)
{
	int size = SOCKET_BUFFER;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

int enforce_nftnl_open(char *err, size_t errlen)
{
	int one = 1;
	enforce_nftnl_close();
	nl.sock = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl.sock || mnl_socket_bind(nl.sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "enforce: netlink: socket: %s", strerror(errno));
		enforce_nftnl_close();
		return -1;
	}
	/* Errors echo only the failing message's header, not the whole message. */
	(void)mnl_socket_setsockopt(nl.sock, NETLINK_CAP_ACK, &one, sizeof(one));
	size_buffers(mnl_socket_get_fd(nl.sock));
	return 0;
}

void enforce_nftnl_close(void)
{
	if (nl.sock)
		mnl_socket_close(nl.sock);
	free(nl.buf);
	free(nl.sent);
	memset(&nl, 0, sizeof(nl));
}
