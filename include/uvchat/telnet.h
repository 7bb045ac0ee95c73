/* telnet.h: the telnet protocol on a text connection: negotiation is removed from the
 * input, in place, and answered.
 *
 * A telnet client sends option negotiation (IAC WILL/WONT/DO/DONT opt), subnegotiation
 * (IAC SB ... IAC SE) and commands (IAC IP, IAC AYT ...) mixed into the text. The filter
 * removes them (IAC IAC stands for a literal 0xFF byte and is kept as one byte) and writes
 * what the server answers into a caller's buffer:
 *
 *  - DO TIMING-MARK gets WILL TIMING-MARK every time: the client throws away everything
 *    the server sends until that answer comes (inetutils telnet asks it on Ctrl-C);
 *  - BINARY from the client is welcome: the first time a client shows it speaks telnet, it
 *    is asked DO BINARY once, so that its later 8-bit input (UTF-8) arrives unmangled;
 *  - every other option is refused (WONT for DO, DONT for WILL), once per option and
 *    direction for the whole connection: a WONT or DONT, or the same request again, gets
 *    no answer, so no client can start an answer loop;
 *  - IP and BRK (Ctrl-C, Ctrl-\) get a one-line hint once per connection; AYT gets a short
 *    visible line (at most one per call); EC and EL erase the last character or the
 *    partial line within the bytes of the same call (before that they are ignored); AO,
 *    SUSP, NOP, GA, DM and the rest are dropped;
 *  - a subnegotiation is skipped, not kept (no option of ours has one); IAC followed by
 *    anything but SE or IAC inside it ends it. Every negotiation byte since the last
 *    newline is counted (held): the caller bounds them like the bytes of an unfinished
 *    line, and a connection inside a sequence is on the line clock (uvc_telnet_pending).
 *
 * inetutils telnet, before BINARY is on, replaces an input byte whose low 7 bits are its
 * interrupt, quit, suspend or flush character (0x83, 0x9C, 0x9A, 0x8F: inside ✓ or 本) with
 * IAC IP/BRK/SUSP/AO IAC DO TIMING-MARK. When such a command comes in the middle of a UTF-8
 * character of the same call, the filter puts the byte back (the default control
 * characters ^C ^\ ^Z ^O are assumed) and gives no hint.
 *
 * State: a connection that never sends 0xFF has none (the pointer stays NULL); the first
 * IAC allocates a uvc_telnet_t (about 72 bytes), freed with uvc_telnet_free().
 */
#ifndef UVCHAT_TELNET_H
#define UVCHAT_TELNET_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { UVC_TELNET_REPLY_MAX = 256 };

/* Events of one call (uvc_telnet_out_t.events). */
enum {
  UVC_TELNET_INTERRUPT = 1, /* IP or BRK: the user pressed Ctrl-C (or Ctrl-\) */
  UVC_TELNET_AYT = 2,       /* "are you there?" */
  UVC_TELNET_NOMEM = 4      /* the state could not be allocated: the bytes were dropped */
};

typedef struct uvc_telnet {
  uint32_t held;          /* negotiation bytes since the last newline (saturating) */
  uint8_t st;             /* parse state; 0: between sequences */
  uint8_t flags;          /* private */
  uint8_t refused[2][32]; /* private: options refused (their DO, their WILL), a bit each */
} uvc_telnet_t;

typedef struct uvc_telnet_out {
  size_t len;      /* reply bytes to send to the client, in reply[] */
  unsigned events; /* UVC_TELNET_* seen in this call */
  char reply[UVC_TELNET_REPLY_MAX];
} uvc_telnet_out_t;

/* Filters buf[0..len) in place and returns the new length; out gets the reply bytes (what
 * does not fit is not answered, and a refusal that was not sent is not remembered) and the
 * events. *tp is NULL until the client first sends 0xFF; it is allocated then. */
size_t uvc_telnet_filter(uvc_telnet_t** tp, char* buf, size_t len, uvc_telnet_out_t* out);

/* 1 while a sequence is unfinished (a subnegotiation, or an IAC waiting for its command):
 * the next bytes must go through the filter, and the connection is on the line clock. */
static inline int uvc_telnet_pending(const uvc_telnet_t* t) {
  return t != NULL && t->st != 0;
}

/* A read the filter did not see (no 0xFF in it, nothing pending): a newline in it ends the
 * count of negotiation bytes, as it would have in the filter. */
static inline void uvc_telnet_unseen(uvc_telnet_t* t, const char* buf, size_t len) {
  if (t->held != 0 && memchr(buf, '\n', len) != NULL) t->held = 0;
}

/* Frees the state (NULL is fine). */
void uvc_telnet_free(uvc_telnet_t* t);

#endif
