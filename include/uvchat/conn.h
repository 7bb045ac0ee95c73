/* conn.h: one client connection: its socket, line framing, output queue and closing.
 *
 * Lifecycle: OPEN (reading, in the chat) -> PENDING (closing scheduled: the leave is
 * announced at the end of the phase) -> DRAINING (left the chat; queued output still
 * goes out) -> SHUTDOWN (uv_shutdown sent) -> CLOSING (uv_close called; the client is off
 * the server's list and is freed in its close callback). A hard close skips DRAINING.
 */
#ifndef UVCHAT_CONN_H
#define UVCHAT_CONN_H

#include <uv.h>

#include "uvchat/core.h"
#include "uvchat/framer.h"
#include "uvchat/list.h"
#include "uvchat/outq.h"
#include "uvchat/telnet.h"

#include "uvchat/flow.h"

struct uvc_transport_maker;

typedef enum {
  UVC_CONN_OPEN = 0,
  UVC_CONN_PENDING,
  UVC_CONN_DRAINING,
  UVC_CONN_SHUTDOWN,
  UVC_CONN_CLOSING
} uvc_conn_state_t;

enum {
  UVC_CONN_DIRTY = 1,      /* on the server's flush list */
  UVC_CONN_GRACEFUL = 2,   /* the scheduled close lets output drain first */
  UVC_CONN_IN_PENDING = 4, /* on the server's leave list */
  UVC_CONN_CONGESTED = 8,  /* over srv->soft_sendq waiting (see UVC_CONN_HOLDING) */
  UVC_CONN_PINGED = 16,    /* its adapter was told it is idle (IRC sent a PING) */
  UVC_CONN_COUNTED = 32,   /* counted in the server's per-address table */
  UVC_CONN_HOLDING = 64,   /* congested, and it became congested or took bytes within the
                              last 30 ms: whoever sends to it waits (see server.c) */
  UVC_CONN_XPORT = 128     /* a uvc_xclient_t: its bytes go through transports (transport.h) */
};

/* Why a client's input is paused (a bitmask: reading resumes when none is left). */
enum {
  UVC_PAUSE_BACKPRESSURE = 1, /* what it sent is waiting for a congested reader */
  UVC_PAUSE_FLOOD = 2,        /* it sent lines faster than --flood-rate allows */
  UVC_PAUSE_YIELD = 4         /* it fed a congested reader that holds nobody (takes nothing): it
                                 handles the lines in hand but reads no more until the end of
                                 the phase */
};
/* The reasons the server's held list tracks (uvc_server_hold): released together, once no
 * congested reader is draining. */
#define UVC_PAUSE_HELD (UVC_PAUSE_BACKPRESSURE | UVC_PAUSE_YIELD)
/* The reasons that stop a client's lines from being handled (they wait in its framer). */
#define UVC_PAUSE_STASH (UVC_PAUSE_BACKPRESSURE | UVC_PAUSE_FLOOD)

typedef union uvc_sockaddr {
  struct sockaddr sa;
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
} uvc_sockaddr_t;

/* A peer's address, compact: IPv6, or IPv4 as ::ffff:a.b.c.d, and the port. */
typedef struct uvc_peer {
  uint8_t ip[16];
  uint16_t port;
} uvc_peer_t;

typedef struct uvc_client {
  /* Ordered by size, without padding holes: 10,000 idle clients are mostly this struct. */
  uv_tcp_t tcp;
  uvc_list_t node; /* in the server's client list until closing */
  uvc_session_t sess;
  uvc_outq_t outq;
  uvc_framer_t* framer; /* only while it holds input between reads (see keep_framer) */
  uv_write_t* wreq;     /* the write in flight, or NULL */
  char* leave_text;     /* the quit reason, until the leave is announced */
  uvc_telnet_t* telnet; /* telnet state, once it sent 0xFF (text clients only) */
  union {
    uint64_t deadline; /* draining: loop time by which it is closed regardless */
    struct {
      uint32_t since;    /* open and congested: loop time (ms, wrapping) of its last progress */
      uint32_t progress; /* bytes-sent mark, to tell slow from stuck */
    } stall;
  } t;
  uint32_t inflight;      /* bytes that write carries */
  uint32_t since;         /* loop time (ms, wrapping) of the connect; once registered and
                             pinged, of the ping */
  uint32_t last_line;     /* loop time of the last complete line (with flood control on, of
                             the last activity: its tokens are refilled from then) */
  uint32_t partial_since; /* loop time a still unfinished line was started; 0: none */
  uint32_t tokens;        /* flood control: lines it may send now, in thousandths */
  uvc_peer_t peer;
  int16_t err; /* the libuv error that ended the connection, for the log */
  uint16_t leave_len;
  uint8_t state;
  uint8_t flags;
  uint8_t leave_why; /* uvc_leave_t */
  uint8_t pause;     /* UVC_PAUSE_* reasons its input is not being read */
  uint8_t told_slow; /* it was told it is being slowed (flood control); cleared once its
                        token bucket is full again, so that it is told once per episode */
} uvc_client_t;

