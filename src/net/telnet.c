/* telnet.c: removes telnet negotiation from the input of a text connection, in place, and
 * answers it (see telnet.h for what is answered and why). */
#include "uvchat/telnet.h"

#include <stdlib.h>
#include <string.h>

enum {
  TN_DATA = 0, /* plain bytes */
  TN_IAC,      /* after IAC */
  TN_WILL,     /* after IAC WILL/WONT/DO/DONT: the option byte follows */
  TN_WONT,
  TN_DO,
  TN_DONT,
  TN_SB,    /* inside IAC SB ... */
  TN_SB_IAC /* IAC inside a subnegotiation */
};

enum {
  IAC = 255,
  DONT = 254,
  DO = 253,
  WONT = 252,
  WILL = 251,
  SB = 250,
  GA = 249,
  EL = 248,
  EC = 247,
  AYT = 246,
  AO = 245,
  IP = 244,
  BRK = 243,
  DM = 242,
  NOP = 241,
  SE = 240,
  SUSP = 237
};

enum { OPT_BINARY = 0, OPT_TIMING_MARK = 6 };

enum {
  F_TELNET = 1,   /* it sent a telnet command: it was asked DO BINARY once */
  F_BIN_WANT = 2, /* DO BINARY sent, no answer yet */
  F_BIN_ON = 4,   /* it sends BINARY: its 8-bit bytes are not mangled any more */
  F_HINTED = 8,   /* the Ctrl-C hint was shown */
  F_HINT_DUE = 16 /* the Ctrl-C hint goes out once the current sequence is over */
};

static const char kHint[] = "*** Ctrl-C does nothing here: type /quit to leave\r\n";
static const char kAyt[] = "[uvchat: yes, you are connected]\r\n";

/* Appends n reply bytes when they fit; returns 1 if they did. */
static int put(uvc_telnet_out_t* out, const char* p, size_t n) {
  if (out->len + n > sizeof(out->reply)) return 0;
  memcpy(out->reply + out->len, p, n);
  out->len += n;
  return 1;
}

static int put3(uvc_telnet_out_t* out, int verb, int opt) {
  char b[3];
  b[0] = (char)IAC;
  b[1] = (char)verb;
  b[2] = (char)opt;
  return put(out, b, 3);
}

/* Refuses an option once per direction (dir 0: their DO, answered WONT; 1: their WILL,
 * answered DONT). */
static void refuse(uvc_telnet_t* t, uvc_telnet_out_t* out, int dir, int opt) {
  uint8_t bit = (uint8_t)(1u << (opt & 7));
  if (t->refused[dir][opt >> 3] & bit) return;
  if (put3(out, dir == 0 ? WONT : DONT, opt)) t->refused[dir][opt >> 3] |= bit;
}

/* One option request (st is TN_WILL..TN_DONT). */
static void negotiate(uvc_telnet_t* t, uvc_telnet_out_t* out, int st, int opt) {
  switch (st) {
    case TN_DO:
      if (opt == OPT_TIMING_MARK)
        (void)put3(out, WILL, OPT_TIMING_MARK); /* every time: the client waits for it */
      else
        refuse(t, out, 0, opt);
      break;
    case TN_WILL:
      if (opt != OPT_BINARY) {
        refuse(t, out, 1, opt);
      } else if (t->flags & F_BIN_WANT) {
        t->flags = (uint8_t)((t->flags & ~F_BIN_WANT) | F_BIN_ON); /* our DO, agreed */
      } else if (!(t->flags & F_BIN_ON) && put3(out, DO, OPT_BINARY)) {
        t->flags |= F_BIN_ON;
      }
      break;
    case TN_WONT:
      if (opt != OPT_BINARY) break; /* it stays off: nothing to say */
      if (t->flags & F_BIN_WANT)
        t->flags &= (uint8_t)~F_BIN_WANT;
      else if ((t->flags & F_BIN_ON) && put3(out, DONT, OPT_BINARY))
        t->flags &= (uint8_t)~F_BIN_ON;
      break;
    default: /* TN_DONT: every option of ours is off already */
      break;
  }
}

/* 1 when buf[0..o) ends inside a UTF-8 character (a lead byte whose continuation bytes have
 * not all come). */
static int mid_utf8(const char* buf, size_t o) {
  size_t k = 0, need;
  unsigned char lead;
  while (k < 3 && k < o && ((unsigned char)buf[o - 1 - k] & 0xC0) == 0x80)
    k++;
  if (k == o) return 0;
  lead = (unsigned char)buf[o - 1 - k];
  if (lead >= 0xC2 && lead <= 0xDF)
    need = 2;
  else if (lead >= 0xE0 && lead <= 0xEF)
    need = 3;
  else if (lead >= 0xF0 && lead <= 0xF4)
    need = 4;
  else
    return 0;
  return need > k + 1;
}

/* EC: the last character of buf[0..o), unless the line before it is complete. */
static size_t erase_char(const char* buf, size_t o) {
  int k = 0;
  if (o == 0 || buf[o - 1] == '\n') return o;
  o--;
  while (o > 0 && k < 3 && ((unsigned char)buf[o] & 0xC0) == 0x80 && buf[o - 1] != '\n') {
    o--;
    k++;
  }
  return o;
}

