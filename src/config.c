/* config.c: defaults and the table-driven command-line parser. */
#include "uvchat/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/log.h"
#include "uvchat/names.h"

#define MAX_LINE_MIN 64
#define MAX_LINE_MAX (1024 * 1024)

void uvc_config_defaults(uvc_config_t* cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->host = NULL;
  cfg->port = 8080;
  cfg->irc_port = 6667;
  cfg->tls_port = 8443;
  cfg->irc_tls_port = 6697;
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

/* ------------------------------------------------------------------------------------------
 * The option table
 * ---------------------------------------------------------------------------------------- */

typedef enum {
  OPT_STRING,
  OPT_PORT,
  OPT_PORT_OFF, /* a port, or "off" (-1) */
  OPT_SIZE,
  OPT_SECONDS,
  OPT_LEVEL,
  OPT_QUIET,
  OPT_ROOM
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

#define F(field) offsetof(uvc_config_t, field)
static const opt_t kOptions[] = {
    {"host", OPT_STRING, F(host), 0, 0, "ADDR", "address to listen on", "all, IPv6 and IPv4"},
    {"port", OPT_PORT, F(port), 0, 65535, "N", "text (nc/telnet) port; 0 picks a free one", "8080"},
    {"irc-port", OPT_PORT_OFF, F(irc_port), 0, 65535, "N|off",
     "IRC port; 0 picks a free one, off turns IRC off", "6667"},
    {"tls-port", OPT_PORT_OFF, F(tls_port), 0, 65535, "N|off",
     "text over TLS (needs --tls-cert and --tls-key)", "8443"},
    {"irc-tls-port", OPT_PORT_OFF, F(irc_tls_port), 0, 65535, "N|off",
     "IRC over TLS (needs --tls-cert and --tls-key)", "6697"},
    {"tls-cert", OPT_STRING, F(tls_cert), 0, 0, "FILE",
     "PEM certificate (chain) for the TLS ports; SIGHUP reloads it", "none: no TLS"},
    {"tls-key", OPT_STRING, F(tls_key), 0, 0, "FILE", "PEM private key for --tls-cert", "none"},
    {"data-dir", OPT_STRING, F(data_dir), 0, 0, "DIR",
     "where registered accounts are kept (created if missing)",
     "$XDG_STATE_HOME/uvchat or ~/.local/state/uvchat"},
    {"password", OPT_STRING, F(password), 0, 0, "PASSWORD",
     "a password every client must give (IRC: PASS; text: /pass)", "none"},
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
     "how long a line without a newline may run before its sender is dropped",
     "16K"},
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
    {"room", OPT_ROOM, F(default_room), 0, 0, "#NAME", "the room everyone starts in", "#lobby"},
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

static int set_option(uvc_config_t* cfg, const opt_t* o, const char* val, char* err,
                      size_t errlen) {
  char* field = (char*)cfg + o->offset;
  uint64_t v;
  switch (o->kind) {
    case OPT_STRING:
      if (*val == '\0') {
        snprintf(err, errlen, "--%s needs a non-empty value", o->name);
        return -1;
      }
      *(const char**)field = val;
      return 0;
    case OPT_ROOM: {
      const char* problem = uvc_room_problem(val, strlen(val));
      if (problem != NULL) {
        snprintf(err, errlen, "--%s: cannot use '%s' as a room name: %s", o->name, val, problem);
        return -1;
      }
      *(const char**)field = val;
      return 0;
    }
    case OPT_PORT_OFF:
      if (strcmp(val, "off") == 0) {
        *(int*)field = -1;
        return 0;
      }
      /* fall through */
    case OPT_PORT:
    case OPT_SIZE:
      if (uvc_parse_size(val, &v) != 0 ||
          (o->kind != OPT_SIZE && strspn(val, "0123456789") != strlen(val))) {
        snprintf(err, errlen, "--%s: '%s' is not a %s", o->name, val,
                 o->kind == OPT_PORT       ? "port number"
                 : o->kind == OPT_PORT_OFF ? "port number (or off)"
                                           : "size in bytes");
        return -1;
      }
      if (v < o->min || v > o->max) {
        snprintf(err, errlen, "--%s: %s is out of range (%llu to %llu)", o->name, val,
                 (unsigned long long)o->min, (unsigned long long)o->max);
        return -1;
      }
      if (o->kind != OPT_SIZE)
        *(int*)field = (int)v;
      else
        *(uint64_t*)field = v;
      return 0;
    case OPT_SECONDS:
      if (uvc_parse_seconds(val, &v) != 0 || v > o->max) {
        snprintf(err, errlen, "--%s: '%s' is not a number of seconds (0 to %llu)", o->name, val,
                 (unsigned long long)(o->max / 1000));
        return -1;
      }
      *(uint64_t*)field = v;
      return 0;
    case OPT_LEVEL: {
      int level = uvc_log_level_parse(val);
      if (level < 0) {
        snprintf(err, errlen, "--%s: '%s' is not one of debug, info, warn, error, off", o->name,
                 val);
        return -1;
      }
      *(int*)field = level;
      return 0;
    }
    case OPT_QUIET:
      *(int*)field = UVC_LOG_ERROR;
      return 0;
  }
  return -1;
}

uvc_config_result_t uvc_config_parse(uvc_config_t* cfg, int argc, char** argv, char* err,
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
    for (o = kOptions; o->name != NULL; o++)
      if (strlen(o->name) == name_len && strncmp(o->name, name, name_len) == 0) break;
    if (o->name == NULL) {
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
    if (set_option(cfg, o, val, err, errlen) != 0) return UVC_CONFIG_ERROR;
  }
  if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
    snprintf(err, errlen, "--tls-cert and --tls-key go together: give both, or neither");
    return UVC_CONFIG_ERROR;
  }
  return UVC_CONFIG_OK;
}