/* Accepts a connection from listener into a new client whose bytes go through the n_chain
 * transports chain makes (chain[0] nearest the socket; none: plain TCP), or returns NULL when
 * it cannot (the connection is then closed). The client does not read yet: its owner counts
 * it, links it (c->node) and then calls uvc_conn_start or uvc_conn_refuse. */
uvc_client_t* uvc_conn_accept(uvc_flow_t* flow, uv_stream_t* listener, const uvc_adapter_t* adapter,
                              const struct uvc_transport_maker* chain, int n_chain);
/* Starts reading an accepted client and greets it (behind transports: once they are ready). */
void uvc_conn_start(uvc_client_t* c);
/* Turns an accepted client away with one line saying why (not behind a transport) and closes
 * it now. */
void uvc_conn_refuse(uvc_client_t* c, const char* why);

/* What the flow module may ask of a client (see uvc_flow_ops_t). */
extern const uvc_flow_ops_t uvc_conn_flow_ops;

/* Queues m (taking a reference) for c; drops c when its send queue passes the limit. */
void uvc_conn_send(uvc_client_t* c, uvc_msg_t* m);

/* Schedules the end of c: the leave is announced at the end of the phase; a graceful close
 * then lets queued output drain. Safe to call any number of times, from anywhere. */
void uvc_conn_close(uvc_client_t* c, uvc_leave_t why, const char* text, size_t len, int graceful);

/* Stops reading c's input for reason; lines already read wait in its framer (with
 * UVC_PAUSE_YIELD they are still handled). If the server cannot keep track of the pause (out
 * of memory), c is not paused: check c->pause afterwards. */
void uvc_conn_pause(uvc_client_t* c, unsigned reason);
/* Lifts reason; once no reason is left, handles the waiting lines and reads again. Must not
 * be called from inside a fan-out (it runs the client's commands). */
void uvc_conn_resume(uvc_client_t* c, unsigned reason);

/* Milliseconds (from loop time now) until a flood-controlled client may send a line again
 * (0: now); adds the tokens it earned. */
uint32_t uvc_conn_token_wait(uvc_client_t* c, uint32_t now);

/* Whether a congested client has taken bytes since the last call (updates its mark). Looks
 * inside libuv's write queue, so that a write still in flight counts as soon as part of it
 * went out. */
int uvc_conn_made_progress(uvc_client_t* c);

/* A connection is announced once it shows it is a person or a client: with its first
 * complete line, or after it stayed this long (checked by the once-a-second sweep). A probe
 * that connects and closes, sends no newline, or fails its TLS handshake never shows. */
#define UVC_REVEAL_MS 2000
/* Announces c's arrival (see uvc_core_reveal) and logs its connect line. */
void uvc_conn_reveal(uvc_client_t* c);

/* Carries out a scheduled close (called by the server at the end of a phase). */
void uvc_conn_finish_leave(uvc_client_t* c);

/* Writes what is queued: uv_try_write first, uv_write for what the socket did not take. */
void uvc_conn_flush(uvc_client_t* c);

/* Once a second (the sweep): the transports' limits on time. */
void uvc_conn_tick(uvc_client_t* c, uint32_t now);
/* For transports: decoded bytes from the top layer go to the framer and the adapter. */
void uvc_conn_input(uvc_client_t* c, char* data, size_t n);
/* For transports: queues m (taking a reference) as it is, whatever the session's state, while
 * c may still write (an HTTP response, a WebSocket control frame). */
void uvc_conn_queue(uvc_client_t* c, uvc_msg_t* m);
/* For transports: a write failed (the peer is gone). */
void uvc_conn_write_failed(uvc_client_t* c, int err);
/* For the bottom transport: everything queued is written; a draining client shuts down. */
void uvc_conn_drained(uvc_client_t* c);

/* Closes the handle now; queued output is discarded. */
void uvc_conn_hard_close(uvc_client_t* c);

/* The flow state of a client's loop: the loop's data pointer. */
#define UVC_CONN_FLOW(c) ((uvc_flow_t*)(c)->tcp.loop->data)

/* Formats a socket address as "1.2.3.4:5" or "[::1]:5" (IPv4-mapped IPv6 as IPv4). */
void uvc_format_addr(const struct sockaddr* sa, char* out, size_t outlen);
/* A client's compact address, from a socket address / formatted like uvc_format_addr. */
void uvc_peer_from(uvc_peer_t* p, const struct sockaddr* sa);
void uvc_format_peer(const uvc_peer_t* p, char* out, size_t outlen);

/* Whether c's bytes go over TLS (a transport of its chain is TLS). */
int uvc_conn_secure(const uvc_client_t* c);

/* The client that carries session s. */
static inline uvc_client_t* uvc_conn_of(uvc_session_t* s) {
  return UVC_CONTAINER_OF(s, uvc_client_t, sess);
}

#endif
