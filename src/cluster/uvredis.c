/* uvredis.c: hiredis' asynchronous contexts on a libuv loop (see uvredis.h). */
#include "uvchat/uvredis.h"

#include <stdlib.h>

/* ------------------------------------------------------------------------------------------
 * hiredis on the loop
 *
 * hiredis' own libuv adapter (adapters/libuv.h, 0.14) ignores a poll error: libuv reports
 * POLLERR as UV_EBADF and stops the handle, and the context would never learn that its
 * connection broke (no disconnect callback: a dead connection that looks alive). This one
 * hands an error to hiredis as a read, which fails and disconnects it properly (what hiredis
 * 1.0's adapter does). The uv_poll_t is freed only in its close callback.
 * ---------------------------------------------------------------------------------------- */

typedef struct redis_poll {
  uv_poll_t handle;
  redisAsyncContext* ac; /* NULL once hiredis let go of it */
  int events;
} redis_poll_t;

static void redis_poll_cb(uv_poll_t* h, int status, int events) {
  redis_poll_t* p = h->data;
  int ev = status < 0 ? p->events : events;
  if (p->ac != NULL && (ev & UV_READABLE)) redisAsyncHandleRead(p->ac);
  if (p->ac != NULL && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

static void redis_poll_set(redis_poll_t* p, int events) {
  p->events = events;
  if (events != 0)
    uv_poll_start(&p->handle, events, redis_poll_cb);
  else
    uv_poll_stop(&p->handle);
}

static void redis_add_read(void* d) {
  redis_poll_t* p = d;
  redis_poll_set(p, p->events | UV_READABLE);
}
static void redis_del_read(void* d) {
  redis_poll_t* p = d;
  redis_poll_set(p, p->events & ~UV_READABLE);
}
static void redis_add_write(void* d) {
  redis_poll_t* p = d;
  redis_poll_set(p, p->events | UV_WRITABLE);
}
static void redis_del_write(void* d) {
  redis_poll_t* p = d;
  redis_poll_set(p, p->events & ~UV_WRITABLE);
}

static void redis_poll_closed(uv_handle_t* h) {
  free(h->data);
}

/* hiredis is done with the connection (it closes the socket right after). */
static void redis_cleanup(void* d) {
  redis_poll_t* p = d;
  p->ac = NULL;
  uv_close((uv_handle_t*)&p->handle, redis_poll_closed);
}

int uvc_redis_attach(redisAsyncContext* ac, uv_loop_t* loop) {
  redis_poll_t* p;
  if (ac->ev.data != NULL || (p = calloc(1, sizeof(*p))) == NULL) return REDIS_ERR;
  if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
    free(p);
    return REDIS_ERR;
  }
  p->handle.data = p;
  p->ac = ac;
  ac->ev.addRead = redis_add_read;
  ac->ev.delRead = redis_del_read;
  ac->ev.addWrite = redis_add_write;
  ac->ev.delWrite = redis_del_write;
  ac->ev.cleanup = redis_cleanup;
  ac->ev.data = p;
  return REDIS_OK;
}

void uvc_redis_unref(redisAsyncContext* ac) {
  redis_poll_t* p = ac->ev.data;
  uv_unref((uv_handle_t*)&p->handle);
}
