/* msg.h: one immutable, reference-counted byte buffer: a rendered line shared by every
 * recipient of a broadcast.
 *
 * A message is written once, right after uvc_msg_new(), by whoever renders it, and never
 * changed after its first uvc_msg_retain(). Each holder releases its reference exactly once;
 * the last release frees it. Not thread-safe: messages live on the loop thread.
 */
#ifndef UVCHAT_MSG_H
#define UVCHAT_MSG_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

typedef struct uvc_msg {
  uint32_t refs;
  uint32_t len;
  char data[];
} uvc_msg_t;

/* A new message of `len` bytes (contents unset) holding one reference, or NULL when out of
 * memory. */
uvc_msg_t* uvc_msg_new(size_t len);

/* A new message holding a copy of data[0..len). */
uvc_msg_t* uvc_msg_from(const char* data, size_t len);

/* A new message that is the concatenation of n parts (pointer/length pairs). */
typedef struct uvc_part {
  const char* p;
  size_t n;
} uvc_part_t;
uvc_msg_t* uvc_msg_concat(const uvc_part_t* parts, size_t n);

static inline uvc_msg_t* uvc_msg_retain(uvc_msg_t* m) {
  assert(m->refs > 0);
  m->refs++;
  return m;
}

/* Frees a message whose last reference was dropped. */
void uvc_msg_free_(uvc_msg_t* m);

/* Drops one reference; frees the message when it was the last. */
static inline void uvc_msg_release(uvc_msg_t* m) {
  assert(m->refs > 0);
  if (--m->refs == 0) uvc_msg_free_(m);
}

#endif
