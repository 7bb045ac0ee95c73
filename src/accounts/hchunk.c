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

/* ---- Batches ------------------------------------------------------------------------------ */

#include <uv.h>

#include "store_impl.h"

/* A private record: numbers, and its strings in the batch's arena. */
enum { F_OWNER, F_TARGET, F_NICK, F_USER, F_HOST, F_ACCOUNT, F_TEXT, N_FIELDS };
typedef struct brec {
  int64_t seq, time_ms;
  int kind, flags, pending;
  uint32_t off[N_FIELDS]; /* of each NUL-terminated string in the arena */
} brec_t;

/* A room of a batch: its events as chunks. */
typedef struct bgroup {
  uvc_hchunk_t* c;
  size_t nc, capc;
  int64_t last_seq;
  int ordered;
  uint32_t hash;
  uint8_t len;
  char room[UVC_HIST_FIELD_MAX + 1];
} bgroup_t;

/* Where the i-th record added is: a room's (group, chunk, offset in it) or a private one
 * (group NO_GROUP, off: its index among the private records). */
#define NO_GROUP UINT32_MAX
/* Chunk buffers a batch keeps for the next: as many as it used (a chunk buffer is one large
 * allocation, and a large allocation on the loop makes the allocator sort every small block
 * freed since; keeping them makes a steady stream of history allocate nothing), at most this
 * many: while traffic is light one or two, under a flood up to 2.4 MB. */
#define SPARE_BUFS 32
/* A chunk's buffer at its largest: full, plus the biggest record that made it so. */
#define FULL_CHUNK (UVC_HCHUNK_MAX_BYTES + UVC_HCHUNK_HEAD + UVC_HIST_TEXT_MAX + 4 * 256)
#define SPARES     2 /* batches kept for reuse: the one being filled, the one being written */

/* Batches are reused: one is filled on the loop while the one before is written on the
 * thread pool, which frees it; freed, it waits here (emptied, its buffers kept) for the
 * loop's next uvc_hist_batch_new. Its chunk buffers have the size a busy room's chunk
 * grows to, so that keeping history costs no malloc per chunk. Guarded by spare_lock: the
 * thread pool frees, the loop takes. */
static uv_once_t spare_once = UV_ONCE_INIT;
static uv_mutex_t spare_lock;
static uvc_hist_batch_t* spares[SPARES];
static size_t n_spares;
static void spare_init(void) {
  if (uv_mutex_init(&spare_lock) != 0) abort(); /* cannot happen but at exhaustion */
}
typedef struct bidx {
  uint32_t group, chunk, off;
} bidx_t;

struct uvc_hist_batch {
  bidx_t* idx; /* every record, in the order added */
  size_t n, cap;
  brec_t* v; /* the private records */
  size_t nv, capv;
  char* arena;
  size_t used, acap;
  bgroup_t* g; /* the rooms */
  size_t ng, capg, last;
  uint32_t* table; /* open addressing over g by hash (NO_GROUP: empty), 2 * capg slots */
  size_t room_bytes, hint;
  /* chunk buffers of an earlier batch, for the next chunks: no growing, no malloc */
  uvc_hchunk_t spare[SPARE_BUFS];
  size_t n_spare;
};

uvc_hist_batch_t* uvc_hist_batch_new(void) {
  uvc_hist_batch_t* b = NULL;
  uv_once(&spare_once, spare_init);
  uv_mutex_lock(&spare_lock);
  if (n_spares > 0) b = spares[--n_spares];
  uv_mutex_unlock(&spare_lock);
  return b != NULL ? b : calloc(1, sizeof(uvc_hist_batch_t));
}

size_t uvc_hist_batch_count(const uvc_hist_batch_t* b) {
  return b->n;
}

static void destroy(uvc_hist_batch_t* b) {
  size_t i, k;
  for (i = 0; i < b->ng; i++) {
    for (k = 0; k < b->g[i].nc; k++)
      uvc_hchunk_free(&b->g[i].c[k]);
    free(b->g[i].c);
  }
  for (i = 0; i < b->n_spare; i++)
    uvc_hchunk_free(&b->spare[i]);
  free(b->g);
  free(b->table);
  free(b->idx);
  free(b->v);
  free(b->arena);
  free(b);
}

