/* config.c: defaults, the table-driven command-line parser, and the configuration file
 * (read with inih) that sets the same table's settings under the flags' names. */
#include "uvchat/config.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "uvchat/clean.h"
#include "uvchat/cluster.h"
#include "uvchat/log.h"
#include "uvchat/names.h"

#ifndef UVCHAT_SYSCONFDIR
#define UVCHAT_SYSCONFDIR "/etc"
#endif
#ifdef _WIN32
#define DEFAULT_CONFIG_HELP "%PROGRAMDATA%\\uvchat\\uvchat.conf, if it exists"
#define DEFAULT_DATA_HELP   "%LOCALAPPDATA%\\uvchat"
#else
#define DEFAULT_CONFIG_HELP UVCHAT_SYSCONFDIR "/uvchat/uvchat.conf, if it exists"
#define DEFAULT_DATA_HELP   "$XDG_STATE_HOME/uvchat or ~/.local/state/uvchat"
#endif
#define SECRET_MAX 1024 /* the longest password a password file may hold */

/* A string a configuration owns: a value read from a file. */
typedef struct uvc_config_str {
  struct uvc_config_str* next;
  size_t len;
  char s[];
} uvc_config_str_t;

static const char* own(uvc_config_t* cfg, const char* s, size_t len) {
  uvc_config_str_t* o = malloc(sizeof(*o) + len + 1);
  if (o == NULL) return NULL;
  memcpy(o->s, s, len);
  o->s[len] = '\0';
  o->len = len;
  o->next = cfg->strs;
  cfg->strs = o;
  return o->s;
}

void uvc_config_free(uvc_config_t* cfg) {
  while (cfg->strs != NULL) {
    uvc_config_str_t* o = cfg->strs;
    cfg->strs = o->next;
    uvc_wipe(o->s, o->len); /* it may have been a password */
    free(o);
  }
}

#define MAX_LINE_MIN 64
#define MAX_LINE_MAX (1024 * 1024)

void uvc_config_defaults(uvc_config_t* cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->host = NULL;
  cfg->port = 8080;
  cfg->irc_port = 6667;
  cfg->tls_port = 8443;
  cfg->irc_tls_port = 6697;
  cfg->web_port = 8081;
  cfg->register_ms = 60000;
  cfg->line_ms = 60000;
  cfg->ping_ms = 120000;
  cfg->idle_ms = 0;
  cfg->flood_burst = 10;
  cfg->flood_rate = 5;
  cfg->max_input = 16 * 1024;
  cfg->max_clients = 10000;
  cfg->max_per_addr = 16;
  cfg->max_line = 4096;
  cfg->sendq = 1024 * 1024;
  cfg->stall_ms = 5000;
  cfg->shutdown_ms = 5000;
  cfg->log_level = UVC_LOG_INFO;
  cfg->default_room = "#lobby";
  cfg->announce_limit = 1000;
  cfg->register_per_addr = 3;
  cfg->register_rate = 100;
  cfg->server_name = "uvchat";
  cfg->irc_autojoin = NULL;
  cfg->irc_sts_duration = 86400;
  cfg->account_password_min = 8;
  cfg->account_password_max = 300;
  cfg->history_size = 1000;
  cfg->history_age_ms = UINT64_C(30) * 86400 * 1000;
  cfg->history_private = 1000;
  cfg->history_join = 20;
  cfg->history_irc = 5;
  cfg->http_ms = 10000;
  cfg->cluster = NULL;
  cfg->cluster_lease_ms = 10000;
  cfg->cluster_name = NULL;
}

const char* uvc_proto_name(int proto) {
  switch (proto) {
    case UVC_PROTO_TEXT:
      return "text";
    case UVC_PROTO_IRC:
      return "irc";
    case UVC_PROTO_WEB:
      return "web";
  }
  return "?";
}

int uvc_parse_listen(const char* s, uvc_listen_t* out, char* err, size_t errlen) {
  const char* colon = strchr(s, ':');
  const char* addr;
  const char* port;
  size_t plen, alen;
  uint64_t v;
  memset(out, 0, sizeof(*out));
  if (colon == NULL) {
    snprintf(err, errlen, "'%s' is not PROTOCOL[+tls]:[ADDRESS:]PORT (for example web:8081)", s);
    return -1;
  }
  plen = (size_t)(colon - s);
  if (plen > 4 && memcmp(colon - 4, "+tls", 4) == 0) {
    out->tls = 1;
    plen -= 4;
  }
  if (plen == 4 && memcmp(s, "text", 4) == 0)
    out->proto = UVC_PROTO_TEXT;
  else if (plen == 3 && memcmp(s, "irc", 3) == 0)
    out->proto = UVC_PROTO_IRC;
  else if (plen == 3 && memcmp(s, "web", 3) == 0)
    out->proto = UVC_PROTO_WEB;
  else {
    snprintf(err, errlen, "'%.*s' is not a protocol: text, irc or web (with +tls for TLS)",
             (int)plen, s);
    return -1;
  }
  addr = colon + 1;
  port = strrchr(addr, ':');
  if (port == NULL) {
    port = addr;
    alen = 0;
  } else {
    alen = (size_t)(port - addr);
    port++;
    if (alen >= 2 && addr[0] == '[' && addr[alen - 1] == ']') { /* [::1] */
      addr++;
      alen -= 2;
    } else if (memchr(addr, ':', alen) != NULL) {
      snprintf(err, errlen, "'%s': write an IPv6 address in brackets ([::1]:8081)", s);
      return -1;
    }
    if (alen == 0 || alen >= sizeof(out->host)) {
      snprintf(err, errlen, "'%s': the address is empty or too long", s);
      return -1;
    }
    memcpy(out->host, addr, alen);
  }
  if (*port == '\0' || strspn(port, "0123456789") != strlen(port) ||
      uvc_parse_size(port, &v) != 0 || v > 65535) {
    snprintf(err, errlen, "'%s': '%s' is not a port number (0 to 65535)", s, port);
    return -1;
  }
  out->port = (int)v;
  return 0;
}

