/* ttrpc framing: header codec and an incremental, allocation-bounded decoder. */
#include "ttrpc.h"
#include "util.h"

#include <string.h>

void ttrpc_hdr_encode(uint8_t out[TTRPC_HDR_LEN], const struct ttrpc_hdr *h)
{
    out[0] = (uint8_t)(h->length >> 24);
    out[1] = (uint8_t)(h->length >> 16);
    out[2] = (uint8_t)(h->length >> 8);
    out[3] = (uint8_t)h->length;
    out[4] = (uint8_t)(h->stream >> 24);
    out[5] = (uint8_t)(h->stream >> 16);
    out[6] = (uint8_t)(h->stream >> 8);
    out[7] = (uint8_t)h->stream;
    out[8] = h->type;
    out[9] = h->flags;
}

void ttrpc_hdr_decode(const uint8_t in[TTRPC_HDR_LEN], struct ttrpc_hdr *h)
{
    h->length = (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
    h->stream = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 | (uint32_t)in[6] << 8 | in[7];
    h->type = in[8];
    h->flags = in[9];
}

void ttrpc_decoder_reset(struct ttrpc_decoder *d)
{
    free(d->payload);
    memset(d, 0, sizeof(*d));
}

enum ttrpc_event ttrpc_decode(struct ttrpc_decoder *d, const uint8_t *buf, size_t len, size_t *used,
                              struct ttrpc_frame *frame)
{
    size_t off = 0;
    for (;;) {
        if (d->skip > 0) {
            size_t n = len - off < d->skip ? len - off : (size_t)d->skip;
            d->skip -= n;
            off += n;
            if (d->skip > 0) {
                *used = off;
                return TTRPC_NEED_MORE;
            }
            continue;
        }
        if (!d->in_payload) {
            size_t n = TTRPC_HDR_LEN - d->hdr_have;
            if (n > len - off)
                n = len - off;
            memcpy(d->hdr_buf + d->hdr_have, buf + off, n);
            d->hdr_have += n;
            off += n;
            if (d->hdr_have < TTRPC_HDR_LEN) {
                *used = off;
                return TTRPC_NEED_MORE;
            }
            d->hdr_have = 0;
            ttrpc_hdr_decode(d->hdr_buf, &d->hdr);
            if (d->hdr.type < TTRPC_TYPE_REQUEST || d->hdr.type > TTRPC_TYPE_DATA ||
                d->hdr.length > TTRPC_GARBAGE_LEN) {
                *used = off;
                return TTRPC_GARBAGE;
            }
            if (d->hdr.length > TTRPC_MAX_PAYLOAD) {
                d->skip = d->hdr.length;
                frame->hdr = d->hdr;
                frame->payload = NULL;
                *used = off;
                return TTRPC_OVERSIZE;
            }
            d->payload = xmalloc(d->hdr.length);
            d->have = 0;
            d->in_payload = 1;
        }
        size_t n = d->hdr.length - d->have;
        if (n > len - off)
            n = len - off;
        memcpy(d->payload + d->have, buf + off, n);
        d->have += n;
        off += n;
        if (d->have < d->hdr.length) {
            *used = off;
            return TTRPC_NEED_MORE;
        }
        frame->hdr = d->hdr;
        frame->payload = d->payload;
        d->payload = NULL;
        d->in_payload = 0;
        *used = off;
        return TTRPC_FRAME;
    }
}

uint8_t *ttrpc_frame_alloc(uint32_t stream, uint8_t type, size_t payload_len)
{
    uint8_t *buf = xmalloc(TTRPC_HDR_LEN + payload_len);
    struct ttrpc_hdr h = { .length = (uint32_t)payload_len, .stream = stream, .type = type, .flags = 0 };
    ttrpc_hdr_encode(buf, &h);
    return buf;
}