/* Empties b for reuse: its arrays kept, its biggest chunk buffers kept as spares. */
static void empty(uvc_hist_batch_t* b) {
  size_t i, k, used = 1, keep;
  for (i = 0; i < b->ng; i++)
    used += b->g[i].nc;
  keep = used < SPARE_BUFS ? used : SPARE_BUFS; /* as many as this batch had, and one */
  while (b->n_spare > keep)                     /* spares it did not use go */
    uvc_hchunk_free(&b->spare[--b->n_spare]);
  for (i = 0; i < b->ng; i++) {
    for (k = 0; k < b->g[i].nc; k++) {
      uvc_hchunk_t* c = &b->g[i].c[k];
      size_t j, small = 0;
      if (b->n_spare < keep) { /* kept */
        b->spare[b->n_spare++] = *c;
        continue;
      }
      for (j = 1; j < b->n_spare; j++) /* or it takes the place of a smaller one */
        if (b->spare[j].cap < b->spare[small].cap) small = j;
      if (c->cap > b->spare[small].cap) {
        uvc_hchunk_t t = b->spare[small];
        b->spare[small] = *c;
        *c = t;
      }
      uvc_hchunk_free(c);
    }
    free(b->g[i].c);
  }
  for (i = 0; i < b->n_spare; i++)
    uvc_hchunk_clear(&b->spare[i]);
  b->ng = 0;
  b->last = 0;
  for (i = 0; i < 2 * b->capg; i++)
    b->table[i] = NO_GROUP;
  b->n = b->nv = b->used = b->room_bytes = b->hint = 0;
}

void uvc_hist_batch_release(void) {
  uv_once(&spare_once, spare_init);
  uv_mutex_lock(&spare_lock);
  while (n_spares > 0)
    destroy(spares[--n_spares]);
  uv_mutex_unlock(&spare_lock);
}

void uvc_hist_batch_free(uvc_hist_batch_t* b) {
  if (b == NULL) return;
  uv_once(&spare_once, spare_init);
  empty(b);
  uv_mutex_lock(&spare_lock);
  if (n_spares < SPARES) {
    spares[n_spares++] = b;
    b = NULL;
  }
  uv_mutex_unlock(&spare_lock);
  if (b != NULL) destroy(b);
}

int uvc_hist_batch_reserve(uvc_hist_batch_t* b, size_t recs, size_t bytes) {
  if (recs > b->cap) {
    bidx_t* v = realloc(b->idx, recs * sizeof(*v));
    if (v == NULL) return UVC_STORE_NOMEM;
    b->idx = v;
    b->cap = recs;
  }
  b->hint = bytes < UVC_HCHUNK_MAX_BYTES + 16384 ? bytes : UVC_HCHUNK_MAX_BYTES + 16384;
  return 0;
}

size_t uvc_hist_batch_bytes(const uvc_hist_batch_t* b) {
  return b->used + b->room_bytes;
}

/* The length of s (NULL: 0), at most cap; given: the caller's (0: measured). */
static size_t len_of(const char* s, size_t given, size_t cap) {
  size_t n = given > 0 ? given : s != NULL ? strlen(s) : 0;
  return n < cap ? n : cap;
}

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static uint32_t name_hash(const char* s, size_t n) {
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < n; i++)
    h = (h ^ (uint32_t)lower((uint8_t)s[i])) * 16777619u;
  return h;
}

/* Whether g is the room s[0..n), ignoring ASCII case as room names do. */
static int same_name(const bgroup_t* g, const char* s, size_t n) {
  size_t i;
  if (g->len != n) return 0;
  if (memcmp(g->room, s, n) == 0) return 1; /* the usual: spelt the same */
  for (i = 0; i < n; i++)
    if (g->room[i] != s[i] && lower((uint8_t)g->room[i]) != lower((uint8_t)s[i])) return 0;
  return 1;
}

/* Rebuilds the table over the rooms (after g grew to capg). */
static int rehash(uvc_hist_batch_t* b) {
  size_t slots = 2 * b->capg, i;
  uint32_t* t = malloc(slots * sizeof(*t));
  if (t == NULL) return UVC_STORE_NOMEM;
  for (i = 0; i < slots; i++)
    t[i] = NO_GROUP;
  for (i = 0; i < b->ng; i++) {
    size_t k = b->g[i].hash & (slots - 1);
    while (t[k] != NO_GROUP)
      k = (k + 1) & (slots - 1);
    t[k] = (uint32_t)i;
  }
  free(b->table);
  b->table = t;
  return 0;
}