int uvc_parse_size(const char* s, uint64_t* out) {
  char* end;
  unsigned long long v;
  uint64_t mult = 1;
  if (s == NULL || *s < '0' || *s > '9') return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno != 0) return -1;
  switch (*end) {
    case '\0':
      break;
    case 'k':
    case 'K':
      mult = 1024;
      end++;
      break;
    case 'm':
    case 'M':
      mult = 1024 * 1024;
      end++;
      break;
    case 'g':
    case 'G':
      mult = 1024ull * 1024 * 1024;
      end++;
      break;
    default:
      return -1;
  }
  if (*end == 'i' || *end == 'I') end++; /* "KiB" */
  if (*end == 'b' || *end == 'B') end++;
  if (*end != '\0' || v > UINT64_MAX / mult) return -1;
  *out = (uint64_t)v * mult;
  return 0;
}

int uvc_parse_seconds(const char* s, uint64_t* out_ms) {
  char* end;
  double v;
  if (s == NULL || ((*s < '0' || *s > '9') && *s != '.')) return -1;
  errno = 0;
  v = strtod(s, &end);
  if (errno != 0 || *end != '\0' || v < 0 || v > 1e9) return -1;
  *out_ms = (uint64_t)(v * 1000.0 + 0.5);
  return 0;
}

const char* uvc_config_server_name_problem(const char* name) {
  size_t i, n = strlen(name);
  if (n == 0) return "it is empty";
  if (n > UVC_CONFIG_SERVER_NAME_MAX) return "it is longer than 63 characters";
  for (i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '-'))
      return "only letters, digits, '.' and '-' may be used";
  }
  if (name[0] == '.' || name[0] == '-') return "it must start with a letter or a digit";
  return NULL;
}

/* ------------------------------------------------------------------------------------------
 * The option table
 * ---------------------------------------------------------------------------------------- */

typedef enum {
  OPT_STRING,
  OPT_SECRET,      /* a string never logged; setting it drops password-file */
  OPT_SECRET_FILE, /* a file holding the secret; setting it drops the secret given directly */
  OPT_CONFIG,      /* --config: the command line only */
  OPT_CHECK,       /* --check-config: the command line only */
  OPT_PORT,
  OPT_PORT_OFF, /* a port, or "off" (-1) */
  OPT_SIZE,
  OPT_SECONDS,
  OPT_LEVEL,
  OPT_QUIET,
  OPT_ROOM,
  OPT_LISTEN,   /* repeatable: each one adds a listener */
  OPT_ORIGIN,   /* "same", "any" or an origin */
  OPT_ROOM_OFF, /* a room, or "off" (NULL) */
  OPT_SERVER,   /* a server name: letters, digits, '.', '-' */
  OPT_OPER      /* "NAME HASH": each one given adds a server operator */
} opt_kind_t;

typedef struct opt {
  const char* name; /* without the leading "--" */
  opt_kind_t kind;
  size_t offset; /* of the field in uvc_config_t */
  uint64_t min, max;
  const char* arg;  /* the argument's name in --help, NULL for a switch */
  const char* help; /* one line */
  const char* dflt;
} opt_t;

/* Each row is a flag "--NAME" and the configuration file's setting "NAME" (see
 * uvchat.conf(5)); a switch (arg NULL) takes yes/no in the file. */
