/* uvredis.c: hiredis' asynchronous contexts on a libuv loop (see uvredis.h). */
#include "uvchat/uvredis.h"

#include <stdlib.h>
#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/ioctl.h>
#endif

/* ------------------------------------------------------------------------------------------
 * hiredis on the loop
 *
 * hiredis' own libuv adapter (adapters/libuv.h, 0.14) ignores a poll error: libuv reports
 * POLLERR as UV_EBADF and stops the handle, and the context would never learn that its
 * connection broke (no disconnect callback: a dead connection that looks alive). This one
 * hands an error to hiredis as a read, which fails and disconnects it properly (what hiredis
 * 1.0's adapter does).
 *
 * Writes are coalesced. hiredis asks for writability after every command it queues; polling
 * for it would change the poll's mask twice per loop iteration (an epoll_ctl each, and an
 * extra turn of the loop to learn what is always true of a connected socket with room). So
 * a connected context's commands are written once per loop iteration instead, from a check
 * handle (right after the I/O callbacks that queued them) or, for commands queued after the
 * checks ran (by a timer or a prepare callback), from an idle handle, which also keeps the
 * loop from blocking with them unwritten. Only a write the socket could not take whole, and
 * the connect itself, wait for writability on the poll. The three handles are freed in the
 * last close callback.
 * ---------------------------------------------------------------------------------------- */

typedef struct redis_poll {
  uv_poll_t handle;
  uv_check_t check;       /* a deferred write, right after this iteration's I/O callbacks */
  uv_idle_t idle;         /* ... or at the next iteration, without blocking before it */
  redisAsyncContext* ac;  /* NULL once hiredis let go of it */
  int events;             /* the poll's mask */
  int closing;            /* handles whose close callback has not run yet */
  unsigned char deferred; /* a write waits for check or idle */
  unsigned char in_write; /* inside a deferred write */
} redis_poll_t;

/* Bytes waiting to be read on fd (0 when unknown). */
static unsigned long readable_bytes(redisAsyncContext* ac) {
#ifdef _WIN32
  u_long n = 0;
  if (ioctlsocket((SOCKET)ac->c.fd, FIONREAD, &n) != 0) return 0;
  return n;
#else
  int n = 0;
  if (ioctl(ac->c.fd, FIONREAD, &n) != 0 || n < 0) return 0;
  return (unsigned long)n;
#endif
}

/* hiredis reads at most 16 KiB per call: a subscriber that gets much (the cluster under load)
 * would read its stream one small piece per loop iteration, and fall behind in Redis (which
 * drops a subscriber past its client-output-buffer-limit). So a readable connection is read
 * while it has bytes waiting, up to READ_ROUNDS calls (1 MiB) per event. */
#define READ_ROUNDS 64

static void redis_poll_cb(uv_poll_t* h, int status, int events) {
  redis_poll_t* p = h->data;
  int ev = status < 0 ? p->events : events;
  if (p->ac != NULL && (ev & UV_READABLE)) {
    int round = 0;
    do
      redisAsyncHandleRead(p->ac);
    while (status >= 0 && p->ac != NULL && ++round < READ_ROUNDS && readable_bytes(p->ac) > 0);
  }
  if (p->ac != NULL && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

static void redis_poll_set(redis_poll_t* p, int events) {
  if (events == p->events) return; /* libuv would take the fd out of epoll and put it back */
  p->events = events;
  if (events != 0)
    uv_poll_start(&p->handle, events, redis_poll_cb);
  else
    uv_poll_stop(&p->handle);
}

static void redis_undefer(redis_poll_t* p) {
  if (!p->deferred) return;
  p->deferred = 0;
  uv_check_stop(&p->check);
  uv_idle_stop(&p->idle);
}

static void redis_deferred_write(redis_poll_t* p) {
  redis_undefer(p);
  if (p->ac == NULL) return;
  p->in_write = 1;
  redisAsyncHandleWrite(p->ac); /* may free the context: p stays until its close callbacks */
  p->in_write = 0;
}

static void redis_check_cb(uv_check_t* h) {
  redis_deferred_write(h->data);
}
static void redis_idle_cb(uv_idle_t* h) {
  redis_deferred_write(h->data);
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
  if (p->ac != NULL && (p->ac->c.flags & REDIS_CONNECTED) && !p->in_write &&
      !(p->events & UV_WRITABLE)) {
    if (!p->deferred) {
      p->deferred = 1;
      uv_check_start(&p->check, redis_check_cb);
      uv_idle_start(&p->idle, redis_idle_cb);
    }
    return;
  }
  /* Connecting, or the socket did not take everything: wait until it can. */
  redis_undefer(p);
  redis_poll_set(p, p->events | UV_WRITABLE);
}
static void redis_del_write(void* d) {
  redis_poll_t* p = d;
  redis_undefer(p);
  redis_poll_set(p, p->events & ~UV_WRITABLE);
}

static void redis_handle_closed(uv_handle_t* h) {
  redis_poll_t* p = h->data;
  if (--p->closing == 0) free(p);
}

/* hiredis is done with the connection (it closes the socket right after). */
static void redis_cleanup(void* d) {
  redis_poll_t* p = d;
  p->ac = NULL;
  p->deferred = 0;
  p->closing = 3;
  uv_close((uv_handle_t*)&p->handle, redis_handle_closed);
  uv_close((uv_handle_t*)&p->check, redis_handle_closed);
  uv_close((uv_handle_t*)&p->idle, redis_handle_closed);
}

int uvc_redis_attach(redisAsyncContext* ac, uv_loop_t* loop) {
  redis_poll_t* p;
  if (ac->ev.data != NULL || (p = calloc(1, sizeof(*p))) == NULL) return REDIS_ERR;
  if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
    free(p);
    return REDIS_ERR;
  }
  uv_check_init(loop, &p->check);
  uv_idle_init(loop, &p->idle);
  p->handle.data = p->check.data = p->idle.data = p;
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
  uv_unref((uv_handle_t*)&p->check);
  uv_unref((uv_handle_t*)&p->idle);
}
