/* proto.c: uvchat-bench's wire protocols (text, IRC, RESP, IRC over WebSocket): handshakes,
 * messages, parsing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define TEXT_WELCOME     "*** Welcome to uvchat, "
#define TEXT_WELCOME_LEN (sizeof(TEXT_WELCOME) - 1)

enum { RESP_HDR = 0, RESP_BULK = 1 };
enum { KIND_NONE = 0, KIND_MESSAGE, KIND_SUBSCRIBE, KIND_OTHER };

typedef void (*line_fn)(bench_t* b, bench_client_t* c, const char* line, size_t len);

/* Returns the protocol's name as used on the command line. */
const char* proto_name(bench_proto_t p) {
  switch (p) {
    case PROTO_TEXT:
      return "text";
    case PROTO_IRC:
      return "irc";
    case PROTO_RESP:
      return "resp";
    case PROTO_WS:
      return "ws";
  }
  return "?";
}

/* Writes v in decimal to out (at least 20 bytes of room); returns the number of digits. */
static size_t put_u64(char* out, uint64_t v) {
  char tmp[20];
  size_t n = 0, i;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

/* ------------------------------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------------------------- */

/* Writes the protocol bytes that precede every payload a sender sends (for RESP, up to the
 * '$' of the payload's bulk length); returns their length. */
size_t proto_prefix(const bench_opts_t* o, char* out, size_t cap) {
  int n = 0;
  switch (o->proto) {
    case PROTO_TEXT:
      n = 0;
      out[0] = '\0';
      break;
    case PROTO_IRC:
    case PROTO_WS:
      n = snprintf(out, cap, "PRIVMSG %s :", o->channel);
      break;
    case PROTO_RESP:
      n = snprintf(out, cap, "*3\r\n$7\r\nPUBLISH\r\n$%u\r\n%s\r\n$", (unsigned)strlen(o->channel),
                   o->channel);
      break;
  }
  return n < 0 ? 0 : (size_t)n;
}

/* Writes the payload's header "B <sender> <seq> <ts_ns> " to out (48 bytes of room); returns
 * its length. */
static size_t payload_header(char* out, uint32_t sender, uint32_t seq, uint64_t ts) {
  char* p = out;
  *p++ = 'B';
  *p++ = ' ';
  p += put_u64(p, sender);
  *p++ = ' ';
  p += put_u64(p, seq);
  *p++ = ' ';
  p += put_u64(p, ts);
  *p++ = ' ';
  return (size_t)(p - out);
}

static size_t ws_frame_head(char* out, unsigned opcode, size_t n, uint32_t key);
static void ws_mask(char* p, size_t n, uint32_t key);
static uint32_t ws_key_for(uint64_t x);

/* Writes one complete message of the run's protocol whose payload is hdr[0..h) padded with
 * 'x' to plen bytes (plen >= h); returns its length. WebSocket: the IRC line without CR LF in
 * one masked text frame, whose key comes from mask_seed. */
static size_t encode(const bench_t* b, char* out, const char* hdr, size_t h, size_t plen,
                     uint64_t mask_seed) {
  char* p = out;
  if (b->o.proto == PROTO_WS) {
    size_t n = b->prefix_len + plen;
    uint32_t key = ws_key_for(mask_seed);
    char* line = p + ws_frame_head(p, 0x1, n, key);
    memcpy(line, b->prefix, b->prefix_len);
    memcpy(line + b->prefix_len, hdr, h);
    memset(line + b->prefix_len + h, 'x', plen - h);
    ws_mask(line, n, key);
    return (size_t)(line + n - out);
  }
  memcpy(p, b->prefix, b->prefix_len);
  p += b->prefix_len;
  if (b->o.proto == PROTO_RESP) {
    p += put_u64(p, plen);
    *p++ = '\r';
    *p++ = '\n';
  }
  memcpy(p, hdr, h);
  p += h;
  memset(p, 'x', plen - h);
  p += plen - h;
  if (b->o.proto == PROTO_TEXT) {
    *p++ = '\n';
  } else {
    *p++ = '\r';
    *p++ = '\n';
  }
  return (size_t)(p - out);
}

/* Writes one complete message of the run's protocol, carrying sender, seq and the send time
 * ts, padded with 'x' to --size bytes of payload; returns its length (at most b->msg_max). */
size_t proto_message(const bench_t* b, char* out, uint32_t sender, uint32_t seq, uint64_t ts) {
  char hdr[48];
  size_t h = payload_header(hdr, sender, seq, ts);
  size_t plen = h > b->o.size ? h : b->o.size;
  return encode(b, out, hdr, h, plen, ((uint64_t)sender << 32) | seq);
}

/* Writes a probe "P <sender>" of the run's protocol (at most b->msg_max bytes); returns its
 * length. */
size_t proto_probe(const bench_t* b, char* out, uint32_t sender) {
  char hdr[32];
  size_t h;
  hdr[0] = 'P';
  hdr[1] = ' ';
  h = 2 + put_u64(hdr + 2, sender);
  return encode(b, out, hdr, h, h, sender);
}

/* Reads an unsigned decimal number at *pp (at most 20 digits); returns 1 and advances *pp, or
 * 0 when there is no digit. */
static int parse_u64(const char** pp, const char* end, uint64_t* out) {
  const char* p = *pp;
  uint64_t v = 0;
  int digits = 0;
  while (p < end && *p >= '0' && *p <= '9' && digits < 20) {
    v = v * 10 + (uint64_t)(*p - '0');
    p++;
    digits++;
  }
  if (digits == 0) return 0;
  *out = v;
  *pp = p;
  return 1;
}

/* Parses a payload "B <sender> <seq> <ts> ..."; returns 1 when it is one, -1 when the text
 * is not a bench payload at all, 0 when it starts like one but is malformed. */
static int parse_payload(const char* p, size_t n, uint64_t* s, uint64_t* q, uint64_t* ts) {
  const char* end = p + n;
  if (n < 2 || p[0] != 'B' || p[1] != ' ') return -1;
  p += 2;
  if (!parse_u64(&p, end, s) || p >= end || *p++ != ' ') return 0;
  if (!parse_u64(&p, end, q) || p >= end || *p++ != ' ') return 0;
  if (!parse_u64(&p, end, ts) || (p < end && *p != ' ')) return 0;
  return 1;
}

/* Counts one delivery of payload p[0..n) to c: per (receiver, sender) duplicates and
 * reorders, latency, and the end of the measured phase once everything has arrived. */
static void deliver(bench_t* b, bench_client_t* c, const char* p, size_t n) {
  uint64_t s, q, ts, pair;
  int r;
  if (c->role == ROLE_SEND) return;           /* senders see each other's messages: not counted */
  if (n >= 3 && p[0] == 'P' && p[1] == ' ') { /* a probe "P <sender>" */
    const char* d = p + 2;
    if (c->role == ROLE_RECV && parse_u64(&d, p + n, &s) && s < b->o.senders)
      bench_probe_heard(b, c, (uint32_t)s);
    return;
  }
  r = parse_payload(p, n, &s, &q, &ts);
  if (r < 0) return; /* someone else's chat line */
  if (r == 0 || s >= b->o.senders || q >= b->o.messages) {
    if (c->role == ROLE_RECV) b->bad++;
    return;
  }
  if (c->role == ROLE_SLOW) {
    c->got++;
    b->slow_deliveries++;
    return;
  }
  b->deliveries++;
  b->t_last_delivery = b->now;
  pair = (uint64_t)c->id * b->o.senders + s;
  if (b->seen != NULL) {
    uint64_t bit = pair * b->o.messages + q;
    uint8_t mask = (uint8_t)(1u << (bit & 7));
    if (b->seen[bit >> 3] & mask) {
      b->dup++;
      return;
    }
    b->seen[bit >> 3] |= mask;
    if (q + 1 < b->next_seq[pair])
      b->reordered++;
    else
      b->next_seq[pair] = (uint32_t)q + 1;
  } else if (q < b->next_seq[pair]) {
    b->reordered++; /* or a duplicate: without the bitmap they look the same */
  } else {
    b->next_seq[pair] = (uint32_t)q + 1;
  }
  b->unique++;
  hist_add(&b->lat, b->now > ts ? b->now - ts : 0);
  if (b->o.nports > 1) {
    if (b->clients[b->o.receivers + s].srv == c->srv) {
      b->local_deliveries++;
      hist_add(&b->lat_local, b->now > ts ? b->now - ts : 0);
    } else {
      b->remote_deliveries++;
      hist_add(&b->lat_remote, b->now > ts ? b->now - ts : 0);
    }
  }
  if (++c->got == b->per_recv) {
    b->recv_complete++;
    bench_check_complete(b);
  }
}

/* ------------------------------------------------------------------------------------------
 * Lines
 * ---------------------------------------------------------------------------------------- */

/* Appends up to the free room of c's partial-line buffer (allocated on first use); bytes past
 * BENCH_PART_MAX are dropped, which cuts over-long lines. */
static void part_append(bench_t* b, bench_client_t* c, const char* p, size_t n) {
  size_t room;
  if (c->part == NULL) {
    c->part = malloc(BENCH_PART_MAX);
    if (c->part == NULL) {
      bench_fail(b, "out of memory");
      return;
    }
  }
  room = BENCH_PART_MAX - c->part_len;
  if (n > room) n = room;
  memcpy(c->part + c->part_len, p, n);
  c->part_len = (uint16_t)(c->part_len + n);
}

/* Cuts data into '\n'-terminated lines and hands each to fn without copying, except a line
 * split across reads, which is completed in c's small partial-line buffer. */
static void feed_lines(bench_t* b, bench_client_t* c, char* p, size_t n, line_fn fn) {
  char* end = p + n;
  char* nl;
  if (c->part_len > 0) {
    nl = memchr(p, '\n', n);
    if (nl == NULL) {
      part_append(b, c, p, n);
      return;
    }
    part_append(b, c, p, (size_t)(nl - p));
    fn(b, c, c->part, c->part_len);
    c->part_len = 0;
    p = nl + 1;
  }
  while (p < end && c->state != CS_CLOSED) {
    nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL) {
      part_append(b, c, p, (size_t)(end - p));
      return;
    }
    fn(b, c, p, (size_t)(nl - p));
    p = nl + 1;
  }
}

