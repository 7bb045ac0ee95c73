/* store_impl.h: what a backend of the store implements, for the backends (store.c, SQLite;
 * store_redis.c, Redis) and the public wrappers (store_api.c) alone.
 *
 * Every backend's store object starts with a uvc_store_head_t: the wrappers in store_api.c
 * read its ops and call through them, so that every function of store.h but the backends'
 * open functions is backend-independent. An operation has the contract store.h describes for
 * its public function (arguments copied, exactly one callback on the loop thread, or a
 * negative code at once and no callback). The wrappers check store for NULL; the rest is
 * the backend's.
 */
#ifndef UVCHAT_STORE_IMPL_H
#define UVCHAT_STORE_IMPL_H

#include "uvchat/store.h"

typedef struct uvc_store_ops {
  const char* name; /* "sqlite", "redis" */
  void (*close)(uvc_store_t* s);
  unsigned (*pending)(const uvc_store_t* s);
  int (*schema_version)(const uvc_store_t* s);
  const char* (*path)(const uvc_store_t* s);
  int (*create)(uvc_store_t* s, uv_loop_t* loop, const char* name, const char* hash,
                uvc_store_cb cb, void* data);
  int (*get)(uvc_store_t* s, uv_loop_t* loop, const char* name, uvc_store_get_cb cb, void* data);
  int (*set_hash)(uvc_store_t* s, uv_loop_t* loop, const char* name, const char* hash,
                  uvc_store_cb cb, void* data);
  int (*del)(uvc_store_t* s, uv_loop_t* loop, const char* name, uvc_store_cb cb, void* data);
  int (*watch)(uvc_store_t* s, uv_loop_t* loop, uvc_store_watch_cb cb, void* data);
  void (*watch_again)(uvc_store_t* s);
  int (*each_name)(uvc_store_t* s, uvc_store_name_fn fn, void* ud, char* err, size_t errlen);
  /* b is taken (the backend frees it, also on failure); b holds at least one record */
  int (*hist_write)(uvc_store_t* s, uv_loop_t* loop, uvc_hist_batch_t* b,
                    const uvc_hist_bounds_t* bounds, uvc_store_cb cb, void* data);
  int (*hist_fetch)(uvc_store_t* s, uv_loop_t* loop, const uvc_hist_query_t* q,
                    uvc_store_hist_cb cb, void* data);
  int (*hist_targets)(uvc_store_t* s, uv_loop_t* loop, const char* owner, const char* const* rooms,
                      size_t n_rooms, int64_t from_ms, int64_t to_ms, unsigned limit,
                      uvc_store_targets_cb cb, void* data);
  int (*hist_delete_owner)(uvc_store_t* s, uv_loop_t* loop, const char* owner, uvc_store_cb cb,
                           void* data);
  int (*hist_delete_room)(uvc_store_t* s, uv_loop_t* loop, const char* room, uvc_store_cb cb,
                          void* data);
  int (*hist_prune)(uvc_store_t* s, uv_loop_t* loop, const uvc_hist_bounds_t* bounds,
                    uvc_store_cb cb, void* data);
} uvc_store_ops_t;

/* The first member of every backend's store object. */
typedef struct uvc_store_head {
  const uvc_store_ops_t* ops;
} uvc_store_head_t;

/* Record i of b (i < uvc_hist_batch_count(b)) as a view into b: its strings are b's,
 * NUL-terminated, valid while b is. */
void uvc_hist_batch_get(const uvc_hist_batch_t* b, size_t i, uvc_hist_rec_t* out);

#endif
