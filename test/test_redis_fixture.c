/* test_redis_fixture.c: the Redis fixture the cluster tests stand on: a real redis-server
 * comes up on a free loopback port, answers PING, comes back empty on the same port after a
 * crash, and is gone after stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redis_server.h"

#ifndef _WIN32
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Sends cmd (inline protocol) to 127.0.0.1:port and returns the first reply line in out;
 * 0 when it answered, -1 when nothing listens or it does not answer within 5 s. */
static int ask(int port, const char* cmd, char* out, size_t len) {
  struct sockaddr_in a;
  size_t got = 0;
  int fd = socket(AF_INET, SOCK_STREAM, 0), rc = -1;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr*)&a, sizeof(a)) == 0 &&
      write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd)) {
    while (got + 1 < len) {
      struct pollfd p = {fd, POLLIN, 0};
      ssize_t n;
      if (poll(&p, 1, 5000) <= 0 || (n = read(fd, out + got, len - 1 - got)) <= 0) break;
      got += (size_t)n;
      out[got] = '\0';
      if (strchr(out, '\n') != NULL) {
        rc = 0;
        break;
      }
    }
  }
  close(fd);
  return rc;
}

static void test_start_ping_restart_stop(void** state) {
  tr_redis_t r;
  char reply[256];
  int port;
  (void)state;
  if (tr_redis_start(&r) != 0) skip();
  port = r.port;
  assert_true(port > 0);
  assert_int_equal(ask(port, "PING\r\n", reply, sizeof(reply)), 0);
  assert_string_equal(reply, "+PONG\r\n");
  assert_int_equal(ask(port, "SET k v\r\n", reply, sizeof(reply)), 0);
  assert_string_equal(reply, "+OK\r\n");

  tr_redis_kill(&r); /* a crash: nothing listens */
  assert_int_equal(ask(port, "PING\r\n", reply, sizeof(reply)), -1);
  tr_redis_restart(&r); /* the same port, empty */
  assert_int_equal(r.port, port);
  assert_int_equal(ask(port, "EXISTS k\r\n", reply, sizeof(reply)), 0);
  assert_string_equal(reply, ":0\r\n");

  tr_redis_stop(&r);
  assert_int_equal(r.pid, 0);
  assert_int_equal(ask(port, "PING\r\n", reply, sizeof(reply)), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_start_ping_restart_stop)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
int main(void) {
  return 0;
}
#endif
