/* store_redis.h: the Redis backend of the store (store.h), for a cluster of uvchat servers
 * that share their accounts and history. Built when hiredis is found (UVCHAT_WITH_REDIS).
 *
 * Every function of store.h works on a store opened here, with the same contract: each
 * request copies its arguments and calls back exactly once, on the loop thread (hiredis's
 * asynchronous context on the loop, through its libuv adapter: the loop never blocks on
 * Redis). What differs:
 *
 * - Connection: one connection per store. When it drops, requests in flight fail with
 *   UVC_STORE_DB, new ones fail at once with UVC_STORE_DB while it is down, and the store
 *   reconnects with a backoff (UVC_REDIS_BACKOFF_MIN_MS doubling up to _MAX_MS). A request
 *   with no reply for UVC_REDIS_TIMEOUT_MS drops the connection (its requests fail), so that
 *   nothing hangs on a stalled server. Every connection is set up on the loop before its
 *   requests run: AUTH, SELECT, the version and schema checks, the scripts; a refusal there
 *   (a wrong password, say) is logged as an error and the store stays down and keeps trying.
 *   Only a request in flight keeps the loop alive: down, coming up, or connected and idle,
 *   the store lets the loop end (a server stopping while Redis is away stops at once), and
 *   its reconnecting runs while something else keeps the loop going.
 * - Opened while Redis does not answer: the open succeeds (a warning is logged) and the store
 *   is down until a connection is set up; until then every request fails at once with
 *   UVC_STORE_DB and uvc_store_each_name() reports no names (the first watch that reaches
 *   Redis reports them all).
 * - Close: requests in flight still complete; the store is freed once the connection's
 *   poll handle and the store's timers have been closed, so run the loop after
 *   uvc_store_close() (uv_run returns when that is done), then uv_loop_close() returns 0.
 * - A history write of more than UVC_REDIS_WRITE_CHUNK events goes as several scripts, each
 *   atomic, not as one transaction: a failure can leave part of it written (a write again
 *   keeps every event once). uvc_store_pending() counts each script.
 * - A request that failed because the connection dropped (or timed out) may nonetheless
 *   have been applied by Redis. An event is kept once while it is within its history's
 *   bounds; one written again after it was trimmed away comes back, as the newest.
 * - Durability is Redis's own (its AOF/RDB settings): a callback with 0 means Redis has the
 *   change in memory, not that it reached a disk. A Redis that comes back empty has lost
 *   every account: the next watch reports the names there are (none), as for a database
 *   emptied by hand.
 * - uvc_store_path() is "redis://HOST:PORT/DB" (no password); uvc_store_schema_version() is
 *   the version of the Redis key layout (UVC_REDIS_SCHEMA), kept in uvchat:schema.
 * - Histories are Redis streams (docs in store_redis.c): a time point is matched against the
 *   stream entry's time, which is the event's time_ms except for an event that reached Redis
 *   after a newer one of the same history (from another server): its entry time is raised to
 *   that newer one's, keeping the stream ordered. Events are returned in the order they reached
 *   Redis, which is seq order for the events of one server.
 * - Needs Redis 7.0 or later (opening refuses an older one). Standalone Redis (or a Sentinel
 *   primary): the scripts touch keys they compute, which Redis Cluster does not allow.
 */
#ifndef UVCHAT_STORE_REDIS_H
#define UVCHAT_STORE_REDIS_H

#include <stddef.h>
#include <uv.h>

#include "uvchat/store.h"

#define UVC_REDIS_SCHEMA         1 /* the key layout this code writes */
#define UVC_REDIS_PREFIX         "uvchat:"
#define UVC_REDIS_CONNECT_MS     2000 /* connecting, at open and on every reconnect */
#define UVC_REDIS_TIMEOUT_MS     5000 /* a request without a reply this long drops the link */
#define UVC_REDIS_BACKOFF_MIN_MS 100
#define UVC_REDIS_BACKOFF_MAX_MS 5000
#define UVC_REDIS_WRITE_CHUNK    256 /* events per write script (a batch may make several) */

/* Connects to the Redis server at host:port (a name or an address), authenticates with
 * password (NULL or "": none), selects database db, checks the server's version and the
 * schema key (UVC_STORE_NEWER when a newer uvchat wrote it), loads the scripts, then
 * attaches the store's asynchronous connection to loop. Blocks (up to about
 * UVC_REDIS_CONNECT_MS per step): call it at startup, before the loop runs. Returns 0 and
 * *out, or a negative code with a one-line reason in err: UVC_STORE_INVALID for a bad
 * address, UVC_STORE_DB when Redis answers and refuses (AUTH, SELECT, a version before 7.0),
 * UVC_STORE_NEWER. A Redis that does not answer (no connection, no reply in time) is not an
 * error: the store opens down, and comes up on the loop once Redis answers (a name is then
 * looked up with uv_getaddrinfo, off the loop thread; an IPv4 address first). */
int uvc_store_open_redis(uvc_store_t** out, uv_loop_t* loop, const char* host, int port,
                         const char* password, int db, char* err, size_t errlen);

/* Parses "redis://[PASSWORD@]HOST:PORT[/DB]" (HOST may be [v6]) and opens it as above.
 * UVC_STORE_INVALID with the reason in err for a URL of another form. */
int uvc_store_open_redis_url(uvc_store_t** out, uv_loop_t* loop, const char* url, char* err,
                             size_t errlen);

/* 1 when s is a Redis store whose connection is up and set up now, else 0. */
int uvc_store_redis_connected(const uvc_store_t* s);

#endif
