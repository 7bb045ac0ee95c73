/* redis_util.h: what the tests that run against a real redis-server (redis_server.h) share:
 * emptying it between cases, and a main that skips when there is no redis-server. Needs
 * hiredis (link PkgConfig::HIREDIS). */
#ifndef UVCHAT_TEST_REDIS_UTIL_H
#define UVCHAT_TEST_REDIS_UTIL_H

#include <hiredis/hiredis.h>
#include <stdio.h>
#include "redis_server.h"
#include "unit.h"

/* Empties every database of the server r runs (between cases). */
static inline void tr_redis_flushall(const tr_redis_t* r) {
  redisContext* c = redisConnect("127.0.0.1", r->port);
  redisReply* rep = c != NULL && c->err == 0 ? redisCommand(c, "FLUSHALL") : NULL;
  assert_non_null(rep);
  assert_int_equal(rep->type, REDIS_REPLY_STATUS);
  freeReplyObject(rep);
  redisFree(c);
}

/* The body of a main: starts the server r (or says SKIPPED: and returns 0 when there is no
 * redis-server), runs the cmocka group tests (an array), stops the server. */
#define TR_REDIS_RUN_GROUP(r, tests)                 \
  do {                                               \
    int rc_;                                         \
    if (tr_redis_start(r) != 0) {                    \
      printf("SKIPPED: no redis-server\n");          \
      return 0;                                      \
    }                                                \
    rc_ = cmocka_run_group_tests(tests, NULL, NULL); \
    tr_redis_stop(r);                                \
    return rc_;                                      \
  } while (0)

#endif
