/* redis_server.c: see redis_server.h. */
#include "redis_server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tmpdir.h"

#ifdef _WIN32
int tr_redis_start(tr_redis_t* r) {
  memset(r, 0, sizeof(*r));
  fprintf(stderr, "SKIPPED: the Redis fixture is POSIX only\n");
  return -1;
}
void tr_redis_stop(tr_redis_t* r) {
  (void)r;
}
int tr_redis_reserve(tr_redis_t* r) {
  return tr_redis_start(r);
}
void tr_redis_kill(tr_redis_t* r) {
  (void)r;
}
void tr_redis_restart(tr_redis_t* r) {
  (void)r;
}
void tr_redis_halt(tr_redis_t* r) {
  (void)r;
}
#else
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TR_DEADLINE_MS 10000
#define TR_TRIES       5 /* free ports tried when another process takes the one picked */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t deadline_ms(void) {
  const char* slow = getenv("UVCHAT_TEST_SLOW");
  double f = slow != NULL ? atof(slow) : 1.0;
  return (uint64_t)(TR_DEADLINE_MS * (f >= 1.0 ? f : 1.0));
}

/* The redis-server to run: $UVCHAT_REDIS_SERVER, or the first on PATH; NULL when none. */
static const char* find_redis(char* buf, size_t len) {
  const char* env = getenv("UVCHAT_REDIS_SERVER");
  const char* path = getenv("PATH");
  if (env != NULL && env[0] != '\0') return access(env, X_OK) == 0 ? env : NULL;
  if (path == NULL) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path != '\0') {
    const char* end = strchr(path, ':');
    size_t n = end != NULL ? (size_t)(end - path) : strlen(path);
    if (n > 0 && (size_t)snprintf(buf, len, "%.*s/redis-server", (int)n, path) < len &&
        access(buf, X_OK) == 0)
      return buf;
    path += n;
    if (*path == ':') path++;
  }
  return NULL;
}

/* A port nobody listens on right now (the kernel's pick for port 0), or 0. */
static int free_port(void) {
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
  if (fd < 0) return 0;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr*)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr*)&a, &alen) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* Waits for pid to exit within ms; returns 1 when it did. */
static int reap(int pid, uint64_t ms) {
  uint64_t end = now_ms() + ms;
  for (;;) {
    int st;
    pid_t got = waitpid(pid, &st, WNOHANG);
    if (got == pid || (got < 0 && errno == ECHILD)) return 1;
    if (now_ms() >= end) return 0;
    {
      /* wait for the child's SIGCHLD-free exit without spinning: a short poll on nothing */
      struct pollfd none;
      (void)poll(&none, 0, 5);
    }
  }
}

/* Spawns redis-server on r->port and waits for its ready line. Returns 1 ready, 0 it
 * exited (the port was taken, say), -1 timed out (killed). */
static int spawn_ready(tr_redis_t* r, const char* bin) {
  char port[16], line[4096];
  size_t got = 0;
  uint64_t end;
  int fds[2];
  pid_t pid;
  snprintf(port, sizeof(port), "%d", r->port);
  if (pipe(fds) != 0) fail_msg("redis fixture: pipe: %s", strerror(errno));
  (void)fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  pid = fork();
  if (pid < 0) fail_msg("redis fixture: fork: %s", strerror(errno));
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[1]);
    execl(bin, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
          "--dir", r->dir, "--daemonize", "no", "--loglevel", "notice", "--databases", "16",
          (char*)NULL);
    _exit(127);
  }
  close(fds[1]);
  r->pid = (int)pid;
  r->out = fds[0];
  end = now_ms() + deadline_ms();
  for (;;) {
    struct pollfd p = {fds[0], POLLIN, 0};
    uint64_t now = now_ms();
    ssize_t n;
    if (now >= end) {
      kill(pid, SIGKILL);
      reap((int)pid, 2000);
      return -1;
    }
    if (poll(&p, 1, (int)(end - now)) <= 0) continue;
    n = read(fds[0], line + got, sizeof(line) - 1 - got);
    if (n <= 0) { /* it exited */
      reap((int)pid, deadline_ms());
      close(fds[0]);
      r->out = -1;
      r->pid = 0;
      return 0;
    }
    got += (size_t)n;
    line[got] = '\0';
    if (strstr(line, "Ready to accept connections") != NULL) {
      (void)fcntl(fds[0], F_SETFL, O_NONBLOCK); /* its later lines are few; drained at stop */
      return 1;
    }
    if (got > sizeof(line) / 2) { /* keep the tail, where the ready line will be */
      memmove(line, line + got - 256, 256);
      got = 256;
    }
  }
}

static int start_on(tr_redis_t* r, const char* bin, int pick) {
  int tries;
  for (tries = 0; tries < TR_TRIES; tries++) {
    int rc;
    if (pick && (r->port = free_port()) == 0) fail_msg("redis fixture: no free port");
    rc = spawn_ready(r, bin);
    if (rc == 1) return 0;
    if (rc < 0) fail_msg("redis fixture: redis-server did not become ready on port %d", r->port);
    if (!pick) fail_msg("redis fixture: redis-server exited at once on port %d", r->port);
  }
  fail_msg("redis fixture: redis-server would not start (%d ports tried)", TR_TRIES);
  return -1;
}

int tr_redis_start(tr_redis_t* r) {
  char buf[1024];
  const char* bin = find_redis(buf, sizeof(buf));
  memset(r, 0, sizeof(*r));
  r->out = -1;
  if (bin == NULL) {
    fprintf(stderr, "SKIPPED: no redis-server (Debian: apt-get install redis-server)\n");
    return -1;
  }
  tt_mkdtemp("uvchat-redis", r->dir, sizeof(r->dir));
  return start_on(r, bin, 1);
}

int tr_redis_reserve(tr_redis_t* r) {
  char buf[1024];
  memset(r, 0, sizeof(*r));
  r->out = -1;
  if (find_redis(buf, sizeof(buf)) == NULL) {
    fprintf(stderr, "SKIPPED: no redis-server (Debian: apt-get install redis-server)\n");
    return -1;
  }
  if ((r->port = free_port()) == 0) fail_msg("redis fixture: no free port");
  tt_mkdtemp("uvchat-redis", r->dir, sizeof(r->dir));
  return 0;
}

/* Ends the running server with sig and waits; closes its output. */
static void end(tr_redis_t* r, int sig) {
  if (r->pid > 0) {
    kill(r->pid, sig);
    if (!reap(r->pid, deadline_ms())) {
      kill(r->pid, SIGKILL);
      reap(r->pid, deadline_ms());
    }
    r->pid = 0;
  }
  if (r->out >= 0) close(r->out);
  r->out = -1;
}

void tr_redis_halt(tr_redis_t* r) {
  end(r, SIGTERM);
}

void tr_redis_kill(tr_redis_t* r) {
  end(r, SIGKILL);
}

void tr_redis_restart(tr_redis_t* r) {
  char buf[1024];
  const char* bin = find_redis(buf, sizeof(buf));
  if (bin == NULL) fail_msg("redis fixture: redis-server is gone");
  end(r, SIGKILL);
  (void)start_on(r, bin, 0);
}

void tr_redis_stop(tr_redis_t* r) {
  end(r, SIGTERM);
  if (r->dir[0] != '\0') tt_rmdir(r->dir);
  r->dir[0] = '\0';
}
#endif
