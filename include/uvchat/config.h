/* config.h: every setting of the server, its default, the command-line parser and the
 * configuration file.
 *
 * The parser is plain C (no getopt, which Windows lacks) and table-driven: one table lists
 * each flag, its argument, its limits and its help text, so --help and the parser agree.
 * The configuration file (inih's INI format, no sections) sets the same settings under the
 * same names without the leading "--" ("max-clients = 500"); flags override it.
 */
#ifndef UVCHAT_CONFIG_H
#define UVCHAT_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The wire formats a listener can speak (--listen PROTOCOL). */
typedef enum { UVC_PROTO_TEXT = 0, UVC_PROTO_IRC, UVC_PROTO_WEB } uvc_proto_t;
#define UVC_LISTEN_MAX 8

/* One --listen PROTOCOL[+tls]:[ADDRESS:]PORT. */
typedef struct uvc_listen {
  uint8_t proto;     /* uvc_proto_t */
  uint8_t tls;       /* +tls */
  uint8_t from_file; /* set by the configuration file (the flags replace those) */
  int port;
  char host[64]; /* "" for --host's address */
} uvc_listen_t;

/* The name of a protocol ("text", "irc", "web"). */
const char* uvc_proto_name(int proto);

typedef struct uvc_config {
  const char* host;      /* NULL: all interfaces, IPv6 and IPv4 */
  int port;              /* text listener; 0 picks a free port */
  int irc_port;          /* IRC listener; 0 picks a free port; -1: none */
  uint64_t max_line;     /* longest accepted line, in bytes */
  uint64_t sendq;        /* bytes queued for one client before it is dropped */
  uint64_t stall_ms;     /* a congested client that takes nothing this long is dropped */
  uint64_t shutdown_ms;  /* how long queued output may drain at shutdown */
  uint64_t register_ms;  /* an IRC client must register within this (0: no limit) */
  uint64_t line_ms;      /* a started line must be finished within this (0: no limit) */
  uint64_t ping_ms;      /* an IRC client silent this long is pinged, twice this dropped */
  uint64_t idle_ms;      /* any client silent this long is dropped (0: never) */
  uint64_t flood_burst;  /* lines a client may send at once */
  uint64_t flood_rate;   /* lines per second after the burst (0: no flood control) */
  uint64_t max_input;    /* unprocessed input a client may leave with the server */
  uint64_t max_clients;  /* connections in all (0: no limit) */
  uint64_t max_per_addr; /* connections per IPv4 address or IPv6 /64 (0: no limit) */
  const char* motd_file; /* message of the day for IRC clients, or NULL */
  int tls_port;          /* text over TLS; -1: none (opened only with a certificate) */
  int irc_tls_port;      /* IRC over TLS; -1: none (opened only with a certificate) */
  int web_port;          /* the web listener (browser client, /ws, /healthz, /metrics); -1: none */
  const char* tls_cert;  /* PEM certificate (chain) file, or NULL: no TLS listeners */
  const char* tls_key;   /* PEM private key file */
  const char* data_dir;  /* where accounts live (NULL: the platform's state directory) */
  const char* password;  /* the server password every client must give, or NULL */
  int log_level;         /* uvc_log_level_t */
  const char* default_room; /* the room everyone starts in */
  uint64_t announce_limit;  /* rooms bigger than this do not announce comings and goings */

  /* New accounts (see docs/ACCOUNTS.md): per hour, 0 for no limit. */
  uint64_t register_per_addr; /* per IPv4 address or IPv6 /64 */
  uint64_t register_rate;     /* on the whole server */
  /* Account passwords: the shortest and longest accepted (bytes). */
  uint64_t account_password_min;
  uint64_t account_password_max;

  /* History (see docs/HISTORY.md). */
  uint64_t history_size;    /* events kept per room (0: no history at all) */
  uint64_t history_age_ms;  /* events older than this are forgotten (0: kept until pushed out) */
  uint64_t history_private; /* private messages kept per account */
  uint64_t history_join;    /* lines shown to a text user who joins a room */
  uint64_t history_irc;     /* lines shown as NOTICEs to IRC clients without draft/chathistory */

  /* IRC. */
  const char* server_name;   /* how the server calls itself ("uvchat") */
  const char* irc_autojoin;  /* the room IRC clients are joined to on registering, or NULL */
  uint64_t irc_sts_duration; /* seconds IRC clients should keep to TLS (sts), with a TLS port */

  /* Where the settings come from (not settings of the server itself). */
  const char* password_file;   /* a file whose first line is the server password, or NULL */
  const char* config_file;     /* --config: the file in use, or NULL (none found) */
  int check_config;            /* --check-config: validate and exit */
  int hash_password;           /* --hash-password: hash a password from stdin and exit */
  const char* opers;           /* server operators: "NAME HASH" lines (LF-separated), or NULL */
  struct uvc_config_str* strs; /* strings this config owns (read from files): see _free */
  uvc_listen_t listen[UVC_LISTEN_MAX]; /* --listen, in order */
  int n_listen;
  unsigned ports_given;   /* the port shortcuts set explicitly (bit per UVC_PORT_*) */
  const char* web_origin; /* the Origin a WebSocket may come from: NULL same origin, "*" any */
  uint64_t http_ms;       /* an HTTP client must send its request within this */

  /* A cluster of servers on Redis (see docs/CLUSTER.md). */
  const char* cluster;       /* redis://[PASSWORD@]HOST[:PORT][/DB], or NULL: no cluster */
  uint64_t cluster_lease_ms; /* a server or nick claim not renewed this long is gone */
  const char* cluster_name;  /* this server's id in the cluster, or NULL: server-name + random */
} uvc_config_t;