/* The room named s[0..n) in b, added when new; NULL when out of memory. */
static bgroup_t* group_of(uvc_hist_batch_t* b, const char* s, size_t n) {
  uint32_t h;
  size_t k, slots;
  bgroup_t* g;
  if (b->ng > 0 && same_name(&b->g[b->last], s, n)) return &b->g[b->last]; /* as the last */
  h = name_hash(s, n);
  slots = 2 * b->capg;
  if (slots > 0) {
    for (k = h & (slots - 1); b->table[k] != NO_GROUP; k = (k + 1) & (slots - 1))
      if (b->g[b->table[k]].hash == h && same_name(&b->g[b->table[k]], s, n)) {
        b->last = b->table[k];
        return &b->g[b->last];
      }
  }
  if (b->ng == b->capg) {
    size_t cap = b->capg == 0 ? 4 : b->capg * 2;
    bgroup_t* v = realloc(b->g, cap * sizeof(*v));
    if (v == NULL) return NULL;
    b->g = v;
    b->capg = cap;
    if (rehash(b) != 0) return NULL;
    slots = 2 * b->capg;
  }
  g = &b->g[b->ng];
  memset(g, 0, offsetof(bgroup_t, room));
  memcpy(g->room, s, n);
  g->room[n] = '\0';
  g->len = (uint8_t)n;
  g->hash = h;
  g->ordered = 1;
  for (k = h & (slots - 1); b->table[k] != NO_GROUP; k = (k + 1) & (slots - 1)) {
  }
  b->table[k] = (uint32_t)b->ng;
  b->last = b->ng++;
  return g;
}

/* A room's event into its current chunk (a new one when that is full). */
static int add_room(uvc_hist_batch_t* b, const uvc_hist_rec_t* rec, size_t tlen) {
  bgroup_t* g = group_of(b, rec->target, tlen);
  uvc_hchunk_t* c;
  size_t before;
  if (g == NULL) return UVC_STORE_NOMEM;
  c = g->nc > 0 ? &g->c[g->nc - 1] : NULL;
  if (c == NULL || c->n >= UVC_HCHUNK_MAX_EVENTS || c->len >= UVC_HCHUNK_MAX_BYTES) {
    if (g->nc == g->capc) {
      size_t cap = g->capc == 0 ? 1 : g->capc * 2;
      uvc_hchunk_t* v = realloc(g->c, cap * sizeof(*v));
      if (v == NULL) return UVC_STORE_NOMEM;
      g->c = v;
      g->capc = cap;
    }
    c = &g->c[g->nc++];
    memset(c, 0, sizeof(*c));
    if (b->n_spare > 0) { /* an earlier batch's buffer */
      *c = b->spare[--b->n_spare];
    } else if (g->nc > 1 && (c->p = malloc(FULL_CHUNK)) != NULL) { /* a busy room: full size */
      c->cap = FULL_CHUNK;
    } else if (b->hint > 0 && (c->p = malloc(b->hint)) != NULL) {
      c->cap = b->hint;
    }
    b->hint = 0; /* for the first chunk alone */
  }
  before = c->len;
  if (uvc_hchunk_add(c, rec) != 0) {
    if (c->n == 0) g->nc--; /* a chunk that got nothing goes again */
    return UVC_STORE_NOMEM;
  }
  if (rec->seq <= g->last_seq) g->ordered = 0;
  g->last_seq = rec->seq;
  b->room_bytes += c->len - before;
  b->idx[b->n].group = (uint32_t)(g - b->g);
  b->idx[b->n].chunk = (uint32_t)(g->nc - 1);
  b->idx[b->n].off = (uint32_t)before;
  return 0;
}

