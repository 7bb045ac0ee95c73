/* proto.c: uvchat-bench's wire protocols (text, IRC, RESP): handshakes, messages, parsing. */
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

/* Writes one complete message of the run's protocol, carrying sender, seq and the send time
 * ts, padded with 'x' to --size bytes of payload; returns its length (at most b->msg_max). */
size_t proto_message(const bench_t* b, char* out, uint32_t sender, uint32_t seq, uint64_t ts) {
  char hdr[48];
  size_t h = payload_header(hdr, sender, seq, ts);
  size_t plen = h > b->o.size ? h : b->o.size;
  char* p = out;
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
  if (c->role == ROLE_SEND) return; /* senders see each other's messages: not counted */
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
      bench_write_str(b, c, buf, (size_t)n);
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
    bench_write_str(b, c, buf, n + 7);
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
 * Entry points
 * ---------------------------------------------------------------------------------------- */

/* Starts the protocol handshake of a freshly connected client. */
void proto_on_connect(bench_t* b, bench_client_t* c) {
  char buf[256];
  int n;
  switch (b->o.proto) {
    case PROTO_TEXT:
      break; /* the server greets first */
    case PROTO_IRC: {
      char nick[24];
      size_t nlen = irc_nick(c, nick);
      n = snprintf(buf, sizeof(buf), "NICK %.*s\r\nUSER %.*s 0 * :uvchat-bench\r\n", (int)nlen,
                   nick, (int)nlen, nick);
      bench_write_str(b, c, buf, (size_t)n);
      break;
    }
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
  }
}