#define F(field) offsetof(uvc_config_t, field)
static const opt_t kOptions[] = {
    {"config", OPT_CONFIG, F(config_file), 0, 0, "FILE",
     "read the settings from FILE (the flags override them); reloaded when it "
     "changes" UVC_RELOAD_ALSO,
     DEFAULT_CONFIG_HELP},
    {"check-config", OPT_CHECK, F(check_config), 0, 0, NULL,
     "check the configuration file and flags, say what is wrong, exit 0 (valid) or 2", NULL},
    {"hash-password", OPT_CHECK, F(hash_password), 0, 0, NULL,
     "read a password from standard input, print its Argon2id hash for an oper setting, exit",
     NULL},
    {"host", OPT_STRING, F(host), 0, 0, "ADDR", "address to listen on", "all, IPv6 and IPv4"},
    {"port", OPT_PORT, F(port), 0, 65535, "N", "text (nc/telnet) port; 0 picks a free one", "8080"},
    {"irc-port", OPT_PORT_OFF, F(irc_port), 0, 65535, "N|off",
     "IRC port; 0 picks a free one, off turns IRC off", "6667"},
    {"tls-port", OPT_PORT_OFF, F(tls_port), 0, 65535, "N|off",
     "text over TLS (needs --tls-cert and --tls-key)", "8443"},
    {"irc-tls-port", OPT_PORT_OFF, F(irc_tls_port), 0, 65535, "N|off",
     "IRC over TLS (needs --tls-cert and --tls-key)", "6697"},
    {"web-port", OPT_PORT_OFF, F(web_port), 0, 65535, "N|off",
     "web port: the browser client at http://HOST:N/, WebSocket at /ws, /healthz and /metrics "
     "(builds without the web module have none)",
     "8081"},
    {"listen", OPT_LISTEN, F(listen), 0, 0, "PROTO[+tls]:[ADDR:]PORT",
     "listen for PROTO (text, irc, or web: HTTP with the web client, /ws, /healthz and "
     "/metrics) on PORT, over TLS with +tls; repeatable; with it, the port shortcuts above are "
     "opened only when given",
     "none"},
    {"web-origin", OPT_ORIGIN, F(web_origin), 0, 0, "ORIGIN|same|any",
     "where a WebSocket at /ws may be opened from: same (its page on this server), any, or one "
     "origin such as https://chat.example.org",
     "same"},
    {"http-timeout", OPT_SECONDS, F(http_ms), 1, UINT64_C(86400000), "SECONDS",
     "an HTTP client must send each request within this, and is closed when idle that long", "10"},
    {"tls-cert", OPT_STRING, F(tls_cert), 0, 0, "FILE",
     "PEM certificate (chain) for the TLS ports; reloaded when it or the key "
     "changes" UVC_RELOAD_ALSO,
     "none: no TLS"},
    {"tls-key", OPT_STRING, F(tls_key), 0, 0, "FILE", "PEM private key for --tls-cert", "none"},
    {"data-dir", OPT_STRING, F(data_dir), 0, 0, "DIR",
     "where registered accounts are kept (created if missing)", DEFAULT_DATA_HELP},
    {"password", OPT_SECRET, F(password), 0, 0, "PASSWORD",
     "a password every client must give (IRC: PASS; text: /pass); visible in ps: prefer "
     "--password-file",
     "none"},
    {"password-file", OPT_SECRET_FILE, F(password_file), 0, 0, "FILE",
     "read the --password from the first line of FILE", "none"},
    {"max-line", OPT_SIZE, F(max_line), MAX_LINE_MIN, MAX_LINE_MAX, "BYTES",
     "longest line a client may send", "4096"},
    {"sendq", OPT_SIZE, F(sendq), 4096, UINT64_C(1) << 30, "BYTES",
     "output queued for one client before it is dropped (K, M, G suffixes; also one message per "
     "64 bytes of it)",
     "1M"},
    {"stall-timeout", OPT_SECONDS, F(stall_ms), 0, UINT64_C(86400000), "SECONDS",
     "a congested client (over 64K waiting) that takes nothing this long is dropped", "5"},
    {"shutdown-timeout", OPT_SECONDS, F(shutdown_ms), 0, UINT64_C(86400000), "SECONDS",
     "how long queued output may drain when stopping", "5"},
    {"flood-burst", OPT_SIZE, F(flood_burst), 1, 100000, "LINES",
     "lines a client may send at once before it is slowed", "10"},
    {"flood-rate", OPT_SIZE, F(flood_rate), 0, 1000000, "LINES",
     "lines per second a client may send after its burst (0: no flood control)", "5"},
    {"max-input", OPT_SIZE, F(max_input), 1024, UINT64_C(1) << 30, "BYTES",
     "how long a line without a newline may run before its sender is dropped", "16K"},
    {"max-clients", OPT_SIZE, F(max_clients), 0, 10000000, "N", "connections in all (0: no limit)",
     "10000"},
    {"max-per-addr", OPT_SIZE, F(max_per_addr), 0, 10000000, "N",
     "connections from one IPv4 address or IPv6 /64 (0: no limit)", "16"},
    {"register-timeout", OPT_SECONDS, F(register_ms), 0, UINT64_C(86400000), "SECONDS",
     "an IRC client must finish NICK/USER (a TLS client its handshake) within this (0: no "
     "limit)",
     "60"},
    {"line-timeout", OPT_SECONDS, F(line_ms), 0, UINT64_C(86400000), "SECONDS",
     "a client that starts a line must finish it within this (0: no limit)", "60"},
    {"ping-interval", OPT_SECONDS, F(ping_ms), 0, UINT64_C(86400000), "SECONDS",
     "an IRC client silent this long is pinged, and dropped if it does not answer within "
     "as long again (0: never)",
     "120"},
    {"idle-timeout", OPT_SECONDS, F(idle_ms), 0, UINT64_C(86400000), "SECONDS",
     "any client that sends nothing this long is dropped (0: never)", "0"},
    {"motd", OPT_STRING, F(motd_file), 0, 0, "FILE", "message of the day shown to IRC clients",
     "none"},
    {"announce-limit", OPT_SIZE, F(announce_limit), 0, 100000000, "N",
     "rooms with more people than this do not announce arrivals, departures and name "
     "changes (0: always)",
     "1000"},
    {"register-per-addr", OPT_SIZE, F(register_per_addr), 0, 65536, "N",
     "new accounts one IPv4 address or IPv6 /64 may register per hour (0: no limit)", "3"},
    {"register-rate", OPT_SIZE, F(register_rate), 0, 65536, "N",
     "new accounts per hour on the whole server (0: no limit)", "100"},
    {"room", OPT_ROOM, F(default_room), 0, 0, "#NAME", "the room text users start in", "#lobby"},
    {"irc-autojoin", OPT_ROOM_OFF, F(irc_autojoin), 0, 0, "#NAME|off",
     "the room IRC clients are joined to when they register; off: none, they join what they "
     "ask for",
     "off"},
    {"server-name", OPT_SERVER, F(server_name), 0, 0, "NAME",
     "the name the server gives itself to IRC clients (greeting, PONG, WHO, message prefixes)",
     "uvchat"},
    {"irc-sts-duration", OPT_SIZE, F(irc_sts_duration), 0, 31536000, "SECONDS",
     "with an IRC TLS port: how long IRC clients should keep to TLS once told (IRCv3 sts; 0 "
     "withdraws the policy)",
     "86400"},
    {"account-password-min", OPT_SIZE, F(account_password_min), 1, UVC_CONFIG_PASSWORD_CAP, "N",
     "bytes of the shortest password an account may have", "8"},
    {"account-password-max", OPT_SIZE, F(account_password_max), 8, UVC_CONFIG_PASSWORD_CAP, "N",
     "bytes of the longest password an account may have (at most 1024)", "300"},
    {"oper", OPT_OPER, F(opers), 0, 0, "OPERATOR",
     "a server operator: a name, a space and the hash --hash-password printed (once per operator)",
     "none"},
    {"history-size", OPT_SIZE, F(history_size), 0, 1000000, "N",
     "messages each room keeps, with their times and senders, in the data directory (0: no "
     "history)",
     "1000"},
    {"history-age", OPT_SECONDS, F(history_age_ms), 0, UINT64_C(3650) * 86400 * 1000, "SECONDS",
     "messages older than this are forgotten (0: only --history-size bounds them)",
     "2592000, 30 days"},
    {"history-private", OPT_SIZE, F(history_private), 0, 1000000, "N",
     "private messages kept for each registered account, also for when it is offline", "1000"},
    {"history-join", OPT_SIZE, F(history_join), 0, 1000, "N",
     "past messages a text user is shown on joining a room (0: none; /history shows more)", "20"},
    {"history-irc", OPT_SIZE, F(history_irc), 0, 1000, "N",
     "past messages shown as notices to IRC clients without draft/chathistory on joining a "
     "room (0: none)",
     "5"},
    {"cluster", OPT_STRING, F(cluster), 0, 0, "redis://[PASSWORD@]HOST[:PORT][/DB]",
     "be one chat with the other servers using this Redis (HOST: an IP address or localhost; "
     "builds without the cluster module have none)",
     "none: this server alone"},
    {"cluster-lease", OPT_SECONDS, F(cluster_lease_ms), 1000, UINT64_C(3600000), "SECONDS",
     "a server of the cluster, and its nicks, count as gone this long after it stopped "
     "renewing them",
     "10"},
    {"cluster-name", OPT_SERVER, F(cluster_name), 0, 0, "NAME",
     "this server's name in the cluster, unique among its servers",
     "server-name and a random suffix"},
    {"log-level", OPT_LEVEL, F(log_level), 0, 0, "LEVEL", "debug, info, warn, error or off",
     "info"},
    {"quiet", OPT_QUIET, F(log_level), 0, 0, NULL, "log errors only (same as --log-level error)",
     NULL},
    {NULL, OPT_STRING, 0, 0, 0, NULL, NULL, NULL}};