/* Keeps the text of a server's error line for the report (and prints it with --verbose). */
static void note_error_line(bench_t* b, bench_client_t* c, const char* line, size_t len) {
  if (len >= sizeof(b->last_error_line)) len = sizeof(b->last_error_line) - 1;
  memcpy(b->last_error_line, line, len);
  b->last_error_line[len] = '\0';
  if (b->o.verbose)
    fprintf(stderr, "uvchat-bench: connection %u: server says: %s\n", (unsigned)c->id,
            b->last_error_line);
}

/* uvchat text protocol: "<nick> TEXT" is a chat line, the welcome line admits the client,
 * everything else is a notice. */
static void text_line(bench_t* b, bench_client_t* c, const char* line, size_t len) {
  if (len > 0 && line[len - 1] == '\r') len--;
  if (len == 0) return;
  if (line[0] == '<') {
    const char* gt = memchr(line + 1, '>', len - 1);
    if (gt != NULL && (size_t)(gt - line) + 1 < len && gt[1] == ' ')
      deliver(b, c, gt + 2, len - (size_t)(gt + 2 - line));
    return;
  }
  if (c->state == CS_OPEN && len >= TEXT_WELCOME_LEN &&
      memcmp(line, TEXT_WELCOME, TEXT_WELCOME_LEN) == 0)
    bench_mark_ready(b, c);
}