/* A private record into the arena. */
static int add_private(uvc_hist_batch_t* b, const uvc_hist_rec_t* rec, size_t tlen) {
  const char* in[N_FIELDS];
  size_t len[N_FIELDS], need, k;
  brec_t* e;
  char* p;
  in[F_OWNER] = rec->owner;
  in[F_TARGET] = rec->target;
  in[F_NICK] = rec->nick;
  in[F_USER] = rec->user;
  in[F_HOST] = rec->host;
  in[F_ACCOUNT] = rec->account;
  in[F_TEXT] = rec->text;
  len[F_OWNER] = len_of(rec->owner, 0, UVC_HIST_FIELD_MAX);
  len[F_TARGET] = tlen;
  len[F_NICK] = len_of(rec->nick, rec->nick_len, UVC_HIST_FIELD_MAX);
  len[F_USER] = len_of(rec->user, rec->user_len, UVC_HIST_FIELD_MAX);
  len[F_HOST] = len_of(rec->host, rec->host_len, UVC_HIST_FIELD_MAX);
  len[F_ACCOUNT] = len_of(rec->account, 0, UVC_HIST_FIELD_MAX);
  len[F_TEXT] = len_of(rec->text, rec->text_len, UVC_HIST_TEXT_MAX);
  need = len[0] + len[1] + len[2] + len[3] + len[4] + len[5] + len[6] + N_FIELDS;
  if (b->nv == b->capv) {
    size_t cap = b->capv == 0 ? 16 : b->capv * 2;
    brec_t* v = realloc(b->v, cap * sizeof(*v));
    if (v == NULL) return UVC_STORE_NOMEM;
    b->v = v;
    b->capv = cap;
  }
  if (b->used + need > b->acap) {
    size_t cap = b->acap == 0 ? 4096 : b->acap;
    char* a;
    while (cap < b->used + need)
      cap *= 2;
    if (cap > UINT32_MAX || (a = realloc(b->arena, cap)) == NULL) return UVC_STORE_NOMEM;
    b->arena = a;
    b->acap = cap;
  }
  e = &b->v[b->nv];
  e->seq = rec->seq;
  e->time_ms = rec->time_ms;
  e->kind = rec->kind;
  e->flags = rec->flags;
  e->pending = rec->pending;
  p = b->arena + b->used;
  for (k = 0; k < N_FIELDS; k++) {
    e->off[k] = (uint32_t)(p - b->arena);
    if (len[k] > 0) memcpy(p, in[k], len[k]);
    p[len[k]] = '\0';
    p += len[k] + 1;
  }
  b->used = (size_t)(p - b->arena);
  b->idx[b->n].group = NO_GROUP;
  b->idx[b->n].chunk = 0;
  b->idx[b->n].off = (uint32_t)b->nv++;
  return 0;
}

int uvc_hist_batch_add(uvc_hist_batch_t* b, const uvc_hist_rec_t* rec) {
  size_t tlen;
  int rc;
  if (rec->seq <= 0 || rec->owner == NULL || rec->target == NULL || rec->target[0] == '\0' ||
      rec->nick == NULL || rec->nick[0] == '\0')
    return UVC_STORE_INVALID;
  if (b->n == b->cap) {
    size_t cap = b->cap == 0 ? 64 : b->cap * 2;
    bidx_t* v = realloc(b->idx, cap * sizeof(*v));
    if (v == NULL) return UVC_STORE_NOMEM;
    b->idx = v;
    b->cap = cap;
  }
  tlen = len_of(rec->target, rec->target_len, UVC_HIST_FIELD_MAX);
  rc = rec->owner[0] == '\0' ? add_room(b, rec, tlen) : add_private(b, rec, tlen);
  if (rc == 0) b->n++;
  return rc;
}

void uvc_hist_batch_private(const uvc_hist_batch_t* b, size_t i, uvc_hist_rec_t* out) {
  const brec_t* e = &b->v[i];
  memset(out, 0, sizeof(*out));
  out->seq = e->seq;
  out->time_ms = e->time_ms;
  out->kind = e->kind;
  out->flags = e->flags;
  out->pending = e->pending;
  out->owner = b->arena + e->off[F_OWNER];
  out->target = b->arena + e->off[F_TARGET];
  out->nick = b->arena + e->off[F_NICK];
  out->user = b->arena + e->off[F_USER];
  out->host = b->arena + e->off[F_HOST];
  out->account = b->arena + e->off[F_ACCOUNT];
  out->text = b->arena + e->off[F_TEXT];
  out->text_len = 0; /* NUL-terminated */
}

void uvc_hist_batch_get(const uvc_hist_batch_t* b, size_t i, uvc_hist_rec_t* out) {
  const bidx_t* x = &b->idx[i];
  const bgroup_t* g;
  uvc_hchunk_iter_t it;
  if (x->group == NO_GROUP) {
    uvc_hist_batch_private(b, x->off, out);
    return;
  }
  g = &b->g[x->group];
  memset(out, 0, sizeof(*out));
  uvc_hchunk_iter(&it, g->c[x->chunk].p, g->c[x->chunk].len);
  it.off = x->off;
  (void)uvc_hchunk_next(&it, out); /* made here: it is a record */
  out->owner = "";
  out->target = g->room;
}

size_t uvc_hist_batch_rooms(const uvc_hist_batch_t* b) {
  return b->ng;
}

const char* uvc_hist_batch_room(const uvc_hist_batch_t* b, size_t g, const uvc_hchunk_t** chunks,
                                size_t* n_chunks, int* ordered) {
  *chunks = b->g[g].c;
  *n_chunks = b->g[g].nc;
  *ordered = b->g[g].ordered;
  return b->g[g].room;
}

size_t uvc_hist_batch_privates(const uvc_hist_batch_t* b) {
  return b->nv;
}