/* A two-byte command (IAC c, not an option or SB). Returns the new output length. */
static size_t command(uvc_telnet_t* t, uvc_telnet_out_t* out, char* buf, size_t o, int c) {
  unsigned char ctl;
  switch (c) {
    case IP:
    case BRK:
    case SUSP:
    case AO:
      /* inetutils telnet sends these for a mangled 8-bit byte too (see telnet.h). */
      ctl = c == IP ? 0x03 : c == BRK ? 0x1C : c == SUSP ? 0x1A : 0x0F;
      if (!(t->flags & F_BIN_ON) && mid_utf8(buf, o)) {
        buf[o++] = (char)(0x80 | ctl);
      } else if (c == IP || c == BRK) {
        out->events |= UVC_TELNET_INTERRUPT;
        if (!(t->flags & F_HINTED)) t->flags |= F_HINT_DUE;
      }
      break;
    case AYT:
      if (!(out->events & UVC_TELNET_AYT)) (void)put(out, kAyt, sizeof(kAyt) - 1);
      out->events |= UVC_TELNET_AYT;
      break;
    case EC:
      o = erase_char(buf, o);
      break;
    case EL:
      while (o > 0 && buf[o - 1] != '\n')
        o--;
      break;
    default: /* NOP, DM, GA, SE outside SB, EOR, ABORT, EOF: nothing to do */
      break;
  }
  return o;
}

/* The byte after IAC (outside a subnegotiation). Returns the new output length. */
static size_t after_iac(uvc_telnet_t* t, uvc_telnet_out_t* out, char* buf, size_t o, int c) {
  if (c == IAC) {
    buf[o++] = (char)IAC; /* IAC IAC: a literal 0xFF, which is data, not negotiation */
    t->st = TN_DATA;
    t->held = t->held >= 2 ? t->held - 2 : 0;
    return o;
  }
  if (!(t->flags & F_TELNET)) {
    /* A telnet client, surely: ask it once for 8-bit input. */
    t->flags |= F_TELNET;
    if (put3(out, DO, OPT_BINARY)) t->flags |= F_BIN_WANT;
  }
  if (c >= WILL && c <= DONT) {
    t->st = (uint8_t)(TN_WILL + (c - WILL));
  } else if (c == SB) {
    t->st = TN_SB;
  } else {
    t->st = TN_DATA;
    o = command(t, out, buf, o, c);
  }
  return o;
}

size_t uvc_telnet_filter(uvc_telnet_t** tp, char* buf, size_t len, uvc_telnet_out_t* out) {
  uvc_telnet_t* t = *tp;
  size_t i = 0, o = 0;
  out->len = 0;
  out->events = 0;
  if (t == NULL) {
    const char* p = memchr(buf, 0xFF, len);
    if (p == NULL) return len;
    if ((t = *tp = calloc(1, sizeof(*t))) == NULL) {
      out->events = UVC_TELNET_NOMEM;
      return 0;
    }
    i = o = (size_t)(p - buf);
  }
  while (i < len) {
    unsigned char c;
    if (t->st == TN_DATA) { /* plain bytes up to the next IAC, in one move */
      const char* p = memchr(buf + i, 0xFF, len - i);
      size_t n = p != NULL ? (size_t)(p - (buf + i)) : len - i;
      if (o != i) memmove(buf + o, buf + i, n);
      if (t->held > 0 && memchr(buf + o, '\n', n) != NULL) t->held = 0; /* a line came */
      o += n;
      i += n;
      if (i == len) break;
      t->st = TN_IAC;
      i++;
      if (t->held < UINT32_MAX) t->held++;
      continue;
    }
    c = (unsigned char)buf[i++];
    if (t->held < UINT32_MAX) t->held++;
    switch (t->st) {
      case TN_IAC:
        o = after_iac(t, out, buf, o, c);
        break;
      case TN_WILL:
      case TN_WONT:
      case TN_DO:
      case TN_DONT:
        negotiate(t, out, t->st, c);
        t->st = TN_DATA;
        break;
      case TN_SB: /* its bytes are counted, not kept: no option of ours has any */
        if (c == IAC) t->st = TN_SB_IAC;
        break;
      default: /* TN_SB_IAC */
        if (c == IAC)
          t->st = TN_SB; /* an escaped 0xFF inside the subnegotiation */
        else if (c == SE)
          t->st = TN_DATA;
        else /* IAC and anything else is a command, and it ends the subnegotiation */
          o = after_iac(t, out, buf, o, c);
        break;
    }
  }
  if ((t->flags & F_HINT_DUE) && t->st == TN_DATA && put(out, kHint, sizeof(kHint) - 1))
    t->flags = (uint8_t)((t->flags & ~F_HINT_DUE) | F_HINTED); /* after the TIMING-MARK */
  return o;
}

void uvc_telnet_free(uvc_telnet_t* t) {
  free(t);
}
