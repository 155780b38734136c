/* setelem.h: asks the kernel whether one IPv4 address is in pacto's set
 * "inet pacto v4", for the benchmarks that time a drop from outside.
 * Why: NFT_MSG_GETSETELEM of one element is a hash lookup under RCU that
 * takes no nftables lock and never lists the set (listing a big set is
 * quadratic: NOTES), so probing it thousands of times a second does not
 * disturb what is measured. */
#ifndef PACTO_BENCH_SETELEM_H
#define PACTO_BENCH_SETELEM_H

#include <libmnl/libmnl.h>
#include <stdint.h>

/* 1 present, 0 absent, -1 on a failure. nl: a bound NETLINK_NETFILTER socket. */
int setelem_has_v4(struct mnl_socket *nl, const uint8_t v4[4]);

#endif
