/* clean.c: turns untrusted bytes into UTF-8 text that cannot steer a terminal. */
#include "uvchat/clean.h"

#include <stdint.h>
#include <string.h>

static const char kReplacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD}; /* U+FFFD */

static int is_irc_format(unsigned char c) {
  switch (c) {
    case 0x02: /* bold */
    case 0x03: /* colour */
    case 0x04: /* hex colour */
    case 0x0F: /* reset */
    case 0x11: /* monospace */
    case 0x16: /* reverse */
    case 0x1D: /* italics */
    case 0x1E: /* strikethrough */
    case 0x1F: /* underline */
      return 1;
    default:
      return 0;
  }
}

static int is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Skips up to max bytes that pass ok() from in[i]; returns the index after them. */
static size_t skip_run(const unsigned char* in, size_t len, size_t i, size_t max,
                       int (*ok)(unsigned char)) {
  size_t end = i + max < len ? i + max : len;
  while (i < end && ok(in[i]))
    i++;
  return i;
}

/* Skips the IRC formatting code at in[i] with its arguments; returns the index after it.
 * Colour is ^C and up to two digits of foreground, then a comma and up to two digits of
 * background; hex colour is ^D and six hex digits, then a comma and six more. A comma that
 * no digit follows is text, not part of the code (as the modern IRC formatting spec says). */
static size_t skip_irc_format(const unsigned char* in, size_t len, size_t i) {
  unsigned char c = in[i++];
  size_t n = c == 0x03 ? 2 : 6;
  int (*ok)(unsigned char) = c == 0x03 ? is_digit : is_hex;
  size_t j;
  if (c != 0x03 && c != 0x04) return i;
  j = skip_run(in, len, i, n, ok);
  if (j == i || (c == 0x04 && j - i != n)) return i; /* a bare code resets the colours */
  if (j + 1 < len && in[j] == ',' && ok(in[j + 1])) {
    size_t k = skip_run(in, len, j + 1, n, ok);
    if (c == 0x03 || k - (j + 1) == n) j = k;
  }
  return j;
}

/* Skips the parameter, intermediate and final bytes of a CSI sequence starting at in[i];
 * returns the index after it. A byte that cannot belong to the sequence ends it unconsumed. */
static size_t skip_csi(const unsigned char* in, size_t len, size_t i) {
  while (i < len && in[i] >= 0x30 && in[i] <= 0x3F)
    i++; /* parameters */
  while (i < len && in[i] >= 0x20 && in[i] <= 0x2F)
    i++;                                              /* intermediates */
  if (i < len && in[i] >= 0x40 && in[i] <= 0x7E) i++; /* final */
  return i;
}

/* Skips a control string (OSC, DCS, SOS, PM, APC) up to and including its terminator: BEL,
 * ESC \ or the C1 ST (U+009C); an unterminated string runs to the end of the line. */
static size_t skip_string(const unsigned char* in, size_t len, size_t i) {
  while (i < len) {
    if (in[i] == 0x07) return i + 1;
    if (in[i] == 0x1B && i + 1 < len && in[i + 1] == '\\') return i + 2;
    if (in[i] == 0xC2 && i + 1 < len && in[i + 1] == 0x9C) return i + 2;
    i++;
  }
  return i;
}

/* Skips an escape sequence whose ESC is at in[i]; returns the index after it. */
static size_t skip_escape(const unsigned char* in, size_t len, size_t i) {
  unsigned char c;
  i++; /* ESC */
  if (i >= len) return i;
  c = in[i];
  if (c == '[') return skip_csi(in, len, i + 1);
  if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') return skip_string(in, len, i + 1);
  if (c >= 0x20 && c <= 0x2F) { /* ESC ( B and friends: intermediates, then a final byte */
    while (i < len && in[i] >= 0x20 && in[i] <= 0x2F)
      i++;
    if (i < len && in[i] >= 0x30 && in[i] <= 0x7E) i++;
    return i;
  }
  if (c >= 0x30 && c <= 0x7E) return i + 1; /* two-byte sequences: ESC c, ESC 7, ESC M ... */
  return i;                                 /* ESC alone */
}

