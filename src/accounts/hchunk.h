/* hchunk.h: a room's history events packed into one blob (a chunk), so that the store
 * writes one row per room per batch rather than one per event.
 *
 * A chunk is a sequence of records, each: its length (u32, header included), seq (i64),
 * time_ms (i64), kind, flags, the lengths of nick, user, host and account (u8 each), the
 * length of the text (u16), then nick, user, host, account and text, each followed by a NUL
 * (so that a decoded record points into the blob). Numbers are little-endian. The owner and
 * the room are the row's, not the record's. Pure C: no SQLite, no libuv.
 */
#ifndef UVCHAT_HCHUNK_H
#define UVCHAT_HCHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "uvchat/store.h"

#define UVC_HCHUNK_HEAD 28 /* bytes of a record before its strings */

/* A chunk being built: its bytes and what the row stores beside them. */
typedef struct uvc_hchunk {
  uint8_t* p;
  size_t len, cap;
  uint32_t n;
  int64_t first_seq, last_seq; /* of the first and the last record added */
  int64_t min_ms, max_ms;
} uvc_hchunk_t;

/* Appends rec (its strings cut at the store's bounds). Returns 0 or UVC_STORE_NOMEM. */
int uvc_hchunk_add(uvc_hchunk_t* c, const uvc_hist_rec_t* rec);
/* Empties c, keeping its memory. */
void uvc_hchunk_clear(uvc_hchunk_t* c);
void uvc_hchunk_free(uvc_hchunk_t* c);

/* Walks the records of a chunk's bytes. */
typedef struct uvc_hchunk_iter {
  const uint8_t* p;
  size_t len, off;
} uvc_hchunk_iter_t;

static inline void uvc_hchunk_iter(uvc_hchunk_iter_t* it, const void* p, size_t len) {
  it->p = (const uint8_t*)p;
  it->len = len;
  it->off = 0;
}
/* The next record into *out (its strings pointing into the bytes; owner and target left
 * as they are): 1, or 0 at the end, or -1 when the bytes are not a chunk. */
int uvc_hchunk_next(uvc_hchunk_iter_t* it, uvc_hist_rec_t* out);

#endif