static void ws_send(bench_t* b, bench_client_t* c, unsigned opcode, const char* p, size_t n);

/* Sends one IRC line s[0..n) (with its CR LF): as it is over TCP, without the CR LF in a
 * masked text frame over WebSocket. */
static void irc_send(bench_t* b, bench_client_t* c, const char* s, size_t n) {
  if (b->o.proto != PROTO_WS) {
    bench_write_str(b, c, s, n);
    return;
  }
  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
    n--;
  ws_send(b, c, 0x1, s, n);
}

/* Tells whether ch is an ASCII digit. */
static int is_digit(char ch) {
  return ch >= '0' && ch <= '9';
}

/* Writes c's IRC nick ("b" and its index) to out; returns its length. */
static size_t irc_nick(const bench_client_t* c, char* out) {
  out[0] = 'b';
  return 1 + put_u64(out + 1, c->id);
}

/* Tells whether an IRC numeric reply means that c cannot take part (bad nick, cannot join,
 * cannot send to the channel, banned). */
static int irc_fatal_numeric(unsigned num) {
  switch (num) {
    case 403: /* no such channel */
    case 404: /* cannot send to channel */
    case 405: /* too many channels */
    case 432: /* erroneous nickname */
    case 433: /* nickname in use */
    case 436: /* nick collision */
    case 437: /* unavailable */
    case 451: /* not registered */
    case 461: /* need more params */
    case 465: /* banned */
    case 471: /* channel full */
    case 473: /* invite only */
    case 474: /* banned from channel */
    case 475: /* bad channel key */
    case 477: /* need registered nick */
      return 1;
    default:
      return 0;
  }
}

/* Whether the k-th parameter (0-based) of an IRC line's parameters in [rest, end) is the
 * channel name (ignoring ASCII case; a leading ':' is allowed). Servers may join clients to
 * other channels on their own (uvchat puts everyone in #lobby): admission must be counted
 * for the bench's channel only. */
static int irc_param_is(const char* rest, const char* end, unsigned k, const char* channel) {
  size_t clen = strlen(channel), i;
  while (k-- > 0) {
    const char* sp = memchr(rest, ' ', (size_t)(end - rest));
    if (sp == NULL) return 0;
    rest = sp + 1;
  }
  if (rest < end && *rest == ':') rest++;
  if ((size_t)(end - rest) < clen) return 0;
  for (i = 0; i < clen; i++) {
    char a = rest[i], b = channel[i];
    if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
    if (b >= 'A' && b <= 'Z') b = (char)(b + 32);
    if (a != b) return 0;
  }
  return rest + clen == end || rest[clen] == ' ';
}

/* IRC: registration (001, then JOIN), admission (own JOIN echo and 366 for the bench's
 * channel), PING, PRIVMSG. */
