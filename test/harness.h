/* harness.h: drives the real uvchat binary and real client sockets from cmocka tests.
 *
 * Everything runs on one libuv loop owned by the harness; each wait runs the loop until its
 * condition holds or its deadline passes, so no test sleeps or hangs. The server starts on
 * port 0 and the harness reads the port it prints. Set UVCHAT_TEST_WRAPPER (for example
 * "valgrind --leak-check=full --error-exitcode=99") to run the server under a tool, and
 * UVCHAT_TEST_SLOW to a factor that stretches every deadline.
 */
#ifndef UVCHAT_HARNESS_H
#define UVCHAT_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define TH_WAIT_MS 10000 /* the default deadline of one wait */

typedef struct th_buf {
  char* p;
  size_t len, pos, cap;
} th_buf_t;

typedef struct th_server {
  uv_process_t proc;
  uv_pipe_t out, err;
  th_buf_t out_buf, err_buf;
  int running;
  int64_t status; /* exit status, once !running */
  int term_signal;
  int port;         /* the text listener's port */
  int irc_port;     /* the IRC listener's port, when the test asked for one */
  int tls_port;     /* text over TLS, when the test asked for it */
  int irc_tls_port; /* IRC over TLS, when the test asked for it */
  int want_irc;     /* wait for the IRC listener too */
  int want_tls;     /* wait for the text TLS listener too */
  int want_irc_tls; /* wait for the IRC TLS listener too */
  int handles;      /* open handles to wait for when freeing */
  uv_pipe_t in;     /* Windows: the launcher's stdin, which stops the server (winlaunch.c) */
  int has_in;
  char data_dir[1024]; /* the --data-dir the harness made for it, or "" */
} th_server_t;

struct th_proc;

/* A client: a socket, or a program (openssl s_client, say) whose stdin and stdout stand
 * for the connection. */
typedef struct th_client {
  uv_tcp_t tcp;
  uv_stream_t* rd;      /* what the client receives from */
  uv_stream_t* wr;      /* what it sends to */
  struct th_proc* proc; /* for a program, its process and pipes */
  th_buf_t in;
  int connected; /* 1 connected, <0 error */
  int eof;       /* the server closed its side (or reset: see read_err) */
  int read_err;  /* a libuv error other than EOF */
  int writes;    /* writes in flight */
  int reading;
  int closed;
  char line[70000];
} th_client_t;

uv_loop_t* th_loop(void);
/* Milliseconds, scaled by UVCHAT_TEST_SLOW. */
uint64_t th_ms(uint64_t ms);
/* Runs the loop until cond(arg) holds or ms pass; returns cond(arg). */
int th_run_until(int (*cond)(void*), void* arg, uint64_t ms);

/* Starts the server with extra arguments (NULL-terminated, may be NULL) plus
 * "--port 0 --log-level debug", and "--irc-port off" (likewise "--tls-port off",
 * "--irc-tls-port off") unless the arguments name that port, and a fresh "--data-dir"
 * (removed by th_server_free) unless they name one; waits for the "listening on" line of
 * every listener asked for. Fails the test if they do not come. */
void th_server_start(th_server_t* s, const char* const* args);
/* Spawns the server with exactly these arguments (for usage-error tests). */
void th_server_spawn(th_server_t* s, const char* const* args);
/* Sends a signal. On Windows SIGINT and SIGTERM become a Ctrl+Break to the server's own
 * process group (through test/winlaunch.c), SIGKILL ends it, and others fail the test. */
void th_server_kill(th_server_t* s, int signum);
/* Waits for the server to exit; returns its status, or -1 (after SIGKILL) on timeout. */
int th_server_wait(th_server_t* s, uint64_t ms);
/* Stops the server as an operator would (SIGTERM; on Windows Ctrl+Break) and fails the test
 * unless it exits 0 with a clean log: under sanitizers or valgrind that also means no leak
 * and no memory error. */
void th_server_stop(th_server_t* s);
/* The same without failing the test (for a teardown that must stop everything it started):
 * 1 when it exited 0 with a clean log, else 0 with the end of its log printed. */
