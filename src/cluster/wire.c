/* wire.c: what servers of a cluster say to each other, as bytes: a kind byte, then fields as
 * netstrings ("5:hello,"), numbers in decimal. Plain C, no Redis: unit-tested directly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/cluster.h"

/* ------------------------------------------------------------------------------------------
 * Writing
 * ---------------------------------------------------------------------------------------- */

typedef struct {
  char** buf;
  size_t* len;
  size_t* cap;
  int failed;
} writer_t;

/* The decimal digits of v into out (at least 20 bytes), not NUL-terminated; their count.
 * Every field of every message between servers has a length, and many are numbers: written
 * by hand, not by printf (which was a fifth of a publishing server's CPU). */
static size_t digits_of(char* out, uint64_t v) {
  char tmp[20];
  size_t n = 0, i;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v > 0);
  for (i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

static void put(writer_t* w, const char* p, size_t n) {
  char digits[24];
  int d = (int)digits_of(digits, n);
  digits[d++] = ':';
  size_t need = *w->len + (size_t)d + n + 1;
  if (w->failed) return;
  if (need > *w->cap) {
    size_t cap = *w->cap < 256 ? 256 : *w->cap;
    char* nb;
    while (cap < need)
      cap *= 2;
    if ((nb = realloc(*w->buf, cap)) == NULL) {
      w->failed = 1;
      return;
    }
    *w->buf = nb;
    *w->cap = cap;
  }
  memcpy(*w->buf + *w->len, digits, (size_t)d);
  if (n > 0) memcpy(*w->buf + *w->len + d, p, n);
  (*w->buf)[*w->len + (size_t)d + n] = ',';
  *w->len = need;
}

static void put_str(writer_t* w, const char* s) {
  put(w, s, strlen(s));
}

static void put_num(writer_t* w, long long v) {
  char digits[24];
  size_t d = 0;
  uint64_t u = (uint64_t)v;
  if (v < 0) {
    digits[d++] = '-';
    u = 0 - u; /* the magnitude, LLONG_MIN included */
  }
  d += digits_of(digits + d, u);
  put(w, digits, d);
}

static void put_u64(writer_t* w, uint64_t v) {
  char digits[24];
  put(w, digits, digits_of(digits, v));
}

int uvc_wire_encode(const uvc_wire_t* m, char** buf, size_t* len, size_t* cap) {
  writer_t w;
  char kind = (char)m->kind;
  w.buf = buf;
  w.len = len;
  w.cap = cap;
  w.failed = 0;
  put(&w, &kind, 1);
  put_str(&w, m->server);
  put_u64(&w, m->uid);
  switch (m->kind) {
    case UVC_WIRE_EVENT: {
      const uvc_event_t* ev = &m->ev;
      put_num(&w, ev->type);
      put_num(&w, ev->reason);
      put_u64(&w, ev->id);
      put_num(&w, ev->time_ms);
      put_u64(&w, ev->limit);
      put_num(&w, ev->notice);
      put_num(&w, ev->mode_on);
      put_num(&w, ev->mode_off);
      put_num(&w, ev->list);
      put_num(&w, ev->same_account);
      put(&w, ev->room, ev->room_len);
      put(&w, ev->old_nick, ev->old_len);
      put_str(&w, ev->has_realname ? ev->realname : "");
      put_num(&w, ev->has_realname);
      put(&w, ev->from.nick, ev->from.nick_len);
      put(&w, ev->from.user, ev->from.user_len);
      put_str(&w, ev->from.account);
      put_str(&w, m->from_format);
      put(&w, ev->to.nick, ev->to.nick_len);
      put(&w, ev->to.user, ev->to.user_len);
      put_str(&w, ev->to.account);
      put(&w, ev->text != NULL ? ev->text : "", ev->text != NULL ? ev->len : 0);
      put(&w, ev->tags != NULL ? ev->tags : "", ev->tags != NULL ? ev->tags_len : 0);
      break;
    }
    case UVC_WIRE_USER: {
      unsigned i;
      put_str(&w, m->nick);
      put_str(&w, m->user);
      put_str(&w, m->account);
      put_str(&w, m->realname);
      put_str(&w, m->from_format);
      put_num(&w, m->away != NULL);
      put(&w, m->away != NULL ? m->away : "", m->away != NULL ? m->away_len : 0);
      put_num(&w, m->umodes);
      put_num(&w, m->n_rooms);
      for (i = 0; i < m->n_rooms; i++) {
        put_str(&w, m->rooms[i].name);
        put_num(&w, m->rooms[i].flags);
      }
      break;
    }
    case UVC_WIRE_ROOM: {
      const uvc_event_t* ev = &m->ev;
      put(&w, ev->room, ev->room_len);
      put(&w, ev->text != NULL ? ev->text : "", ev->text != NULL ? ev->len : 0);
      put(&w, ev->from.nick, ev->from.nick_len);
      put_num(&w, ev->time_ms);
      put_num(&w, ev->mode_on);
      break;
    }
    case UVC_WIRE_ENTRY: {
      const uvc_event_t* ev = &m->ev;
      unsigned k;
      put(&w, ev->room, ev->room_len);
      put(&w, ev->text != NULL ? ev->text : "", ev->text != NULL ? ev->len : 0);
      put_u64(&w, ev->limit);
      for (k = 0; k < 2; k++) {
        const uvc_mask_list_t* l = m->lists[k];
        uint16_t i, n = l != NULL ? l->n : 0;
        put_num(&w, n);
        for (i = 0; i < n; i++) {
          put_str(&w, l->v[i].mask);
          put_str(&w, l->v[i].by);
          put_num(&w, l->v[i].at);
        }
      }
      break;
    }
    case UVC_WIRE_KILL:
      put(&w, m->ev.text != NULL ? m->ev.text : "", m->ev.text != NULL ? m->ev.len : 0);
      break;
    default: /* HELLO, GONE, BEGIN, SYNC: the server alone */
      break;
  }
  return w.failed ? -1 : 0;
}

/* ------------------------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------------------------- */

typedef struct {
  const char* p;
  const char* end;
  int failed;
} reader_t;

/* The next field: its bytes and length, or NULL (and failed) when malformed. */
static const char* get(reader_t* r, size_t* n) {
  size_t v = 0, digits = 0;
  const char* body;
  if (r->failed) return NULL;
  while (r->p < r->end && *r->p >= '0' && *r->p <= '9' && digits < 9) {
    v = v * 10 + (size_t)(*r->p - '0');
    r->p++;
    digits++;
  }
  if (digits == 0 || r->p >= r->end || *r->p != ':' || (size_t)(r->end - r->p - 1) < v + 1 ||
      r->p[1 + v] != ',') {
    r->failed = 1;
    return NULL;
  }
  body = r->p + 1;
  r->p = body + v + 1;
  *n = v;
  return body;
}

/* A field into out[0..cap) as a NUL-terminated string, at most cap - 1 bytes, no NUL
 * inside; its length. */
static size_t get_str(reader_t* r, char* out, size_t cap) {
  size_t n;
  const char* p = get(r, &n);
  if (p == NULL || n >= cap || memchr(p, '\0', n) != NULL) {
    r->failed = 1;
    out[0] = '\0';
    return 0;
  }
  memcpy(out, p, n);
  out[n] = '\0';
  return n;
}

static long long get_num(reader_t* r, long long min, long long max) {
  char digits[24];
  char* end;
  long long v;
  size_t n = get_str(r, digits, sizeof(digits));
  if (r->failed || n == 0) {
    r->failed = 1;
    return 0;
  }
  v = strtoll(digits, &end, 10);
  if (*end != '\0' || v < min || v > max) {
    r->failed = 1;
    return 0;
  }
  return v;
}

static uint64_t get_u64(reader_t* r) {
  char digits[24];
  char* end;
  unsigned long long v;
  size_t n = get_str(r, digits, sizeof(digits));
  if (r->failed || n == 0 || digits[0] < '0' || digits[0] > '9') {
    r->failed = 1;
    return 0;
  }
  v = strtoull(digits, &end, 10);
  if (*end != '\0') r->failed = 1;
  return (uint64_t)v;
}

/* One entry of a mask list (UVC_WIRE_ENTRY): the mask (1 to UVC_MASK_MAX bytes), who set
 * it, when. */
static void get_mask(reader_t* r, char* mask, char* by, int64_t* at) {
  if (get_str(r, mask, UVC_MASK_MAX + 1) == 0) r->failed = 1;
  get_str(r, by, UVC_NICK_MAX + 1);
  *at = (int64_t)get_num(r, 0, INT64_MAX);
}

int uvc_wire_mask_next(uvc_wire_masks_t* it, char mask[UVC_MASK_MAX + 1], char by[UVC_NICK_MAX + 1],
                       int64_t* at) {
  reader_t r;
  if (it->n == 0 || it->p >= it->end) return 0;
  r.p = it->p;
  r.end = it->end;
  r.failed = 0;
  get_mask(&r, mask, by, at);
  if (r.failed) { /* not after a successful decode */
    it->n = 0;
    return 0;
  }
  it->p = r.p;
  it->n--;
  return 1;
}

int uvc_wire_decode(const char* data, size_t len, uvc_wire_t* m) {
  reader_t r;
  size_t n;
  const char* kind;
  r.p = data;
  r.end = data + len;
  r.failed = 0;
  memset(m, 0, sizeof(*m));
  kind = get(&r, &n);
  if (kind == NULL || n != 1) return -1;
  m->kind = (uint8_t)kind[0];
  get_str(&r, m->server, sizeof(m->server));
  m->uid = get_u64(&r);
  if (r.failed || m->server[0] == '\0') return -1;
  switch (m->kind) {
    case UVC_WIRE_EVENT: {
      uvc_event_t* ev = &m->ev;
      const char* p;
      ev->type = (uvc_event_type_t)get_num(&r, 0, UVC_EV_REALNAME);
      ev->reason = (uvc_leave_t)get_num(&r, 0, UVC_LEAVE_SERVER);
      ev->id = get_u64(&r);
      ev->time_ms = (int64_t)get_num(&r, 0, INT64_MAX);
      ev->limit = (uint32_t)get_num(&r, 0, UINT32_MAX);
      ev->notice = (uint8_t)get_num(&r, 0, 1);
      ev->mode_on = (uint8_t)get_num(&r, 0, 255);
      ev->mode_off = (uint8_t)get_num(&r, 0, 255);
      ev->list = (uint8_t)get_num(&r, 0, 255);
      ev->same_account = (uint8_t)get_num(&r, 0, 1);
      ev->room_len = (uint8_t)get_str(&r, ev->room, sizeof(ev->room));
      ev->old_len = (uint8_t)get_str(&r, ev->old_nick, sizeof(ev->old_nick));
      get_str(&r, ev->realname, sizeof(ev->realname));
      ev->has_realname = (uint8_t)get_num(&r, 0, 1);
      ev->from.nick_len = (uint8_t)get_str(&r, ev->from.nick, sizeof(ev->from.nick));
      ev->from.user_len = (uint8_t)get_str(&r, ev->from.user, sizeof(ev->from.user));
      get_str(&r, ev->from.account, sizeof(ev->from.account));
      get_str(&r, m->from_format, sizeof(m->from_format));
      ev->to.nick_len = (uint8_t)get_str(&r, ev->to.nick, sizeof(ev->to.nick));
      ev->to.user_len = (uint8_t)get_str(&r, ev->to.user, sizeof(ev->to.user));
      get_str(&r, ev->to.account, sizeof(ev->to.account));
      p = get(&r, &n);
      ev->text = n > 0 ? p : NULL;
      ev->len = p != NULL ? n : 0;
      p = get(&r, &n);
      ev->tags = n > 0 ? p : NULL;
      ev->tags_len = p != NULL ? n : 0;
      break;
    }
    case UVC_WIRE_USER: {
      unsigned i;
      int away;
      const char* p;
      get_str(&r, m->nick, sizeof(m->nick));
      get_str(&r, m->user, sizeof(m->user));
      get_str(&r, m->account, sizeof(m->account));
      get_str(&r, m->realname, sizeof(m->realname));
      get_str(&r, m->from_format, sizeof(m->from_format));
      away = (int)get_num(&r, 0, 1);
      p = get(&r, &n);
      if (away && p != NULL && n <= UVC_AWAY_MAX) {
        m->away = p;
        m->away_len = n;
      } else if (p != NULL && n > UVC_AWAY_MAX) {
        r.failed = 1;
      }
      m->umodes = (uint8_t)get_num(&r, 0, 255);
      m->n_rooms = (uint8_t)get_num(&r, 0, UVC_ROOMS_PER_USER);
      for (i = 0; i < m->n_rooms && !r.failed; i++) {
        get_str(&r, m->rooms[i].name, sizeof(m->rooms[i].name));
        m->rooms[i].flags = (uint32_t)get_num(&r, 0, 255);
      }
      if (m->nick[0] == '\0') r.failed = 1;
      break;
    }
    case UVC_WIRE_ROOM: {
      uvc_event_t* ev = &m->ev;
      const char* p;
      ev->room_len = (uint8_t)get_str(&r, ev->room, sizeof(ev->room));
      p = get(&r, &n);
      if (p != NULL && n > UVC_TOPIC_MAX) r.failed = 1;
      ev->text = p != NULL && n > 0 ? p : NULL;
      ev->len = p != NULL ? n : 0;
      ev->from.nick_len = (uint8_t)get_str(&r, ev->from.nick, sizeof(ev->from.nick));
      ev->time_ms = (int64_t)get_num(&r, 0, INT64_MAX);
      ev->mode_on = (uint8_t)get_num(&r, 0, 255);
      if (ev->room_len == 0) r.failed = 1;
      break;
    }
    case UVC_WIRE_ENTRY: {
      uvc_event_t* ev = &m->ev;
      const char* p;
      unsigned k;
      ev->room_len = (uint8_t)get_str(&r, ev->room, sizeof(ev->room));
      p = get(&r, &n);
      if (p != NULL && n > UVC_KEY_MAX) r.failed = 1;
      ev->text = p != NULL && n > 0 ? p : NULL;
      ev->len = p != NULL ? n : 0;
      ev->limit = (uint32_t)get_num(&r, 0, UINT32_MAX);
      for (k = 0; k < 2 && !r.failed; k++) {
        uvc_wire_masks_t* l = &m->masks[k];
        uint16_t i;
        l->n = (uint16_t)get_num(&r, 0, UVC_LIST_MAX);
        l->p = r.p;
        for (i = 0; i < l->n && !r.failed; i++) { /* checked now, read again by the caller */
          char mask[UVC_MASK_MAX + 1], by[UVC_NICK_MAX + 1];
          int64_t at;
          get_mask(&r, mask, by, &at);
        }
        l->end = r.p;
      }
      if (ev->room_len == 0) r.failed = 1;
      break;
    }
    case UVC_WIRE_KILL: {
      const char* p = get(&r, &n);
      if (p != NULL && n > UVC_NICK_MAX + UVC_REASON_MAX + 32) r.failed = 1;
      m->ev.text = p;
      m->ev.len = p != NULL ? n : 0;
      break;
    }
    case UVC_WIRE_HELLO:
    case UVC_WIRE_GONE:
    case UVC_WIRE_BEGIN:
    case UVC_WIRE_SYNC:
    case UVC_WIRE_BEAT:
      break;
    default:
      return -1;
  }
  if (r.failed || r.p != r.end) return -1;
  return 0;
}

/* ------------------------------------------------------------------------------------------
 * Batches
 * ---------------------------------------------------------------------------------------- */

int uvc_wire_is_batch(const char* data, size_t len) {
  return len >= UVC_WIRE_BATCH_HEAD_LEN &&
         memcmp(data, UVC_WIRE_BATCH_HEAD, UVC_WIRE_BATCH_HEAD_LEN) == 0;
}

int uvc_wire_batch_add(const char* msg, size_t n, char** buf, size_t* len, size_t* cap) {
  writer_t w;
  w.buf = buf;
  w.len = len;
  w.cap = cap;
  w.failed = 0;
  if (*len == 0) { /* the head: a kind of its own */
    put(&w, "*", 1);
  }
  put(&w, msg, n);
  return w.failed ? -1 : 0;
}

int uvc_wire_batch_next(const char** p, const char* end, const char** msg, size_t* n) {
  reader_t r;
  if (*p >= end) return 0;
  r.p = *p;
  r.end = end;
  r.failed = 0;
  *msg = get(&r, n);
  if (*msg == NULL) return -1;
  *p = r.p;
  return 1;
}

/* ------------------------------------------------------------------------------------------
 * The remote adapter: ghosts of other servers' sessions
 * ---------------------------------------------------------------------------------------- */

/* A ghost has no connection here: it is shown nothing. */
static uvc_msg_t* remote_render(const uvc_event_t* ev, const uvc_render_ctx_t* ctx) {
  (void)ev;
  (void)ctx;
  return NULL;
}

static uvc_msg_t* remote_render_variant(const uvc_event_t* ev, const uvc_render_ctx_t* ctx,
                                        const uvc_session_t* s, unsigned v) {
  (void)s;
  (void)v;
  return remote_render(ev, ctx);
}

/* A ghost's real name: its proto points at it (the cluster's ghost record). */
static const char* remote_realname(const uvc_session_t* s) {
  return (const char*)s->proto;
}

const uvc_adapter_t uvc_remote_adapter = {
    .name = "remote",
    .realname = remote_realname,
    .format = 0, /* its sessions use slot UVC_VARIANT_OWN: rendered (to nothing) alone */
    .remote = 1,
    .render = remote_render,
    .render_variant = remote_render_variant,
};
