/* uvredis.h: a hiredis asynchronous context on a libuv loop, for every Redis connection of
 * uvchat (the cluster's and the Redis store's).
 *
 * hiredis' own libuv adapter (adapters/libuv.h, 0.14) ignores a poll error: libuv reports
 * POLLERR as UV_EBADF and stops the handle, and the context never learns that its
 * connection broke (no disconnect callback: a dead connection that looks alive). This glue
 * hands an error to hiredis as a read, which fails and disconnects it properly (what hiredis
 * 1.0's adapter does). Its uv_poll_t is freed only in its close callback, which hiredis'
 * cleanup starts: run the loop after the context is freed.
 */
#ifndef UVCHAT_UVREDIS_H
#define UVCHAT_UVREDIS_H

#include <hiredis/async.h>
#include <uv.h>

/* Attaches ac to loop. Returns REDIS_OK, or REDIS_ERR (already attached, out of memory). */
int uvc_redis_attach(redisAsyncContext* ac, uv_loop_t* loop);
/* Makes ac's poll handle keep the loop alive no longer (uv_unref), for a connection that
 * must not hold up the loop's end (the Redis store's). ac must be attached. */
void uvc_redis_unref(redisAsyncContext* ac);

#endif
