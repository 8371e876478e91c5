/* ConfigureNetwork: the VM's network interface gets what CNI gave the pod's network namespace on the host (MAC,
 * MTU, addresses, routes), over rtnetlink. See net.c and docs/guest-protocol.md ("Pod networking"). */
#ifndef A3S_NET_H
#define A3S_NET_H

#include "pb.h"

#define NET_NETLINK_TIMEOUT_MS 2000   /* the longest wait for one netlink answer */

/* Why net_configure failed: a gRPC code, the errno and operation ("netlink") when the kernel refused a step
 * (0 and "" otherwise), the message ("<step>: <strerror>" for a refused step), and the kernel's own reason
 * when it gave one (extended ack, e.g. "Nexthop has invalid gateway"; only logged). */
struct net_error {
    int code;
    int err;
    char op[28];
    char msg[512];
    char reason[160];
};

/* Validates the whole request first (nothing is touched when a field is malformed: INVALID_ARGUMENT; an
 * interface that does not exist: NOT_FOUND), then applies it: `lo` up, then per interface down, MAC, MTU,
 * name, addresses, up; then the routes in order. A failed step is undone best effort (routes and addresses
 * added are removed, the old name, MTU and MAC restored, the interfaces left down), so the call may be
 * retried. Each netlink request waits at most NET_NETLINK_TIMEOUT_MS for its answer; once one timed out, the
 * remaining requests (the undo's too) are not sent. Returns 0, or -1 with *e filled. */
int net_configure(const A3s__Guest__V1__ConfigureNetworkRequest *req, struct net_error *e);

#endif