#undef F

void uvc_config_usage(FILE* out, const char* prog) {
  const opt_t* o;
  fprintf(out,
          "usage: %s [OPTIONS]\n"
          "A chat server: connect with nc, telnet or any TCP client and type.\n\n"
          "options:\n",
          prog);
  for (o = kOptions; o->name != NULL; o++) {
    char left[64];
    snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(out, "  %-26s %s", left, o->help);
    if (o->dflt) fprintf(out, " (default: %s)", o->dflt);
    fputc('\n', out);
  }
  fprintf(out, "  %-26s %s\n", "-h, --help", "show this help and exit");
  fprintf(out, "  %-26s %s\n", "-V, --version", "show the version and exit");
}

/* The bit of ports_given for a port setting's field. */
static unsigned port_bit(size_t offset) {
  if (offset == offsetof(uvc_config_t, port)) return UVC_PORT_TEXT;
  if (offset == offsetof(uvc_config_t, irc_port)) return UVC_PORT_IRC;
  if (offset == offsetof(uvc_config_t, tls_port)) return UVC_PORT_TLS;
  if (offset == offsetof(uvc_config_t, irc_tls_port)) return UVC_PORT_IRC_TLS;
  if (offset == offsetof(uvc_config_t, web_port)) return UVC_PORT_WEB;
  return 0;
}

/* Sets one setting. name_pfx is "--" for a flag, "" for a file's setting. A value from a
 * file (copy) is copied into cfg's own strings; a flag's value points into argv. */
