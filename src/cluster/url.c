/* url.c: the --cluster URL, redis://[PASSWORD@]HOST[:PORT][/DB], parsed without resolving
 * anything (an address literal or localhost), so that connecting never blocks on DNS. */
#include <stdio.h>
#include <string.h>

#include "uvchat/cluster.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* A decimal number of digits[0..n) no larger than max, or -1. */
static long number(const char* digits, size_t n, long max) {
  long v = 0;
  size_t i;
  if (n == 0 || n > 10) return -1;
  for (i = 0; i < n; i++) {
    if (digits[i] < '0' || digits[i] > '9') return -1;
    v = v * 10 + (digits[i] - '0');
    if (v > max) return -1;
  }
  return v;
}

/* Whether s[0..n) is a dotted IPv4 address. */
static int ipv4_literal(const char* s, size_t n) {
  size_t i = 0;
  int parts = 0;
  while (i < n) {
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (number(s + start, i - start, 255) < 0 || i - start > 3) return 0;
    parts++;
    if (i < n) {
      if (s[i] != '.' || parts == 4) return 0;
      i++;
      if (i == n) return 0;
    }
  }
  return parts == 4;
}

/* Whether s[0..n) can be an IPv6 address (hex digits, ':' and '.', with a "::" or 7 colons);
 * hiredis' getaddrinfo on it, with AI_NUMERICHOST semantics, does the rest. */
static int ipv6_literal(const char* s, size_t n) {
  size_t i, colons = 0;
  if (n < 2) return 0;
  for (i = 0; i < n; i++) {
    if (s[i] == ':')
      colons++;
    else if (hexval(s[i]) < 0 && s[i] != '.')
      return 0;
  }
  return colons >= 2 && colons <= 7;
}

int uvc_cluster_parse_url(const char* s, uvc_cluster_url_t* out, char* err, size_t errlen) {
  const char *p, *at, *host, *host_end, *end;
  size_t hlen;
  memset(out, 0, sizeof(*out));
  out->port = 6379;
  if (strncmp(s, "rediss://", 9) == 0) {
    snprintf(err, errlen,
             "'%s': rediss:// (Redis over TLS) is not supported: this build's hiredis has no "
             "TLS; use redis:// on a trusted network or a TLS tunnel",
             s);
    return -1;
  }
  if (strncmp(s, "redis://", 8) != 0) {
    snprintf(err, errlen, "'%s': give redis://[PASSWORD@]HOST[:PORT][/DB]", s);
    return -1;
  }
  p = s + 8;
  end = p + strlen(p);
  at = strrchr(p, '@');
  if (at != NULL) { /* PASSWORD@, or :PASSWORD@ (an empty user name) */
    const char* q = p;
    size_t n = 0;
    if (*q == ':') q++;
    for (; q < at; q++) {
      char c = *q;
      if (c == '%') {
        int hi = q + 2 < at ? hexval(q[1]) : -1, lo = hi >= 0 ? hexval(q[2]) : -1;
        if (lo < 0) {
          snprintf(err, errlen, "'%s': a bad %%XX escape in the password", s);
          return -1;
        }
        c = (char)(hi * 16 + lo);
        q += 2;
      }
      if (c == '\0' || n == UVC_CLUSTER_PASS_MAX) {
        snprintf(err, errlen, "'%s': the password is too long or holds a NUL", s);
        return -1;
      }
      out->password[n++] = c;
    }
    out->password[n] = '\0';
    if (n == 0) {
      snprintf(err, errlen, "'%s': the password before '@' is empty", s);
      return -1;
    }
    p = at + 1;
  }
  if (*p == '[') { /* [IPv6] */
    host = p + 1;
    host_end = strchr(host, ']');
    if (host_end == NULL) {
      snprintf(err, errlen, "'%s': an IPv6 address needs its closing ']'", s);
      return -1;
    }
    p = host_end + 1;
    out->ipv6 = 1;
  } else {
    host = p;
    host_end = p + strcspn(p, ":/");
    p = host_end;
  }
  hlen = (size_t)(host_end - host);
  if (hlen == 0) {
    snprintf(err, errlen, "'%s': the host is missing", s);
    return -1;
  }
  if (out->ipv6 ? !ipv6_literal(host, hlen) : hlen == 9 && memcmp(host, "localhost", 9) == 0) {
    if (out->ipv6) {
      snprintf(err, errlen, "'%s': '%.*s' is not an IPv6 address", s, (int)hlen, host);
      return -1;
    }
    strcpy(out->host, "127.0.0.1");
  } else if (!out->ipv6 && !ipv4_literal(host, hlen)) {
    snprintf(err, errlen,
             "'%s': '%.*s' is not an IP address: give an address or localhost (host names are "
             "not resolved, so that connecting never waits for DNS)",
             s, (int)hlen, host);
    return -1;
  } else {
    if (hlen > UVC_CLUSTER_HOST_MAX) {
      snprintf(err, errlen, "'%s': the host is too long", s);
      return -1;
    }
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
  }
  if (*p == ':') {
    const char* port = p + 1;
    size_t n = strcspn(port, "/");
    long v = number(port, n, 65535);
    if (v < 1) {
      snprintf(err, errlen, "'%s': '%.*s' is not a port number (1 to 65535)", s, (int)n, port);
      return -1;
    }
    out->port = (int)v;
    p = port + n;
  }
  if (*p == '/') {
    long v;
    p++;
    v = *p == '\0' ? 0 : number(p, (size_t)(end - p), 65535);
    if (v < 0) {
      snprintf(err, errlen, "'%s': '%s' is not a database number", s, p);
      return -1;
    }
    out->db = (int)v;
    p = end;
  }
  if (*p != '\0') {
    snprintf(err, errlen, "'%s': unexpected '%s'", s, p);
    return -1;
  }
  return 0;
}
