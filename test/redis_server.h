/* redis_server.h: a real redis-server for a test, on a free loopback port, stopped by PID.
 *
 * It runs with no persistence (--save "" --appendonly no) in a scratch directory, listening
 * on 127.0.0.1 only. Start waits (under a deadline, scaled by UVCHAT_TEST_SLOW) for its
 * "Ready to accept connections" line, so no test sleeps to wait for it. The redis-server
 * binary is $UVCHAT_REDIS_SERVER when set, else the first redis-server on PATH.
 * POSIX only: on Windows tr_redis_start returns -1 (skip).
 */
#ifndef UVCHAT_TEST_REDIS_SERVER_H
#define UVCHAT_TEST_REDIS_SERVER_H

typedef struct tr_redis {
  int pid;  /* 0: not running */
  int port; /* the port it listens on (kept across tr_redis_restart) */
  int out;  /* the read end of its stdout, or -1 */
  char dir[1024];
} tr_redis_t;

/* Starts redis-server on a free 127.0.0.1 port. Returns 0, or -1 when there is no
 * redis-server (skip the test: the message says why on stderr). Fails the test (cmocka)
 * when one is there but does not come up. */
int tr_redis_start(tr_redis_t* r);
/* Picks a free 127.0.0.1 port and a directory for a server that is not running yet (start it
 * there with tr_redis_restart): for what must cope with a Redis that comes later. Returns 0,
 * or -1 when there is no redis-server (skip, as tr_redis_start). */
int tr_redis_reserve(tr_redis_t* r);
/* Stops it with SIGTERM and waits for it to exit (SIGKILL after the deadline). Safe when it
 * is not running. Removes its directory. */
void tr_redis_stop(tr_redis_t* r);
/* Kills it with SIGKILL and waits (a crash). Keeps the directory and the port. */
void tr_redis_kill(tr_redis_t* r);
/* Starts it again, empty, on the same port (after tr_redis_kill, tr_redis_halt or
 * tr_redis_reserve). Fails
 * the test when it does not come up. */
void tr_redis_restart(tr_redis_t* r);
/* Stops it with SIGTERM and waits, keeping the directory and the port for a restart. */
void tr_redis_halt(tr_redis_t* r);

#endif