/* Bits of ports_given. */
enum {
  UVC_PORT_TEXT = 1,
  UVC_PORT_IRC = 2,
  UVC_PORT_TLS = 4,
  UVC_PORT_IRC_TLS = 8,
  UVC_PORT_WEB = 16
};

/* Parses "PROTOCOL[+tls]:[ADDRESS:]PORT" (an IPv6 address in brackets). Returns 0, or -1 with
 * the reason in err. */
int uvc_parse_listen(const char* s, uvc_listen_t* out, char* err, size_t errlen);

typedef enum {
  UVC_CONFIG_OK = 0,
  UVC_CONFIG_HELP,    /* --help: print usage, exit 0 */
  UVC_CONFIG_VERSION, /* --version: print version, exit 0 */
  UVC_CONFIG_ERROR    /* err holds a message: print it, exit 2 */
} uvc_config_result_t;

void uvc_config_defaults(uvc_config_t* cfg);

/* Parses argv[1..argc) into cfg (which holds the defaults), reads --password-file and checks
 * the settings that go together; no configuration file is read. Strings in cfg point into
 * argv or into cfg's own strings (free them with uvc_config_free). */
uvc_config_result_t uvc_config_parse(uvc_config_t* cfg, int argc, char** argv, char* err,
                                     size_t errlen);

/* What the server really runs with: the defaults, then the configuration file (--config
 * FILE, else uvc_config_default_path() when that file exists), then the flags over it.
 * Errors in the file read "FILE:LINE: what is wrong". cfg is overwritten. */
uvc_config_result_t uvc_config_load(uvc_config_t* cfg, int argc, char** argv, char* err,
                                    size_t errlen);

/* Reads the settings of the INI file at path into cfg (no finishing checks). Returns 0,
 * UVC_CONFIG_MISSING when the file does not exist, or -1 with "path:LINE: ..." in err. */
#define UVC_CONFIG_MISSING 1
int uvc_config_read_file(uvc_config_t* cfg, const char* path, char* err, size_t errlen);

/* The configuration file read when --config is not given (it need not exist):
 * SYSCONFDIR/uvchat/uvchat.conf on POSIX, %PROGRAMDATA%\uvchat\uvchat.conf on Windows.
 * Writes it to out; returns 0 or -1. */
int uvc_config_default_path(char* out, size_t outlen);

/* Frees (and wipes) the strings cfg owns. cfg's string settings may point into them. */
void uvc_config_free(uvc_config_t* cfg);

/* Calls fn for every setting whose value differs between a and b (each setting once; the
 * server password shown as "(hidden)"). Values are formatted as a configuration file would
 * give them. Returns how many differ. */
typedef void (*uvc_config_change_fn)(void* ud, const char* name, const char* was, const char* now);
int uvc_config_changes(const uvc_config_t* a, const uvc_config_t* b, uvc_config_change_fn fn,
                       void* ud);
/* Sets the setting called name in dst to its value in src (a string is copied into dst's
 * own strings). Returns 0, or -1 for an unknown name. */
int uvc_config_copy_setting(uvc_config_t* dst, const uvc_config_t* src, const char* name);

/* How settings are reloaded on this system besides a change of the file, for help texts. */
#ifdef _WIN32
#define UVC_RELOAD_ALSO ""
#else
#define UVC_RELOAD_ALSO " or on SIGHUP"
#endif

#define UVC_CONFIG_SERVER_NAME_MAX 63   /* characters of --server-name */
#define UVC_CONFIG_PASSWORD_CAP    1024 /* the longest --account-password-max */

/* NULL when name is usable as --server-name (1 to 63 letters, digits, '.' and '-', starting
 * with a letter or digit), else a short reason. */
const char* uvc_config_server_name_problem(const char* name);

/* Writes the usage text, every flag with its default. */
void uvc_config_usage(FILE* out, const char* prog);

/* Parses "1048576", "64K", "1M", "2G" (powers of 1024). Returns 0 or -1. */
int uvc_parse_size(const char* s, uint64_t* out);
/* Parses seconds ("5", "0.25") into milliseconds. Returns 0 or -1. */
int uvc_parse_seconds(const char* s, uint64_t* out_ms);

#endif