static void irc_line(bench_t* b, bench_client_t* c, const char* line, size_t len) {
  const char *p = line, *end, *prefix = NULL, *cmd, *rest, *sp;
  size_t plen = 0, clen;
  if (len > 0 && line[len - 1] == '\r') len--;
  end = line + len;
  if (len == 0) return;
  if (*p == ':') {
    sp = memchr(p, ' ', len);
    if (sp == NULL) return;
    prefix = p + 1;
    plen = (size_t)(sp - prefix);
    p = sp + 1;
  }
  cmd = p;
  sp = memchr(p, ' ', (size_t)(end - p));
  clen = sp != NULL ? (size_t)(sp - p) : (size_t)(end - p);
  rest = sp != NULL ? sp + 1 : end;

  if (clen == 7 && memcmp(cmd, "PRIVMSG", 7) == 0) {
    const char* colon = memchr(rest, ':', (size_t)(end - rest));
    if (colon != NULL) deliver(b, c, colon + 1, (size_t)(end - colon - 1));
    return;
  }
  if (clen == 3 && is_digit(cmd[0]) && is_digit(cmd[1]) && is_digit(cmd[2])) {
    unsigned num =
        (unsigned)(cmd[0] - '0') * 100 + (unsigned)(cmd[1] - '0') * 10 + (unsigned)(cmd[2] - '0');
    if (num == 1 && !(c->flags & BF_WELCOME)) {
      char buf[128];
      int n = snprintf(buf, sizeof(buf), "JOIN %s\r\n", b->o.channel);
      c->flags |= BF_WELCOME;
      irc_send(b, c, buf, (size_t)n);
    } else if (num == 366 && irc_param_is(rest, end, 1, b->o.channel)) {
      c->flags |= BF_NAMES;
    } else if (irc_fatal_numeric(num)) {
      note_error_line(b, c, line, len);
      bench_fail(b, "connection %u: the IRC server refused: %s", (unsigned)c->id,
                 b->last_error_line);
      return;
    }
  } else if (clen == 4 && memcmp(cmd, "PING", 4) == 0) {
    char buf[BENCH_PART_MAX + 16];
    size_t n = (size_t)(end - rest);
    if (n > BENCH_PART_MAX) n = BENCH_PART_MAX;
    memcpy(buf, "PONG ", 5);
    memcpy(buf + 5, rest, n);
    memcpy(buf + 5 + n, "\r\n", 2);
    irc_send(b, c, buf, n + 7);
    return;
  } else if (clen == 4 && memcmp(cmd, "JOIN", 4) == 0 && prefix != NULL) {
    char nick[24];
    size_t nlen = irc_nick(c, nick);
    if (plen > nlen && memcmp(prefix, nick, nlen) == 0 && prefix[nlen] == '!' &&
        irc_param_is(rest, end, 0, b->o.channel))
      c->flags |= BF_JOINED;
  } else if (clen == 5 && memcmp(cmd, "ERROR", 5) == 0) {
    note_error_line(b, c, line, len);
    return;
  }
  if (c->state == CS_OPEN && (c->flags & (BF_JOINED | BF_NAMES)) == (BF_JOINED | BF_NAMES))
    bench_mark_ready(b, c);
}

/* ------------------------------------------------------------------------------------------
 * RESP
 * ---------------------------------------------------------------------------------------- */

/* Handles one complete scalar element of a RESP reply: type is '$' (bulk), ':', '+', '-' or
 * 'N' (null). Inside a top-level array it tracks pub/sub frames: "message" deliveries and the
 * "subscribe" confirmation. */
static void resp_element(bench_t* b, bench_client_t* c, char type, const char* p, size_t n) {
  if (c->rpending <= 0) { /* a top-level scalar: PUBLISH's integer reply, or an error */
    if (type == '-') note_error_line(b, c, p, n);
    return;
  }
  if (c->relem == 0) {
    if (type == '$' && n == 7 && memcmp(p, "message", 7) == 0)
      c->rkind = KIND_MESSAGE;
    else if (type == '$' && n == 9 && memcmp(p, "subscribe", 9) == 0)
      c->rkind = KIND_SUBSCRIBE;
    else
      c->rkind = KIND_OTHER;
  } else if (c->relem == 2) {
    if (c->rkind == KIND_MESSAGE && type == '$')
      deliver(b, c, p, n);
    else if (c->rkind == KIND_SUBSCRIBE && c->state == CS_OPEN)
      bench_mark_ready(b, c);
  }
  if (c->relem < 255) c->relem++;
  if (--c->rpending == 0) {
    c->relem = 0;
    c->rkind = KIND_NONE;
  }
}

/* Reads a signed decimal number from a RESP header line; returns 0 on success. */
static int resp_int(const char* p, size_t n, int64_t* out) {
  const char* end = p + n;
  uint64_t v;
  int neg = 0;
  if (p < end && *p == '-') neg = 1, p++;
  if (!parse_u64(&p, end, &v) || p != end || v > INT32_MAX) return -1;
  *out = neg ? -(int64_t)v : (int64_t)v;
  return 0;
}

/* Handles one RESP header line (without CRLF): an array count, a bulk length, or a
 * one-line scalar. */
