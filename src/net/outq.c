/* outq.c: the per-client ring of shared messages waiting for the socket. */
#include "uvchat/outq.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int uvc_outq_grow_(uvc_outq_t* q) {
  uint32_t cap, first;
  uvc_msg_t** ring;
  if (q->ring == NULL) { /* first use: the inline slots */
    q->ring = q->small;
    q->cap = UVC_OUTQ_INLINE;
    q->head = 0;
    return 0;
  }
  cap = q->cap < 16 ? 16 : q->cap * 2;
  if (cap > (UINT32_MAX >> 1)) return -1;
  ring = malloc(cap * sizeof(*ring));
  if (ring == NULL) return -1;
  /* Unroll the old ring so that the head sits at index 0. */
  first = q->cap - q->head;
  if (first > q->count) first = q->count;
  memcpy(ring, q->ring + q->head, first * sizeof(*ring));
  memcpy(ring + first, q->ring, (q->count - first) * sizeof(*ring));
  if (q->ring != q->small) free(q->ring);
  q->ring = ring;
  q->cap = cap;
  q->head = 0;
  return 0;
}

size_t uvc_outq_fill(const uvc_outq_t* q, uv_buf_t* iov, size_t max, size_t* bytes) {
  size_t i, total = 0, n = q->count < max ? q->count : max;
  uint32_t mask = q->cap - 1;
  for (i = 0; i < n; i++) {
    uvc_msg_t* m = q->ring[(q->head + i) & mask];
    uint32_t off = (i == 0) ? q->head_off : 0;
    iov[i].base = m->data + off; /* uv_buf_init is a call into libuv: too dear per message */
    iov[i].len = m->len - off;
    total += m->len - off;
  }
  *bytes = total;
  return n;
}

void uvc_outq_consume(uvc_outq_t* q, size_t n) {
  assert(n <= q->bytes);
  q->bytes -= (uint32_t)n;
  q->sent += (uint32_t)n;
  while (n > 0) {
    uvc_msg_t* m = q->ring[q->head];
    size_t left = m->len - q->head_off;
    if (n < left) {
      q->head_off += (uint32_t)n;
      return;
    }
    n -= left;
    q->head_off = 0;
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
    uvc_msg_release(m);
  }
}

void uvc_outq_clear(uvc_outq_t* q) {
  while (q->count > 0) {
    uvc_msg_release(q->ring[q->head]);
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
  }
  q->head = q->head_off = 0;
  q->bytes = 0;
  uvc_outq_trim(q);
}

void uvc_outq_trim(uvc_outq_t* q) {
  if (q->count > 0 || q->ring == NULL) return;
  if (q->ring != q->small) free(q->ring);
  q->ring = NULL;
  q->cap = q->head = q->head_off = 0;
}
