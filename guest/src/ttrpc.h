/* ttrpc framing (containerd/ttrpc), shared by the agent (server) and agentctl (client).
 *
 *   0               4               8       9       10
 *   +---------------+---------------+-------+-------+---------------------------+
 *   | length (BE32) | stream (BE32) | type  | flags | payload (length bytes)    |
 *   +---------------+---------------+-------+-------+---------------------------+
 *
 * type 1 = Request (payload: ttrpc.Request), 2 = Response (ttrpc.Response), 3 = Data (unused here).
 * Clients use odd stream ids. A payload above TTRPC_MAX_PAYLOAD is discarded and answered with
 * RESOURCE_EXHAUSTED on its stream; a header that cannot come from a ttrpc peer (unknown type, or a
 * length above TTRPC_GARBAGE_LEN) means the byte stream is out of sync: the connection must be dropped. */
#ifndef A3S_TTRPC_H
#define A3S_TTRPC_H

#include <stddef.h>
#include <stdint.h>

#define TTRPC_HDR_LEN 10
#define TTRPC_MAX_PAYLOAD (4u << 20)
#define TTRPC_GARBAGE_LEN (64u << 20)

enum { TTRPC_TYPE_REQUEST = 1, TTRPC_TYPE_RESPONSE = 2, TTRPC_TYPE_DATA = 3 };

/* gRPC status codes. */
enum {
    CODE_OK = 0, CODE_CANCELLED = 1, CODE_UNKNOWN = 2, CODE_INVALID_ARGUMENT = 3, CODE_DEADLINE_EXCEEDED = 4,
    CODE_NOT_FOUND = 5, CODE_ALREADY_EXISTS = 6, CODE_PERMISSION_DENIED = 7, CODE_RESOURCE_EXHAUSTED = 8,
    CODE_FAILED_PRECONDITION = 9, CODE_ABORTED = 10, CODE_OUT_OF_RANGE = 11, CODE_UNIMPLEMENTED = 12,
    CODE_INTERNAL = 13, CODE_UNAVAILABLE = 14, CODE_DATA_LOSS = 15, CODE_UNAUTHENTICATED = 16,
};

struct ttrpc_hdr {
    uint32_t length;
    uint32_t stream;
    uint8_t type;
    uint8_t flags;
};

void ttrpc_hdr_encode(uint8_t out[TTRPC_HDR_LEN], const struct ttrpc_hdr *h);
void ttrpc_hdr_decode(const uint8_t in[TTRPC_HDR_LEN], struct ttrpc_hdr *h);

enum ttrpc_event {
    TTRPC_NEED_MORE = 0,  /* all input consumed, no complete frame */
    TTRPC_FRAME,          /* *frame holds a complete frame; payload is malloc'ed and owned by the caller */
    TTRPC_OVERSIZE,       /* header of a frame above the maximum: answer RESOURCE_EXHAUSTED; it is skipped */
    TTRPC_GARBAGE,        /* not a ttrpc stream: drop the connection (the decoder must be reset) */
};

struct ttrpc_frame {
    struct ttrpc_hdr hdr;
    uint8_t *payload;
};

/* Incremental decoder: bytes may arrive in any fragmentation. */
struct ttrpc_decoder {
    uint8_t hdr_buf[TTRPC_HDR_LEN];
    size_t hdr_have;
    struct ttrpc_hdr hdr;
    uint8_t *payload;
    size_t have;
    uint64_t skip;     /* bytes of an oversized payload still to discard */
    int in_payload;
};

void ttrpc_decoder_reset(struct ttrpc_decoder *d);
/* Consumes bytes from buf until one event happens; *used says how many. Call again with the rest. */
enum ttrpc_event ttrpc_decode(struct ttrpc_decoder *d, const uint8_t *buf, size_t len, size_t *used,
                              struct ttrpc_frame *frame);

/* Allocates a frame buffer (header filled in) with room for payload_len bytes after the header. */
uint8_t *ttrpc_frame_alloc(uint32_t stream, uint8_t type, size_t payload_len);

#endif