static void resp_header(bench_t* b, bench_client_t* c, const char* line, size_t len) {
  int64_t v;
  if (len == 0) {
    bench_fail(b, "connection %u: empty RESP line from the server", (unsigned)c->id);
    return;
  }
  switch (line[0]) {
    case '*':
      if (resp_int(line + 1, len - 1, &v) != 0) break;
      if (c->rpending <= 0) { /* a new top-level reply */
        c->relem = 0;
        c->rkind = KIND_NONE;
        c->rpending = v > 0 ? (int32_t)v : 0;
      } else if (v > 0) { /* a nested array: its elements replace it */
        c->rpending += (int32_t)v - 1;
        if (c->relem < 255) c->relem++;
      } else {
        resp_element(b, c, 'N', NULL, 0);
      }
      return;
    case '$':
      if (resp_int(line + 1, len - 1, &v) != 0) break;
      if (v < 0) {
        resp_element(b, c, 'N', NULL, 0);
      } else {
        c->rstate = RESP_BULK;
        c->rbulk_len = (uint32_t)v;
        c->rbulk_left = (uint32_t)v + 2;
      }
      return;
    case ':':
    case '+':
    case '-':
      resp_element(b, c, line[0], line + 1, len - 1);
      return;
    default:
      break;
  }
  bench_fail(b, "connection %u: cannot parse the server's RESP line \"%.*s\"", (unsigned)c->id,
             (int)(len > 60 ? 60 : len), line);
}

/* Parses a RESP byte stream incrementally: header lines through the partial-line buffer,
 * bulk strings in place when they arrived whole, else their first BENCH_PART_MAX bytes. */
static void resp_feed(bench_t* b, bench_client_t* c, char* p, size_t n) {
  char* end = p + n;
  while (p < end && c->state != CS_CLOSED) {
    size_t avail = (size_t)(end - p);
    if (c->rstate == RESP_BULK) {
      size_t done = (size_t)c->rbulk_len + 2 - c->rbulk_left; /* bytes of it already read */
      size_t take;
      if (done == 0 && avail >= c->rbulk_left) { /* the whole bulk is here */
        c->rstate = RESP_HDR;
        p += c->rbulk_left;
        resp_element(b, c, '$', p - c->rbulk_left, c->rbulk_len);
        continue;
      }
      take = avail < c->rbulk_left ? avail : c->rbulk_left;
      if (done < c->rbulk_len) { /* keep the start of the content */
        size_t content = c->rbulk_len - done;
        part_append(b, c, p, take < content ? take : content);
      }
      c->rbulk_left -= (uint32_t)take;
      p += take;
      if (c->rbulk_left == 0) {
        size_t have = c->part_len < c->rbulk_len ? c->part_len : c->rbulk_len;
        c->rstate = RESP_HDR;
        resp_element(b, c, '$', c->part, have);
        c->part_len = 0;
      }
      continue;
    } else {
      char* nl = memchr(p, '\n', avail);
      const char* line;
      size_t len;
      if (nl == NULL) {
        part_append(b, c, p, avail);
        return;
      }
      if (c->part_len > 0) {
        part_append(b, c, p, (size_t)(nl - p));
        line = c->part;
        len = c->part_len;
      } else {
        line = p;
        len = (size_t)(nl - p);
      }
      p = nl + 1;
      if (len > 0 && line[len - 1] == '\r') len--;
      resp_header(b, c, line, len);
      c->part_len = 0; /* after the header: it may point into the buffer */
    }
  }
}

/* ------------------------------------------------------------------------------------------
 * IRC over WebSocket (RFC 6455, client side; the IRCv3 WebSocket specification)
 *
 * The handshake is GET /ws with Sec-WebSocket-Protocol: text.ircv3.net. The server's answer
 * must be 101 and name that subprotocol; its Sec-WebSocket-Accept is not verified (that
 * takes a SHA-1, and the bench keeps to libuv alone: a server that got the key wrong would be
 * caught by its own tests, not by a load generator). Then every IRC line is one frame: the
 * client's masked, the server's not.
 *
 * A connection's frame parser reuses the RESP fields of bench_client_t: rstate is the state
 * below, rkind the opcode of the frame being read (in WS_HTTP: what the response said so
 * far, WSH_*), relem the extended-length bytes still to come, rbulk_len and rbulk_left the
 * payload's length and its bytes still to come. Headers are parsed a byte at a time, so a
 * header split across reads needs no buffer; a payload that arrived whole is parsed in place,
 * one split across reads is completed in the partial-line buffer (its first BENCH_PART_MAX
 * bytes, which is all of any IRC line). Fragmented messages are refused: uvchat sends each
 * line in one frame (FIN set), and a bench that joined fragments would measure nothing more.
 * ---------------------------------------------------------------------------------------- */

