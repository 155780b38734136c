/* setelem.c: one element asked of the kernel (see setelem.h). */
#include "setelem.h"

#include <errno.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stddef.h>

/* The kernel's answer to a GETSETELEM sent with NLM_F_ACK: the element
 * (NFT_MSG_NEWSETELEM) then an ack, or an error (-ENOENT: not there). */
static int read_answer(struct mnl_socket *nl, uint32_t want)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(4)));
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len < 0)
			return -1;
		int left = (int)len;
		for (const struct nlmsghdr *h = (const void *)buf; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
			if (h->nlmsg_seq != want || h->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
			return e->error == 0 ? 1 : e->error == -ENOENT ? 0 : -1;
		}
	}
}

int setelem_has_v4(struct mnl_socket *nl, const uint8_t v4[4])
{
	static uint32_t seq;
	char buf[1024] __attribute__((aligned(4))) = {0};
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	nftnl_set_set_str(s, NFTNL_SET_TABLE, "pacto");
	nftnl_set_set_str(s, NFTNL_SET_NAME, "v4");
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, v4, 4);
	nftnl_set_elem_add(s, e);
	struct nlmsghdr *h = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_ACK, ++seq);
	nftnl_set_elems_nlmsg_build_payload(h, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(nl, buf, h->nlmsg_len) < 0)
		return -1;
	return read_answer(nl, seq);
}
