/* words.c: splitting a line into words, shared by the text and IRC adapters. */
#include "uvchat/words.h"

static int is_blank(char c) {
  return c == ' ' || c == '\t';
}

int uvc_split_words(const char* s, size_t len, int max, int rest, uvc_slice_t* out) {
  size_t i = 0;
  int n = 0;
  for (;;) {
    size_t start;
    while (i < len && is_blank(s[i]))
      i++;
    if (i == len) return n;
    if (n == max) return max + 1;
    if (rest && n == max - 1) {
      size_t end = len;
      while (end > i && is_blank(s[end - 1]))
        end--;
      out[n].p = s + i;
      out[n].n = end - i;
      return n + 1;
    }
    start = i;
    while (i < len && !is_blank(s[i]))
      i++;
    out[n].p = s + start;
    out[n].n = i - start;
    n++;
  }
}

int uvc_split_quoted(char* s, size_t len, int max, uvc_slice_t* out) {
  size_t i = 0;
  int n = 0;
  for (;;) {
    size_t start, o;
    while (i < len && is_blank(s[i]))
      i++;
    if (i == len) return n;
    if (n == max) return -1;
    if (s[i] != '"') { /* a plain word, taken as it is */
      start = i;
      while (i < len && !is_blank(s[i]))
        i++;
      out[n].p = s + start;
      out[n].n = i - start;
      n++;
      continue;
    }
    start = o = ++i; /* unquoted in place: the text only gets shorter */
    for (;;) {
      if (i == len) return -1; /* no closing quote */
      if (s[i] == '"') break;
      if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\')) i++;
      s[o++] = s[i++];
    }
    i++; /* the closing quote */
    if (i < len && !is_blank(s[i])) return -1;
    out[n].p = s + start;
    out[n].n = o - start;
    n++;
  }
}
