/* store_api.c: the public functions of store.h that every backend shares: each calls the
 * operation of the store's own backend (store_impl.h) through the table at its head. */
#include <stddef.h>

#include "store_impl.h"

/* The operations of s's backend. */
static const uvc_store_ops_t* ops_of(const uvc_store_t* s) {
  return ((const uvc_store_head_t*)(const void*)s)->ops;
}

void uvc_store_close(uvc_store_t* store) {
  if (store != NULL) ops_of(store)->close(store);
}

unsigned uvc_store_pending(const uvc_store_t* store) {
  return ops_of(store)->pending(store);
}

int uvc_store_schema_version(const uvc_store_t* store) {
  return ops_of(store)->schema_version(store);
}

const char* uvc_store_path(const uvc_store_t* store) {
  return ops_of(store)->path(store);
}

int uvc_store_create(uvc_store_t* store, uv_loop_t* loop, const char* name, const char* hash,
                     uvc_store_cb cb, void* data) {
  if (store == NULL) return UVC_STORE_INVALID;
  return ops_of(store)->create(store, loop, name, hash, cb, data);
}

int uvc_store_get(uvc_store_t* store, uv_loop_t* loop, const char* name, uvc_store_get_cb cb,
                  void* data) {
  if (store == NULL) return UVC_STORE_INVALID;
  return ops_of(store)->get(store, loop, name, cb, data);
}

int uvc_store_set_hash(uvc_store_t* store, uv_loop_t* loop, const char* name, const char* hash,
                       uvc_store_cb cb, void* data) {
  if (store == NULL) return UVC_STORE_INVALID;
  return ops_of(store)->set_hash(store, loop, name, hash, cb, data);
}

int uvc_store_delete(uvc_store_t* store, uv_loop_t* loop, const char* name, uvc_store_cb cb,
                     void* data) {
  if (store == NULL) return UVC_STORE_INVALID;
  return ops_of(store)->del(store, loop, name, cb, data);
}

int uvc_store_watch(uvc_store_t* store, uv_loop_t* loop, uvc_store_watch_cb cb, void* data) {
  if (store == NULL) return UVC_STORE_INVALID;
  return ops_of(store)->watch(store, loop, cb, data);
}

void uvc_store_watch_again(uvc_store_t* store) {
  ops_of(store)->watch_again(store);
}

int uvc_store_each_name(uvc_store_t* store, uvc_store_name_fn fn, void* ud, char* err,
                        size_t errlen) {
  return ops_of(store)->each_name(store, fn, ud, err, errlen);
}

int uvc_store_hist_write(uvc_store_t* store, uv_loop_t* loop, uvc_hist_batch_t* b,
                         const uvc_hist_bounds_t* bounds, uvc_store_cb cb, void* data) {
  if (b == NULL) return UVC_STORE_INVALID;
  if (store == NULL || uvc_hist_batch_count(b) == 0) {
    uvc_hist_batch_free(b);
    return UVC_STORE_INVALID;
  }
  return ops_of(store)->hist_write(store, loop, b, bounds, cb, data);
}

int uvc_store_hist_fetch(uvc_store_t* store, uv_loop_t* loop, const uvc_hist_query_t* q,
                         uvc_store_hist_cb cb, void* data) {
  if (store == NULL) return UVC_STORE_INVALID;
  return ops_of(store)->hist_fetch(store, loop, q, cb, data);
}

int uvc_store_hist_targets(uvc_store_t* store, uv_loop_t* loop, const char* owner,
                           const char* const* rooms, size_t n_rooms, int64_t from_ms, int64_t to_ms,
                           unsigned limit, uvc_store_targets_cb cb, void* data) {
  if (store == NULL) return UVC_STORE_INVALID;
  return ops_of(store)->hist_targets(store, loop, owner, rooms, n_rooms, from_ms, to_ms, limit, cb,
                                     data);
}

int uvc_store_hist_delete_owner(uvc_store_t* store, uv_loop_t* loop, const char* owner,
                                uvc_store_cb cb, void* data) {
  if (store == NULL) return UVC_STORE_INVALID;
  return ops_of(store)->hist_delete_owner(store, loop, owner, cb, data);
}

int uvc_store_hist_delete_room(uvc_store_t* store, uv_loop_t* loop, const char* room,
                               uvc_store_cb cb, void* data) {
  if (store == NULL) return UVC_STORE_INVALID;
  return ops_of(store)->hist_delete_room(store, loop, room, cb, data);
}

int uvc_store_hist_prune(uvc_store_t* store, uv_loop_t* loop, const uvc_hist_bounds_t* bounds,
                         uvc_store_cb cb, void* data) {
  if (store == NULL) return UVC_STORE_INVALID;
  return ops_of(store)->hist_prune(store, loop, bounds, cb, data);
}
