/* outq.h: a client's send queue: references to shared messages waiting to be written.
 *
 * A ring of message pointers plus the offset already written into the first one. It owns
 * one reference per queued message and releases it when the message is fully written or
 * the queue is cleared. The first slot lives inside the queue itself, so a client that
 * gets a line now and then never allocates; a burst moves the ring to the heap, and
 * uvc_outq_trim() gives that back once the queue is empty.
 */
#ifndef UVCHAT_OUTQ_H
#define UVCHAT_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uvchat/msg.h"

#define UVC_OUTQ_INLINE 1

typedef struct uvc_outq {
  uvc_msg_t** ring; /* small, or a heap array; NULL while never used */
  uint32_t cap;     /* a power of two, or 0 */
  uint32_t head;
  uint32_t count;
  uint32_t head_off; /* bytes of the first message already written */
  uint32_t bytes;    /* bytes queued and not yet written (--sendq is at most 1 GiB) */
  uint32_t sent;     /* bytes written so far, wrapping: progress is any change */
  uvc_msg_t* small[UVC_OUTQ_INLINE];
} uvc_outq_t;

/* Makes room for one more entry (the slow path of uvc_outq_push). Returns 0 or -1. */
int uvc_outq_grow_(uvc_outq_t* q);

/* Appends m, taking a reference. Returns 0, or -1 when out of memory. Inline: it runs once
 * per recipient of every broadcast. */
static inline int uvc_outq_push(uvc_outq_t* q, uvc_msg_t* m) {
  if (m->len == 0) return 0; /* nothing to write; an empty entry could never be consumed */
  if (q->count == q->cap && uvc_outq_grow_(q) != 0) return -1;
  q->ring[(q->head + q->count) & (q->cap - 1)] = uvc_msg_retain(m);
  q->count++;
  q->bytes += m->len;
  return 0;
}

/* Describes up to max queued buffers, from the head, in iov; returns how many, and their
 * total size in *bytes. */
size_t uvc_outq_fill(const uvc_outq_t* q, uv_buf_t* iov, size_t max, size_t* bytes);

/* Marks n bytes from the head as written, releasing messages that are done. */
void uvc_outq_consume(uvc_outq_t* q, size_t n);

/* Releases every queued message. */
void uvc_outq_clear(uvc_outq_t* q);

/* Frees the ring when the queue is empty. */
void uvc_outq_trim(uvc_outq_t* q);

/* Frees the ring when the queue is empty and the ring is small (it costs little to grow
 * again); a big ring, the mark of a busy reader, is kept for the next burst. */
static inline void uvc_outq_trim_small(uvc_outq_t* q) {
  if (q->count == 0 && q->ring != q->small && q->cap <= 16) uvc_outq_trim(q);
}

#endif