enum { WS_HTTP = 0, WS_HDR0, WS_HDR1, WS_EXT, WS_PAYLOAD };
enum {
  WS_CONT = 0x0,
  WS_TEXT = 0x1,
  WS_BINARY = 0x2,
  WS_CLOSE = 0x8,
  WS_PING = 0x9,
  WS_PONG = 0xA
};
#define WSH_STATUS     0x01 /* saw "HTTP/1.1 101" */
#define WSH_PROTO      0x02 /* saw Sec-WebSocket-Protocol: text.ircv3.net */
#define WSH_UPG        0x04 /* saw Upgrade: websocket */
#define WS_SUBPROTOCOL "text.ircv3.net"
#define WS_FRAME_MAX   (16u << 20) /* longer server frames are refused (an IRC line is < 9 KB) */

/* A mask key (or key bytes) from x: splitmix64's finaliser, so that keys vary. */
static uint32_t ws_key_for(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return (uint32_t)(x ^ (x >> 31));
}

/* Writes the header of a masked client frame (FIN set) of opcode with an n-byte payload, and
 * its mask key, to out (14 bytes of room); returns its length. */
static size_t ws_frame_head(char* out, unsigned opcode, size_t n, uint32_t key) {
  unsigned char* o = (unsigned char*)out;
  size_t h, i;
  o[0] = (unsigned char)(0x80 | (opcode & 0x0F));
  if (n < 126) {
    o[1] = (unsigned char)(0x80 | n);
    h = 2;
  } else if (n <= 0xFFFF) {
    o[1] = 0x80 | 126;
    o[2] = (unsigned char)(n >> 8);
    o[3] = (unsigned char)n;
    h = 4;
  } else {
    o[1] = 0x80 | 127;
    for (i = 0; i < 8; i++)
      o[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    h = 10;
  }
  for (i = 0; i < 4; i++)
    o[h + i] = (unsigned char)(key >> (24 - 8 * i));
  return h + 4;
}

/* Masks (or unmasks) p[0..n) with key, as ws_frame_head wrote it. */
static void ws_mask(char* p, size_t n, uint32_t key) {
  unsigned char m[4];
  size_t i;
  for (i = 0; i < 4; i++)
    m[i] = (unsigned char)(key >> (24 - 8 * i));
  for (i = 0; i < n; i++)
    p[i] = (char)((unsigned char)p[i] ^ m[i & 3]);
}

/* Sends p[0..n) (n <= BENCH_PART_MAX + 16) to c in one masked frame of opcode. */
static void ws_send(bench_t* b, bench_client_t* c, unsigned opcode, const char* p, size_t n) {
  char buf[BENCH_PART_MAX + 32];
  uint32_t key = ws_key_for(((uint64_t)c->id << 32) ^ uv_hrtime());
  size_t h;
  if (n > BENCH_PART_MAX + 16) n = BENCH_PART_MAX + 16;
  h = ws_frame_head(buf, opcode, n, key);
  memcpy(buf + h, p, n);
  ws_mask(buf + h, n, key);
  bench_write_str(b, c, buf, h + n);
}

/* Starts the IRC registration: NICK and USER, in one write over TCP, in two frames over
 * WebSocket (once upgraded). */
static void irc_register(bench_t* b, bench_client_t* c) {
  char buf[256], nick[24];
  size_t nlen = irc_nick(c, nick);
  int n;
  if (b->o.proto != PROTO_WS) {
    n = snprintf(buf, sizeof(buf), "NICK %.*s\r\nUSER %.*s 0 * :uvchat-bench\r\n", (int)nlen, nick,
                 (int)nlen, nick);
    bench_write_str(b, c, buf, (size_t)n);
    return;
  }
  n = snprintf(buf, sizeof(buf), "NICK %.*s", (int)nlen, nick);
  ws_send(b, c, WS_TEXT, buf, (size_t)n);
  n = snprintf(buf, sizeof(buf), "USER %.*s 0 * :uvchat-bench", (int)nlen, nick);
  ws_send(b, c, WS_TEXT, buf, (size_t)n);
}

/* Writes 16 bytes derived from c's index, in base64, to out (25 bytes of room): c's
 * Sec-WebSocket-Key. */
static void ws_client_key(const bench_client_t* c, char out[25]) {
  static const char k64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char raw[18];
  size_t i, o = 0;
  for (i = 0; i < 4; i++) {
    uint32_t k = ws_key_for(((uint64_t)c->id << 2) | i);
    raw[4 * i] = (unsigned char)(k >> 24);
    raw[4 * i + 1] = (unsigned char)(k >> 16);
    raw[4 * i + 2] = (unsigned char)(k >> 8);
    raw[4 * i + 3] = (unsigned char)k;
  }
  raw[16] = raw[17] = 0;
  for (i = 0; i < 18; i += 3) {
    uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
    out[o++] = k64[(v >> 18) & 63];
    out[o++] = k64[(v >> 12) & 63];
    out[o++] = k64[(v >> 6) & 63];
    out[o++] = k64[v & 63];
  }
  out[22] = out[23] = '='; /* 16 bytes: the last group holds one byte */
  out[24] = '\0';
}

/* Sends the HTTP upgrade request. */
static void ws_upgrade(bench_t* b, bench_client_t* c) {
  char buf[512], key[25];
  int n;
  ws_client_key(c, key);
  n = snprintf(buf, sizeof(buf),
               "GET /ws HTTP/1.1\r\nHost: %s%s%s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: " WS_SUBPROTOCOL "\r\n\r\n",
               b->family == AF_INET6 ? "[" : "", b->o.host, b->family == AF_INET6 ? "]" : "",
               b->o.port, key);
  bench_write_str(b, c, buf, (size_t)n);
}

/* Whether the header line [line, line + len) is "name: value" for this name (ASCII case
 * ignored); if so, its value without surrounding blanks goes to *v, *vn. */
static int http_header(const char* line, size_t len, const char* name, const char** v, size_t* vn) {
  size_t nl = strlen(name), i;
  const char* end = line + len;
  if (len <= nl || line[nl] != ':') return 0;
  for (i = 0; i < nl; i++) {
    char a = line[i];
    if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
    if (a != name[i]) return 0;
  }
  line += nl + 1;
  while (line < end && (*line == ' ' || *line == '\t'))
    line++;
  while (end > line && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *v = line;
  *vn = (size_t)(end - line);
  return 1;
}

/* Whether v[0..n) is s, ignoring ASCII case. */
static int eq_nocase(const char* v, size_t n, const char* s) {
  size_t i;
  if (strlen(s) != n) return 0;
  for (i = 0; i < n; i++) {
    char a = v[i], z = s[i];
    if (a >= 'A' && a <= 'Z') a = (char)(a + 32);
    if (z >= 'A' && z <= 'Z') z = (char)(z + 32);
    if (a != z) return 0;
  }
  return 1;
}

/* One line of the server's answer to the upgrade (without CR LF); the empty line ends it and
 * starts the IRC registration over frames. */
static void ws_http_line(bench_t* b, bench_client_t* c, const char* line, size_t len) {
  const char* v;
  size_t vn;
  if (!(c->rkind & WSH_STATUS)) {
    if (len < 12 || memcmp(line, "HTTP/1.1 101", 12) != 0) {
      note_error_line(b, c, line, len);
      bench_fail(b, "connection %u: the server refused the WebSocket upgrade: %s", (unsigned)c->id,
                 b->last_error_line);
      return;
    }
    c->rkind |= WSH_STATUS;
    return;
  }
  if (len > 0) {
    if (http_header(line, len, "sec-websocket-protocol", &v, &vn) &&
        eq_nocase(v, vn, WS_SUBPROTOCOL))
      c->rkind |= WSH_PROTO;
    else if (http_header(line, len, "upgrade", &v, &vn) && eq_nocase(v, vn, "websocket"))
      c->rkind |= WSH_UPG;
    return; /* Sec-WebSocket-Accept is not verified (see above) */
  }
  if ((c->rkind & (WSH_PROTO | WSH_UPG)) != (WSH_PROTO | WSH_UPG)) {
    bench_fail(
        b, "connection %u: the server's 101 lacks %s", (unsigned)c->id,
        !(c->rkind & WSH_UPG) ? "Upgrade: websocket" : "Sec-WebSocket-Protocol: " WS_SUBPROTOCOL);
    return;
  }
  c->rstate = WS_HDR0;
  c->rkind = 0;
  irc_register(b, c);
}

/* One whole frame from the server: its payload p[0..n) (cut to BENCH_PART_MAX if it came in
 * pieces). */
static void ws_frame(bench_t* b, bench_client_t* c, unsigned opcode, const char* p, size_t n) {
  switch (opcode) {
    case WS_TEXT:
    case WS_BINARY:
      irc_line(b, c, p, n);
      break;
    case WS_PING:
      ws_send(b, c, WS_PONG, p, n);
      break;
    case WS_PONG:
      break;
    case WS_CLOSE: {
      char why[BENCH_PART_MAX + 40];
      unsigned code = n >= 2 ? (unsigned)((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 0;
      int k = snprintf(why, sizeof(why), "WebSocket close %u %.*s", code, (int)(n > 2 ? n - 2 : 0),
                       n > 2 ? p + 2 : "");
      note_error_line(b, c, why, (size_t)k);
      ws_send(b, c, WS_CLOSE, p, n >= 2 ? 2 : 0); /* the answer; then the server closes */
      break;
    }
    default:
      bench_fail(b, "connection %u: a WebSocket frame with opcode %u from the server",
                 (unsigned)c->id, opcode);
      break;
  }
}

/* A frame's header is complete: its payload of len bytes comes next. */
static void ws_payload_start(bench_t* b, bench_client_t* c, uint32_t len) {
  c->rbulk_len = c->rbulk_left = len;
  c->rstate = WS_PAYLOAD;
  if (len == 0) { /* nothing more to wait for */
    c->rstate = WS_HDR0;
    ws_frame(b, c, c->rkind, "", 0);
  }
}

/* Parses what a WebSocket connection read: the HTTP answer, then frames (several per read,
 * or one split across reads). */
static void ws_feed(bench_t* b, bench_client_t* c, char* p, size_t n) {
  char* end = p + n;
  while (p < end && c->state != CS_CLOSED && b->phase != PH_DONE) {
    unsigned char u;
    size_t avail = (size_t)(end - p);
    switch (c->rstate) {
      case WS_HTTP: {
        char* nl = memchr(p, '\n', avail);
        const char* line;
        size_t len;
        if (nl == NULL) {
          part_append(b, c, p, avail);
          return;
        }
        if (c->part_len > 0) {
          part_append(b, c, p, (size_t)(nl - p));
          line = c->part;
          len = c->part_len;
        } else {
          line = p;
          len = (size_t)(nl - p);
        }
        p = nl + 1;
        if (len > 0 && line[len - 1] == '\r') len--;
        ws_http_line(b, c, line, len);
        c->part_len = 0;
        break;
      }
      case WS_HDR0:
        u = (unsigned char)*p++;
        if (u & 0x70) {
          bench_fail(b, "connection %u: a WebSocket frame with reserved bits set", (unsigned)c->id);
          return;
        }
        if (!(u & 0x80) || (u & 0x0F) == WS_CONT) {
          bench_fail(b,
                     "connection %u: a fragmented WebSocket message (uvchat-bench does not "
                     "join fragments)",
                     (unsigned)c->id);
          return;
        }
        c->rkind = (uint8_t)(u & 0x0F);
        c->rstate = WS_HDR1;
        break;
      case WS_HDR1:
        u = (unsigned char)*p++;
        if (u & 0x80) {
          bench_fail(b, "connection %u: a masked WebSocket frame from the server", (unsigned)c->id);
          return;
        }
        u &= 0x7F;
        if (c->rkind >= WS_CLOSE && u > 125) {
          bench_fail(b, "connection %u: a WebSocket control frame over 125 bytes", (unsigned)c->id);
          return;
        }
        if (u < 126) {
          ws_payload_start(b, c, u);
        } else {
          c->relem = u == 126 ? 2 : 8;
          c->rbulk_len = 0;
          c->rstate = WS_EXT;
        }
        break;
      case WS_EXT:
        while (p < end && c->relem > 0) {
          if (c->rbulk_len > (WS_FRAME_MAX >> 8)) {
            bench_fail(b, "connection %u: a WebSocket frame over %u bytes", (unsigned)c->id,
                       WS_FRAME_MAX);
            return;
          }
          c->rbulk_len = c->rbulk_len << 8 | (unsigned char)*p++;
          c->relem--;
        }
        if (c->relem == 0) ws_payload_start(b, c, c->rbulk_len);
        break;
      case WS_PAYLOAD: {
        size_t take = avail < c->rbulk_left ? avail : c->rbulk_left;
        if (c->rbulk_left == c->rbulk_len && avail >= c->rbulk_left) { /* all here */
          c->rstate = WS_HDR0;
          p += take;
          ws_frame(b, c, c->rkind, p - take, take);
          break;
        }
        part_append(b, c, p, take); /* keeps the first BENCH_PART_MAX bytes */
        c->rbulk_left -= (uint32_t)take;
        p += take;
        if (c->rbulk_left == 0) {
          c->rstate = WS_HDR0;
          ws_frame(b, c, c->rkind, c->part, c->part_len);
          c->part_len = 0;
        }
        break;
      }
      default:
        return;
    }
  }
}

/* ------------------------------------------------------------------------------------------
 * Entry points
 * ---------------------------------------------------------------------------------------- */

/* Starts the protocol handshake of a freshly connected client. */
void proto_on_connect(bench_t* b, bench_client_t* c) {
  char buf[256];
  int n;
  switch (b->o.proto) {
    case PROTO_TEXT:
      break; /* the server greets first */
    case PROTO_IRC:
      irc_register(b, c);
      break;
    case PROTO_WS:
      ws_upgrade(b, c); /* then the registration, over frames */
      break;
    case PROTO_RESP:
      if (c->role == ROLE_SEND) {
        bench_mark_ready(b, c); /* a publisher needs no handshake */
        break;
      }
      n = snprintf(buf, sizeof(buf), "*2\r\n$9\r\nSUBSCRIBE\r\n$%u\r\n%s\r\n",
                   (unsigned)strlen(b->o.channel), b->o.channel);
      bench_write_str(b, c, buf, (size_t)n);
      break;
  }
}

/* Hands n bytes read from c to its protocol's parser. */
void proto_feed(bench_t* b, bench_client_t* c, char* data, size_t n) {
  switch (b->o.proto) {
    case PROTO_TEXT:
      feed_lines(b, c, data, n, text_line);
      break;
    case PROTO_IRC:
      feed_lines(b, c, data, n, irc_line);
      break;
    case PROTO_RESP:
      resp_feed(b, c, data, n);
      break;
    case PROTO_WS:
      ws_feed(b, c, data, n);
      break;
  }
}
