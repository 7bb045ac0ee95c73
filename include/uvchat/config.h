/* config.h: every setting of the server, its default, and the command-line parser.
 *
 * The parser is plain C (no getopt, which Windows lacks) and table-driven: one table lists
 * each flag, its argument, its limits and its help text, so --help and the parser agree.
 */
#ifndef UVCHAT_CONFIG_H
#define UVCHAT_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct uvc_config {
  const char* host;         /* NULL: all interfaces, IPv6 and IPv4 */
  int port;                 /* text listener; 0 picks a free port */
  int irc_port;             /* IRC listener; 0 picks a free port; -1: none */
  uint64_t max_line;        /* longest accepted line, in bytes */
  uint64_t sendq;           /* bytes queued for one client before it is dropped */
  uint64_t stall_ms;        /* a congested client that takes nothing this long is dropped */
  uint64_t shutdown_ms;     /* how long queued output may drain at shutdown */
  uint64_t register_ms;     /* an IRC client must register within this (0: no limit) */
  uint64_t line_ms;         /* a started line must be finished within this (0: no limit) */
  uint64_t ping_ms;         /* an IRC client silent this long is pinged, twice this dropped */
  uint64_t idle_ms;         /* any client silent this long is dropped (0: never) */
  uint64_t flood_burst;     /* lines a client may send at once */
  uint64_t flood_rate;      /* lines per second after the burst (0: no flood control) */
  uint64_t max_input;       /* unprocessed input a client may leave with the server */
  uint64_t max_clients;     /* connections in all (0: no limit) */
  uint64_t max_per_addr;    /* connections per IPv4 address or IPv6 /64 (0: no limit) */
  const char* motd_file;    /* message of the day for IRC clients, or NULL */
  int tls_port;             /* text over TLS; -1: none (opened only with a certificate) */
  int irc_tls_port;         /* IRC over TLS; -1: none (opened only with a certificate) */
  const char* tls_cert;     /* PEM certificate (chain) file, or NULL: no TLS listeners */
  const char* tls_key;      /* PEM private key file */
  const char* data_dir;     /* where accounts live (NULL: the platform's state directory) */
  const char* password;     /* the server password every client must give, or NULL */
  int log_level;            /* uvc_log_level_t */
  const char* default_room; /* the room everyone starts in */
  uint64_t announce_limit;  /* rooms bigger than this do not announce comings and goings */

  /* New accounts (see docs/ACCOUNTS.md): per hour, 0 for no limit. */
  uint64_t register_per_addr; /* per IPv4 address or IPv6 /64 */
  uint64_t register_rate;     /* on the whole server */
} uvc_config_t;

typedef enum {
  UVC_CONFIG_OK = 0,
  UVC_CONFIG_HELP,    /* --help: print usage, exit 0 */
  UVC_CONFIG_VERSION, /* --version: print version, exit 0 */
  UVC_CONFIG_ERROR    /* err holds a message: print it, exit 2 */
} uvc_config_result_t;

void uvc_config_defaults(uvc_config_t* cfg);

/* Parses argv[1..argc) into cfg (which holds the defaults). Strings in cfg point into argv. */
uvc_config_result_t uvc_config_parse(uvc_config_t* cfg, int argc, char** argv, char* err,
                                     size_t errlen);

/* Writes the usage text, every flag with its default. */
void uvc_config_usage(FILE* out, const char* prog);

/* Parses "1048576", "64K", "1M", "2G" (powers of 1024). Returns 0 or -1. */
int uvc_parse_size(const char* s, uint64_t* out);
/* Parses seconds ("5", "0.25") into milliseconds. Returns 0 or -1. */
int uvc_parse_seconds(const char* s, uint64_t* out_ms);

#endif