int th_server_stop_checked(th_server_t* s);
/* Kills the server if running and frees its handles. */
void th_server_free(th_server_t* s);
/* 1 when the server's stderr (log) contains text. */
int th_server_logged(th_server_t* s, const char* text);
/* Waits until the server's log contains text. */
int th_server_wait_log(th_server_t* s, const char* text, uint64_t ms);
/* Where the server's log ends now, and a wait for text logged after such a mark. */
size_t th_server_log_mark(th_server_t* s);
int th_server_wait_log_since(th_server_t* s, size_t mark, const char* text, uint64_t ms);

/* Connects to 127.0.0.1:port. rcvbuf > 0 shrinks the receive buffer first; read = 0 leaves
 * the socket unread (a client that never reads). */
th_client_t* th_connect(int port, int rcvbuf, int read);
/* Connects from a given source address (a reading client with default buffers). */
th_client_t* th_connect_from(int port, const struct sockaddr* from);
/* Runs argv[0] with argv as a client: lines sent go to its stdin, lines read come from its
 * stdout. th_close kills it if it still runs. */
th_client_t* th_spawn_client(const char* const* argv);
/* Waits for a program client to exit; returns its exit status, or -1 on timeout. */
int th_client_wait_exit(th_client_t* c, uint64_t ms);
/* Runs a program to completion (with a deadline) and returns its exit status, or -1. */
int th_run_program(const char* const* argv, uint64_t ms);
/* Queues bytes for the server. */
void th_send(th_client_t* c, const char* data, size_t len);
void th_sendf(th_client_t* c, const char* s); /* a C string */
/* Runs the loop until every queued write went out. */
void th_drain(th_client_t* c);
/* Starts reading (for a client connected with read = 0). */
void th_start_reading(th_client_t* c);
/* The next line without its CRLF, or NULL on timeout or end of stream. */
const char* th_line(th_client_t* c, uint64_t ms);
/* Asserts that the next line equals expected (the line is printed on mismatch). */
void th_expect(th_client_t* c, const char* expected);
/* Skips lines until one equals expected; asserts that it comes. */
void th_expect_eventually(th_client_t* c, const char* expected);
/* Asserts that the next line starts with prefix. */
void th_expect_prefix(th_client_t* c, const char* prefix);
/* Reads (and discards) lines until one starts with prefix; returns it or NULL. */
const char* th_skip_to(th_client_t* c, const char* prefix, uint64_t ms);
/* Skips lines of c until one holds needle anywhere; returns it, or NULL after TH_WAIT_MS. */
const char* th_skip_containing(th_client_t* c, const char* needle);
/* Waits until the server ended the connection (EOF or error); returns 1 if it did. */
int th_wait_closed(th_client_t* c, uint64_t ms);
/* Asserts that no complete line arrives within ms. */
void th_expect_silence(th_client_t* c, uint64_t ms);
/* Half-closes (sends FIN). */
void th_shutdown(th_client_t* c);
void th_close(th_client_t* c);

/* Reads the welcome lines of a fresh text client; returns its assigned nick (static). Its
 * arrival is not announced yet: it has sent nothing (the others hear of it after
 * UVC_REVEAL_MS, or once it sends a line). */
const char* th_welcome_quiet(th_client_t* c);
/* th_welcome_quiet(), then a first line with a known answer ("! that is already your
 * nick"): when this returns, the others have been told of its arrival. */
const char* th_welcome(th_client_t* c);
/* Connects a text client to port (reading), past th_welcome(). */
th_client_t* th_text_connect(int port);
/* Sends NICK and USER for nick (user name nick, real name "Real nick"). */
void th_irc_register(th_client_t* c, const char* nick);
/* Connects an IRC client to port and registers it as nick; returns after the last line of
 * the greeting (the notice naming the text users' room). It is in no room. */
th_client_t* th_irc_connect(int port, const char* nick);
/* Sends JOIN room for the IRC client nick and waits for the end of its names (366). */
void th_irc_join(th_client_t* c, const char* nick, const char* room);
/* th_irc_connect(), then th_irc_join() of #lobby, where the text users are. */
th_client_t* th_irc_connect_lobby(int port, const char* nick);

#endif