static int set_option(uvc_config_t* cfg, const opt_t* o, const char* val, int copy, char* err,
                      size_t errlen) {
  char* field = (char*)cfg + o->offset;
  const char* pfx = copy ? "" : "--";
  uint64_t v;
  switch (o->kind) {
    case OPT_STRING:
    case OPT_SECRET:
    case OPT_SECRET_FILE:
    case OPT_CONFIG:
      if (*val == '\0') {
        snprintf(err, errlen, "%s%s needs a non-empty value", pfx, o->name);
        return -1;
      }
      if (copy && (val = own(cfg, val, strlen(val))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
      }
      *(const char**)field = val;
      /* The password given one way replaces the password given the other way. */
      if (o->kind == OPT_SECRET) cfg->password_file = NULL;
      if (o->kind == OPT_SECRET_FILE) cfg->password = NULL;
      return 0;
    case OPT_SERVER:
      if (uvc_config_server_name_problem(val) != NULL) {
        snprintf(err, errlen, "%s%s: cannot use '%s' as a server name: %s", pfx, o->name, val,
                 uvc_config_server_name_problem(val));
        return -1;
      }
      if (copy && (val = own(cfg, val, strlen(val))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
      }
      *(const char**)field = val;
      return 0;
    case OPT_OPER: { /* appended to the lines given so far */
      const char* sp = strchr(val, ' ');
      const char* old = *(const char**)field;
      size_t nlen = sp ? (size_t)(sp - val) : 0, olen = old ? strlen(old) : 0;
      char* joined;
      const char* hash = sp;
      while (hash != NULL && *hash == ' ')
        hash++;
      if (sp == NULL || !uvc_nick_valid(val, nlen) || strncmp(hash, "$argon2id$", 10) != 0 ||
          strchr(hash, ' ') != NULL || strlen(hash) > 127) {
        snprintf(err, errlen,
                 "%s%s: give a name and the hash uvchat --hash-password printed: %s = NAME "
                 "$argon2id$...",
                 pfx, o->name, o->name);
        return -1;
      }
      joined = malloc(olen + strlen(val) + 2);
      if (joined == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
      }
      if (olen > 0) memcpy(joined, old, olen);
      memcpy(joined + olen, val, nlen);
      joined[olen + nlen] = ' ';
      strcpy(joined + olen + nlen + 1, hash);
      strcat(joined, "\n");
      val = own(cfg, joined, strlen(joined));
      free(joined);
      if (val == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
      }
      *(const char**)field = val;
      return 0;
    }
    case OPT_ROOM_OFF:
      if (strcmp(val, "off") == 0) {
        *(const char**)field = NULL;
        return 0;
      }
      /* fall through */
    case OPT_ROOM: {
      const char* problem = uvc_room_problem(val, strlen(val));
      if (problem != NULL) {
        snprintf(err, errlen, "%s%s: cannot use '%s' as a room name: %s", pfx, o->name, val,
                 problem);
        return -1;
      }
      if (copy && (val = own(cfg, val, strlen(val))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
      }
      *(const char**)field = val;
      return 0;
    }
    case OPT_LISTEN: {
      uvc_listen_t l;
      char why[200];
      int i, k = 0;
      if (uvc_parse_listen(val, &l, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s%s: %s", pfx, o->name, why);
        return -1;
      }
      if (!copy) { /* the flags replace the file's listeners */
        for (i = 0; i < cfg->n_listen; i++)
          if (!cfg->listen[i].from_file) cfg->listen[k++] = cfg->listen[i];
        cfg->n_listen = k;
      }
      if (cfg->n_listen == UVC_LISTEN_MAX) {
        snprintf(err, errlen, "%s%s: at most %d listeners", pfx, o->name, UVC_LISTEN_MAX);
        return -1;
      }
      l.from_file = (uint8_t)(copy != 0);
      cfg->listen[cfg->n_listen++] = l;
      return 0;
    }
    case OPT_ORIGIN:
      if (*val == '\0') {
        snprintf(err, errlen, "%s%s needs a value: same, any or an origin", pfx, o->name);
        return -1;
      }
      if (strcmp(val, "same") == 0) {
        cfg->web_origin = NULL;
        return 0;
      }
      if (strcmp(val, "any") == 0) val = "*";
      if (copy && (val = own(cfg, val, strlen(val))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
      }
      cfg->web_origin = val;
      return 0;
    case OPT_PORT_OFF:
      if (strcmp(val, "off") == 0) {
        *(int*)field = -1;
        cfg->ports_given |= port_bit(o->offset);
        return 0;
      }
      /* fall through */
    case OPT_PORT:
    case OPT_SIZE:
      if (uvc_parse_size(val, &v) != 0 ||
          (o->kind != OPT_SIZE && strspn(val, "0123456789") != strlen(val))) {
        snprintf(err, errlen, "%s%s: '%s' is not a %s", pfx, o->name, val,
                 o->kind == OPT_PORT       ? "port number"
                 : o->kind == OPT_PORT_OFF ? "port number (or off)"
                                           : "size in bytes");
        return -1;
      }
      if (v < o->min || v > o->max) {
        snprintf(err, errlen, "%s%s: %s is out of range (%llu to %llu)", pfx, o->name, val,
                 (unsigned long long)o->min, (unsigned long long)o->max);
        return -1;
      }
      if (o->kind != OPT_SIZE) {
        *(int*)field = (int)v;
        cfg->ports_given |= port_bit(o->offset);
      } else
        *(uint64_t*)field = v;
      return 0;
    case OPT_SECONDS:
      if (uvc_parse_seconds(val, &v) != 0 || v > o->max || v < o->min) {
        snprintf(err, errlen, "%s%s: '%s' is not a number of seconds (%g to %llu)", pfx, o->name,
                 val, (double)o->min / 1000.0, (unsigned long long)(o->max / 1000));
        return -1;
      }
      *(uint64_t*)field = v;
      return 0;
    case OPT_LEVEL: {
      int level = uvc_log_level_parse(val);
      if (level < 0) {
        snprintf(err, errlen, "%s%s: '%s' is not one of debug, info, warn, error, off", pfx,
                 o->name, val);
        return -1;
      }
      *(int*)field = level;
      return 0;
    }
    case OPT_QUIET:
    case OPT_CHECK:
      if (val != NULL && strcmp(val, "yes") != 0 && strcmp(val, "true") != 0 &&
          strcmp(val, "on") != 0 && strcmp(val, "1") != 0) {
        if (strcmp(val, "no") == 0 || strcmp(val, "false") == 0 || strcmp(val, "off") == 0 ||
            strcmp(val, "0") == 0)
          return 0;
        snprintf(err, errlen, "%s%s: '%s' is not yes or no", pfx, o->name, val);
        return -1;
      }
      *(int*)field = o->kind == OPT_QUIET ? UVC_LOG_ERROR : 1;
      return 0;
  }
  return -1;
}

static const opt_t* find_option(const char* name, size_t name_len) {
  const opt_t* o;
  for (o = kOptions; o->name != NULL; o++)
    if (strlen(o->name) == name_len && strncmp(o->name, name, name_len) == 0) return o;
  return NULL;
}

/* The flags alone, over whatever cfg holds. */
static uvc_config_result_t parse_args(uvc_config_t* cfg, int argc, char** argv, char* err,
                                      size_t errlen) {
  int i;
  for (i = 1; i < argc; i++) {
    const char* a = argv[i];
    const char* name;
    const char* val = NULL;
    size_t name_len;
    const opt_t* o;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return UVC_CONFIG_HELP;
    if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) return UVC_CONFIG_VERSION;
    if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
      snprintf(err, errlen, "unexpected argument '%s' (options start with --; see --help)", a);
      return UVC_CONFIG_ERROR;
    }
    name = a + 2;
    name_len = strcspn(name, "=");
    if (name[name_len] == '=') val = name + name_len + 1;
    if ((o = find_option(name, name_len)) == NULL) {
      snprintf(err, errlen, "unknown option '--%.*s' (see --help)", (int)name_len, name);
      return UVC_CONFIG_ERROR;
    }
    if (o->arg == NULL) {
      if (val != NULL) {
        snprintf(err, errlen, "--%s takes no value", o->name);
        return UVC_CONFIG_ERROR;
      }
    } else if (val == NULL) {
      if (i + 1 >= argc) {
        snprintf(err, errlen, "--%s needs a value: --%s %s", o->name, o->name, o->arg);
        return UVC_CONFIG_ERROR;
      }
      val = argv[++i];
    }
    if (set_option(cfg, o, val, 0, err, errlen) != 0) return UVC_CONFIG_ERROR;
  }
  return UVC_CONFIG_OK;
}

/* Reads the first line of the password file into cfg->password. */
static int read_secret_file(uvc_config_t* cfg, char* err, size_t errlen) {
  char buf[SECRET_MAX + 2];
  size_t n;
  FILE* f = fopen(cfg->password_file, "rb");
  if (f == NULL) {
    snprintf(err, errlen, "password-file: cannot read '%s': %s", cfg->password_file,
             strerror(errno));
    return -1;
  }
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  n = strcspn(buf, "\r\n");
  if (n > SECRET_MAX || n == 0) {
    snprintf(err, errlen, "password-file: the first line of '%s' is %s", cfg->password_file,
             n == 0 ? "empty" : "longer than 1024 bytes");
    uvc_wipe(buf, sizeof(buf));
    return -1;
  }
  cfg->password = own(cfg, buf, n);
  uvc_wipe(buf, sizeof(buf));
  if (cfg->password == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}

/* The checks once every source is in: the secret file, settings that go together. */
static uvc_config_result_t finish(uvc_config_t* cfg, char* err, size_t errlen) {
  if (cfg->password_file != NULL && read_secret_file(cfg, err, errlen) != 0)
    return UVC_CONFIG_ERROR;
  if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
    snprintf(err, errlen, "--tls-cert and --tls-key go together: give both, or neither");
    return UVC_CONFIG_ERROR;
  }
  if (cfg->cluster != NULL) {
    uvc_cluster_url_t url;
    char why[400];
#ifndef UVCHAT_WITH_CLUSTER
    snprintf(err, errlen,
             "--cluster: this uvchat was built without the cluster module (it needs hiredis: "
             "Debian/Ubuntu libhiredis-dev, Homebrew hiredis)");
    return UVC_CONFIG_ERROR;
#endif
    if (uvc_cluster_parse_url(cfg->cluster, &url, why, sizeof(why)) != 0) {
      snprintf(err, errlen, "--cluster: %s", why);
      return UVC_CONFIG_ERROR;
    }
  }
  if (cfg->account_password_min > cfg->account_password_max) {
    snprintf(err, errlen,
             "--account-password-min (%llu) is more than --account-password-max (%llu)",
             (unsigned long long)cfg->account_password_min,
             (unsigned long long)cfg->account_password_max);
    return UVC_CONFIG_ERROR;
  }
  return UVC_CONFIG_OK;
}

uvc_config_result_t uvc_config_parse(uvc_config_t* cfg, int argc, char** argv, char* err,
                                     size_t errlen) {
  uvc_config_result_t r = parse_args(cfg, argc, argv, err, errlen);
  return r != UVC_CONFIG_OK ? r : finish(cfg, err, errlen);
}

/* ------------------------------------------------------------------------------------------
 * The configuration file
 * ---------------------------------------------------------------------------------------- */

typedef struct file_read {
  uvc_config_t* cfg;
  FILE* f;
  int line;       /* the line inih is looking at */
  int error_line; /* the first line with an error, or 0 */
  char err[256];
} file_read_t;

/* inih's reader: fgets, counting lines, so that the handler knows where it is. */
static char* read_line(char* str, int num, void* stream) {
  file_read_t* fr = stream;
  char* r = fgets(str, num, fr->f);
  if (r != NULL) fr->line++;
  return r;
}

static int on_setting(void* user, const char* section, const char* name, const char* value) {
  file_read_t* fr = user;
  const opt_t* o;
  if (fr->error_line != 0) return 1; /* the first error is the one reported */
  if (section[0] != '\0') {
    snprintf(fr->err, sizeof(fr->err),
             "[%s]: sections are not used; put every setting before any [section]", section);
  } else if ((o = find_option(name, strlen(name))) == NULL) {
    snprintf(fr->err, sizeof(fr->err), "unknown setting '%s' (the names are the flags' names)",
             name);
  } else if (o->kind == OPT_CONFIG || o->kind == OPT_CHECK) {
    snprintf(fr->err, sizeof(fr->err), "%s can only be given on the command line", name);
  } else if (set_option(fr->cfg, o, value, 1, fr->err, sizeof(fr->err)) == 0) {
    return 1;
  }
  fr->error_line = fr->line;
  return 0;
}

int uvc_config_read_file(uvc_config_t* cfg, const char* path, char* err, size_t errlen) {
  file_read_t fr;
  int r;
  memset(&fr, 0, sizeof(fr));
  fr.cfg = cfg;
  if ((fr.f = fopen(path, "r")) == NULL) {
    if (errno == ENOENT) {
      snprintf(err, errlen, "%s: no such file", path);
      return UVC_CONFIG_MISSING;
    }
    snprintf(err, errlen, "%s: cannot read it: %s", path, strerror(errno));
    return -1;
  }
  r = ini_parse_stream(read_line, &fr, on_setting, &fr);
  fclose(fr.f);
  if (fr.error_line != 0 && (r <= 0 || fr.error_line <= r)) {
    snprintf(err, errlen, "%s:%d: %s", path, fr.error_line, fr.err);
    return -1;
  }
  if (r != 0) {
    snprintf(err, errlen, "%s:%d: %s", path, r,
             r < 0 ? "out of memory" : "not a setting: write NAME = VALUE (see uvchat.conf(5))");
    return -1;
  }
  return 0;
}

int uvc_config_default_path(char* out, size_t outlen) {
#ifdef _WIN32
  char dir[1024];
  size_t n = sizeof(dir);
  if (uv_os_getenv("PROGRAMDATA", dir, &n) != 0) return -1;
  return snprintf(out, outlen, "%s\\uvchat\\uvchat.conf", dir) < (int)outlen ? 0 : -1;
#else
  return snprintf(out, outlen, "%s/uvchat/uvchat.conf", UVCHAT_SYSCONFDIR) < (int)outlen ? 0 : -1;
#endif
}

uvc_config_result_t uvc_config_load(uvc_config_t* cfg, int argc, char** argv, char* err,
                                    size_t errlen) {
  char path[1100];
  const char* given;
  uvc_config_result_t r;
  int fr;
  /* The flags first, alone: --help, --version, --config and errors in them. */
  uvc_config_defaults(cfg);
  if ((r = parse_args(cfg, argc, argv, err, errlen)) != UVC_CONFIG_OK) {
    uvc_config_free(cfg);
    return r;
  }
  given = cfg->config_file; /* a flag's value: it points into argv */
  uvc_config_free(cfg);     /* what the first pass owned (oper lines) */
  uvc_config_defaults(cfg);
  if (given != NULL) {
    fr = uvc_config_read_file(cfg, given, err, errlen);
  } else if (uvc_config_default_path(path, sizeof(path)) == 0) {
    fr = uvc_config_read_file(cfg, path, err, errlen);
    if (fr == 0) cfg->config_file = own(cfg, path, strlen(path));
    if (fr == UVC_CONFIG_MISSING) fr = 0; /* no file is no settings */
  } else {
    fr = 0;
  }
  if (fr != 0) {
    uvc_config_free(cfg);
    return UVC_CONFIG_ERROR;
  }
  /* Then the flags again, over the file. */
  if ((r = parse_args(cfg, argc, argv, err, errlen)) == UVC_CONFIG_OK) r = finish(cfg, err, errlen);
  if (r != UVC_CONFIG_OK) uvc_config_free(cfg);
  return r;
}

/* ------------------------------------------------------------------------------------------
 * Comparing settings (for reload)
 * ---------------------------------------------------------------------------------------- */

/* Writes o's value in cfg as a file would give it. */
static void format_value(const uvc_config_t* cfg, const opt_t* o, char* out, size_t outlen) {
  static const char* const kLevels[] = {"debug", "info", "warn", "error", "off"};
  const char* field = (const char*)cfg + o->offset;
  const char* str;
  int level;
  switch (o->kind) {
    case OPT_SECRET:
      snprintf(out, outlen, "%s", *(const char* const*)field ? "(hidden)" : "none");
      return;
    case OPT_STRING:
    case OPT_SECRET_FILE:
    case OPT_CONFIG:
    case OPT_ROOM:
    case OPT_SERVER:
      str = *(const char* const*)field;
      if (str != NULL && o->offset == offsetof(uvc_config_t, cluster) && strchr(str, '@')) {
        snprintf(out, outlen, "redis://(hidden)%s", strrchr(str, '@')); /* its password */
        return;
      }
      snprintf(out, outlen, "%s", str ? str : "none");
      return;
    case OPT_ROOM_OFF:
      str = *(const char* const*)field;
      snprintf(out, outlen, "%s", str ? str : "off");
      return;
    case OPT_PORT:
    case OPT_PORT_OFF:
      if (*(const int*)field < 0)
        snprintf(out, outlen, "off");
      else
        snprintf(out, outlen, "%d", *(const int*)field);
      return;
    case OPT_SIZE:
      snprintf(out, outlen, "%llu", (unsigned long long)*(const uint64_t*)field);
      return;
    case OPT_SECONDS:
      snprintf(out, outlen, "%g", (double)*(const uint64_t*)field / 1000.0);
      return;
    case OPT_LEVEL:
    case OPT_QUIET:
      level = *(const int*)field;
      snprintf(out, outlen, "%s", level >= 0 && level <= UVC_LOG_OFF ? kLevels[level] : "?");
      return;
    case OPT_CHECK:
      snprintf(out, outlen, "%s", *(const int*)field ? "yes" : "no");
      return;
    case OPT_ORIGIN:
      str = cfg->web_origin;
      snprintf(out, outlen, "%s", str == NULL ? "same" : strcmp(str, "*") == 0 ? "any" : str);
      return;
    case OPT_LISTEN: {
      size_t at = 0;
      int i;
      out[0] = '\0';
      for (i = 0; i < cfg->n_listen && at < outlen; i++) {
        const uvc_listen_t* l = &cfg->listen[i];
        int k = snprintf(out + at, outlen - at, "%s%s%s:%s%s%s%s%d", i ? " " : "",
                         uvc_proto_name(l->proto), l->tls ? "+tls" : "",
                         strchr(l->host, ':') ? "[" : "", l->host, strchr(l->host, ':') ? "]" : "",
                         l->host[0] ? ":" : "", l->port);
        if (k < 0) break;
        at += (size_t)k;
      }
      if (cfg->n_listen == 0) snprintf(out, outlen, "none");
      return;
    }
    case OPT_OPER: { /* the names, not the hashes */
      size_t n = 0;
      str = *(const char* const*)field;
      if (str == NULL) {
        snprintf(out, outlen, "none");
        return;
      }
      out[0] = '\0';
      while (*str != '\0' && n + 2 < outlen) {
        const char* sp = strchr(str, ' ');
        const char* nl = strchr(str, '\n');
        int w;
        if (sp == NULL || nl == NULL) break;
        w = snprintf(out + n, outlen - n, "%s%.*s", n ? " " : "", (int)(sp - str), str);
        if (w < 0 || (size_t)w >= outlen - n) break;
        n += (size_t)w;
        str = nl + 1;
      }
      return;
    }
  }
  out[0] = '\0';
}

/* Whether two lists of listeners are the same (where each came from aside). */
static int same_listen(const uvc_config_t* a, const uvc_config_t* b) {
  int i;
  if (a->n_listen != b->n_listen) return 0;
  for (i = 0; i < a->n_listen; i++) {
    const uvc_listen_t *x = &a->listen[i], *y = &b->listen[i];
    if (x->proto != y->proto || x->tls != y->tls || x->port != y->port ||
        strcmp(x->host, y->host) != 0)
      return 0;
  }
  return 1;
}

static int same_value(const uvc_config_t* a, const uvc_config_t* b, const opt_t* o) {
  const char* fa = (const char*)a + o->offset;
  const char* fb = (const char*)b + o->offset;
  const char *sa, *sb;
  switch (o->kind) {
    case OPT_STRING:
    case OPT_SECRET:
    case OPT_SECRET_FILE:
    case OPT_CONFIG:
    case OPT_ROOM:
    case OPT_ROOM_OFF:
    case OPT_SERVER:
    case OPT_OPER:
      sa = *(const char* const*)fa;
      sb = *(const char* const*)fb;
      return sa == sb || (sa != NULL && sb != NULL && strcmp(sa, sb) == 0);
    case OPT_PORT:
    case OPT_PORT_OFF:
    case OPT_LEVEL:
    case OPT_QUIET:
    case OPT_CHECK:
      return *(const int*)fa == *(const int*)fb;
    case OPT_SIZE:
    case OPT_SECONDS:
      return *(const uint64_t*)fa == *(const uint64_t*)fb;
    case OPT_ORIGIN:
      sa = a->web_origin;
      sb = b->web_origin;
      return sa == sb || (sa != NULL && sb != NULL && strcmp(sa, sb) == 0);
    case OPT_LISTEN:
      return same_listen(a, b);
  }
  return 1;
}

int uvc_config_changes(const uvc_config_t* a, const uvc_config_t* b, uvc_config_change_fn fn,
                       void* ud) {
  const opt_t* o;
  int n = 0;
  for (o = kOptions; o->name != NULL; o++) {
    char was[300], now[300];
    /* --quiet is --log-level's field; --check-config is no setting. */
    if (o->kind == OPT_QUIET || o->kind == OPT_CHECK || same_value(a, b, o)) continue;
    format_value(a, o, was, sizeof(was));
    format_value(b, o, now, sizeof(now));
    fn(ud, o->name, was, now);
    n++;
  }
  return n;
}

int uvc_config_copy_setting(uvc_config_t* dst, const uvc_config_t* src, const char* name) {
  const opt_t* o = find_option(name, strlen(name));
  if (o == NULL) return -1;
  switch (o->kind) {
    case OPT_STRING:
    case OPT_SECRET:
    case OPT_SECRET_FILE:
    case OPT_CONFIG:
    case OPT_ROOM:
    case OPT_ROOM_OFF:
    case OPT_SERVER:
    case OPT_OPER: {
      const char* s = *(const char* const*)((const char*)src + o->offset);
      if (s != NULL && (s = own(dst, s, strlen(s))) == NULL) return -1;
      *(const char**)((char*)dst + o->offset) = s;
      return 0;
    }
    case OPT_PORT:
    case OPT_PORT_OFF:
    case OPT_LEVEL:
    case OPT_QUIET:
    case OPT_CHECK:
      *(int*)((char*)dst + o->offset) = *(const int*)((const char*)src + o->offset);
      return 0;
    case OPT_SIZE:
    case OPT_SECONDS:
      *(uint64_t*)((char*)dst + o->offset) = *(const uint64_t*)((const char*)src + o->offset);
      return 0;
    case OPT_ORIGIN:
      dst->web_origin = src->web_origin;
      if (dst->web_origin != NULL &&
          (dst->web_origin = own(dst, src->web_origin, strlen(src->web_origin))) == NULL)
        return -1;
      return 0;
    case OPT_LISTEN:
      memcpy(dst->listen, src->listen, sizeof(dst->listen));
      dst->n_listen = src->n_listen;
      return 0;
  }
  return -1;
}
