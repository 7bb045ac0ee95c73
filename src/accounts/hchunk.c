/* hchunk.c: see hchunk.h. */
#include "hchunk.h"

#include <stdlib.h>
#include <string.h>

static void put_u16(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t* p, uint32_t v) {
  put_u16(p, v & 0xffffu);
  put_u16(p + 2, v >> 16);
}
static void put_i64(uint8_t* p, int64_t v) {
  uint64_t u = (uint64_t)v;
  put_u32(p, (uint32_t)u);
  put_u32(p + 4, (uint32_t)(u >> 32));
}
static uint32_t get_u16(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static uint32_t get_u32(const uint8_t* p) {
  return get_u16(p) | get_u16(p + 2) << 16;
}
static int64_t get_i64(const uint8_t* p) {
  return (int64_t)((uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32);
}

/* The length of s up to cap (NULL: 0); given: the caller's length (0: measure). */
static size_t cut(const char* s, size_t given, size_t cap) {
  size_t n = s == NULL ? 0 : given > 0 ? given : strlen(s);
  return n < cap ? n : cap;
}

int uvc_hchunk_add(uvc_hchunk_t* c, const uvc_hist_rec_t* rec) {
  /* one-byte lengths: a nick, user, host or account is far shorter than 255 */
  size_t ln = cut(rec->nick, rec->nick_len, 255), lu = cut(rec->user, rec->user_len, 255);
  size_t lh = cut(rec->host, rec->host_len, 255), la = cut(rec->account, 0, 255);
  size_t lt = cut(rec->text, rec->text_len, UVC_HIST_TEXT_MAX);
  size_t need = UVC_HCHUNK_HEAD + ln + lu + lh + la + lt + 5;
  uint8_t* q;
  if (c->len + need > c->cap) {
    size_t cap = c->cap == 0 ? 4096 : c->cap;
    uint8_t* p;
    while (cap < c->len + need)
      cap *= 2;
    if ((p = realloc(c->p, cap)) == NULL) return UVC_STORE_NOMEM;
    c->p = p;
    c->cap = cap;
  }
  q = c->p + c->len;
  put_u32(q, (uint32_t)need);
  put_i64(q + 4, rec->seq);
  put_i64(q + 12, rec->time_ms);
  q[20] = (uint8_t)rec->kind;
  q[21] = (uint8_t)rec->flags;
  q[22] = (uint8_t)ln;
  q[23] = (uint8_t)lu;
  q[24] = (uint8_t)lh;
  q[25] = (uint8_t)la;
  put_u16(q + 26, (uint32_t)lt);
  q += UVC_HCHUNK_HEAD;
#define PUT(s, n)                 \
  do {                            \
    if ((n) > 0) memcpy(q, s, n); \
    q[n] = '\0';                  \
    q += (n) + 1;                 \
  } while (0)
  PUT(rec->nick, ln);
  PUT(rec->user, lu);
  PUT(rec->host, lh);
  PUT(rec->account, la);
  PUT(rec->text, lt);
#undef PUT
  c->len += need;
  if (c->n == 0) {
    c->first_seq = rec->seq;
    c->min_ms = c->max_ms = rec->time_ms;
  }
  c->last_seq = rec->seq;
  if (rec->time_ms < c->min_ms) c->min_ms = rec->time_ms;
  if (rec->time_ms > c->max_ms) c->max_ms = rec->time_ms;
  c->n++;
  return 0;
}

void uvc_hchunk_clear(uvc_hchunk_t* c) {
  c->len = 0;
  c->n = 0;
  c->first_seq = c->last_seq = c->min_ms = c->max_ms = 0;
}

void uvc_hchunk_free(uvc_hchunk_t* c) {
  free(c->p);
  memset(c, 0, sizeof(*c));
}

int uvc_hchunk_next(uvc_hchunk_iter_t* it, uvc_hist_rec_t* out) {
  const uint8_t* q;
  size_t left = it->len - it->off, need, k, lens[5];
  const char* s;
  if (left == 0) return 0;
  if (left < UVC_HCHUNK_HEAD) return -1;
  q = it->p + it->off;
  need = get_u32(q);
  lens[0] = q[22];
  lens[1] = q[23];
  lens[2] = q[24];
  lens[3] = q[25];
  lens[4] = get_u16(q + 26);
  if (need > left || need != UVC_HCHUNK_HEAD + lens[0] + lens[1] + lens[2] + lens[3] + lens[4] + 5)
    return -1;
  s = (const char*)q + UVC_HCHUNK_HEAD;
  for (k = 0; k < 5; k++) { /* each string ends with its NUL */
    if (s[lens[k]] != '\0') return -1;
    s += lens[k] + 1;
  }
  s = (const char*)q + UVC_HCHUNK_HEAD;
  out->seq = get_i64(q + 4);
  out->time_ms = get_i64(q + 12);
  out->kind = q[20];
  out->flags = q[21];
  out->pending = 0;
  out->msgid = NULL;
  out->nick = s;
  out->nick_len = (uint16_t)lens[0];
  s += lens[0] + 1;
  out->user = s;
  out->user_len = (uint16_t)lens[1];
  s += lens[1] + 1;
  out->host = s;
  out->host_len = (uint16_t)lens[2];
  s += lens[2] + 1;
  out->account = s;
  s += lens[3] + 1;
  out->text = s;
  out->text_len = lens[4];
  it->off += need;
  return 1;
}