/* Length of the valid UTF-8 sequence at in[i] (2 to 4), or, when it is invalid, the negated
 * length of its maximal invalid subpart (-1 to -3), per Unicode's U+FFFD substitution rule. */
static int utf8_seq(const unsigned char* in, size_t len, size_t i) {
  unsigned char c = in[i];
  unsigned char lo = 0x80, hi = 0xBF;
  int need, k;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0; /* no overlongs */
    if (c == 0xED) hi = 0x9F; /* no surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90; /* no overlongs */
    if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
  } else {
    return -1;
  }
  for (k = 1; k <= need; k++) {
    unsigned char b;
    if (i + (size_t)k >= len) return -k;
    b = in[i + (size_t)k];
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return -k;
  }
  return need + 1;
}

static uint32_t utf8_decode(const unsigned char* p, int n) {
  switch (n) {
    case 2:
      return ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3:
      return ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    default:
      return ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
             ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
  }
}

/* Code points that are valid but must not pass: C1 controls, bidi embeddings, overrides and
 * isolates (they reorder the text after them), and the Unicode line and paragraph separators. */
static int is_unsafe_cp(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
}

size_t uvc_clean_text(const char* text, size_t len, char* out, unsigned flags) {
  const unsigned char* in = (const unsigned char*)text;
  size_t i = 0, o = 0;
  while (i < len) {
    unsigned char c = in[i];
    if (c < 0x80) {
      if (c >= 0x20 && c != 0x7F) {
        /* Fast path: a run of printable ASCII. */
        size_t j = i + 1;
        while (j < len && in[j] >= 0x20 && in[j] < 0x7F)
          j++;
        memcpy(out + o, in + i, j - i);
        o += j - i;
        i = j;
      } else if (c == 0x1B) {
        i = skip_escape(in, len, i);
      } else if (is_irc_format(c) && !(flags & UVC_CLEAN_KEEP_IRC_FORMAT)) {
        i = skip_irc_format(in, len, i); /* with its colour digits: text users see none */
      } else {
        if (c == '\t' || is_irc_format(c)) out[o++] = (char)c;
        i++;
      }
      continue;
    }
    {
      int n = utf8_seq(in, len, i);
      if (n < 0) {
        memcpy(out + o, kReplacement, 3);
        o += 3;
        i += (size_t)(-n);
        continue;
      }
      {
        uint32_t cp = utf8_decode(in + i, n);
        if (cp == 0x9B) {
          i = skip_csi(in, len, i + 2);
        } else if (cp == 0x9D || cp == 0x90 || cp == 0x98 || cp == 0x9E || cp == 0x9F) {
          i = skip_string(in, len, i + 2);
        } else if (is_unsafe_cp(cp)) {
          i += (size_t)n;
        } else {
          memcpy(out + o, in + i, (size_t)n);
          o += (size_t)n;
          i += (size_t)n;
        }
      }
    }
  }
  return o;
}

/* memset through a volatile pointer: the call cannot be proven dead, so it stays. */
static void* (*const volatile g_memset)(void*, int, size_t) = memset;

void uvc_wipe(void* p, size_t n) {
  if (p != NULL && n > 0) g_memset(p, 0, n);
}

int uvc_text_is_blank(const char* s, size_t len) {
  size_t i;
  for (i = 0; i < len; i++)
    if (s[i] != ' ' && s[i] != '\t') return 0;
  return 1;
}

int uvc_utf8_valid(const char* text, size_t len) {
  const unsigned char* in = (const unsigned char*)text;
  size_t i = 0;
  while (i < len) {
    int n;
    if (in[i] < 0x80) {
      i++;
      continue;
    }
    if ((n = utf8_seq(in, len, i)) < 0) return 0;
    i += (size_t)n;
  }
  return 1;
}

size_t uvc_utf8_cut(const char* s, size_t len, size_t max) {
  size_t k;
  if (len <= max) return len;
  k = max;
  while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
    k--;
  return k;
}
