/* fuzz_check.h: what every fuzz target checks of text that reaches another user. */
#ifndef UVCHAT_FUZZ_CHECK_H
#define UVCHAT_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* libFuzzer's entry point, defined by each target. */
int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

/* Whether p[0..n) is UTF-8 (RFC 3629). Written apart from clean.c on purpose: an oracle that
 * shares the code under test cannot catch its faults. */
static inline int fuzz_utf8_ok(const unsigned char* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i], k, need, cp;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF)
      need = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
      need = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
      need = 3, cp = c & 0x07;
    else
      return 0;
    for (k = 1; k <= need; k++) {
      if (i + k >= n || (p[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    i += need + 1;
  }
  return 1;
}

/* Aborts unless s[0..n) is valid UTF-8 without a control character (TAB aside, and the IRC
 * formatting codes when irc is set), DEL, C1 control or bidi override. */
static inline void fuzz_check_clean(const unsigned char* s, size_t n, int irc) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i], k, need, cp;
    if (c < 0x80) {
      int fmt = c == 2 || c == 3 || c == 4 || c == 0x0F || c == 0x11 || c == 0x16 || c == 0x1D ||
                c == 0x1E || c == 0x1F;
      if ((c < 0x20 && c != '\t' && !(irc && fmt)) || c == 0x7F) abort();
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF)
      need = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
      need = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
      need = 3, cp = c & 0x07;
    else
      abort();
    for (k = 1; k <= need; k++) {
      if (i + k >= n || (s[i + k] & 0xC0) != 0x80) abort();
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))) abort();
    if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F)) abort();
    if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)) abort();
    i += need + 1;
  }
}

#endif
