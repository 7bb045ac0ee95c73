/* main.c: uvchat's entry point: reads the configuration file and the command line, starts
 * the server, runs the loop, and turns the outcome into an exit status (0 clean stop,
 * 1 runtime error, 2 usage or configuration error). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef UVCHAT_WITH_ACCOUNTS
#include "uvchat/accounts.h"
#include "uvchat/opers.h"
#include "uvchat/recall.h"
#endif
#include "uvchat/cluster.h"
#ifdef UVCHAT_WITH_REDIS
#include "uvchat/store_redis.h"
#endif
#include "uvchat/config.h"
#include "uvchat/irc.h"
#include "uvchat/log.h"
#include "uvchat/reload.h"
#include "uvchat/server.h"
#include "uvchat/text.h"
#ifdef UVCHAT_WITH_TLS
#include "uvchat/tls.h"
#endif
#include "uvchat/version.h"

static void print_open_handle(uv_handle_t* h, void* arg) {
  (void)arg;
  UVC_ERROR("handle still open at exit: %s", uv_handle_type_name(uv_handle_get_type(h)));
}

#ifdef UVCHAT_WITH_ACCOUNTS
static const char kAccounts[] = "compiled in";
#else
static const char kAccounts[] = "not compiled in";
#endif
#ifdef UVCHAT_WITH_TLS
static const char kTls[] = "compiled in";
#else
static const char kTls[] = "not compiled in";
#endif

/* What a server operator's REHASH and DIE reach. */
typedef struct admin {
  uvc_server_t* srv;
  uvc_reload_t* reload;
} admin_t;

/* REHASH (IRC) or /rehash: the same reload as SIGHUP. */
static void on_rehash(void* ud, const uvc_session_t* by) {
  admin_t* a = ud;
  char why[UVC_NICK_MAX + 16];
  snprintf(why, sizeof(why), "REHASH by %s", by->nick);
  uvc_reload_now(a->reload, why);
}

/* DIE (IRC) or /die: the same graceful stop as SIGTERM (everyone is told, exit 0). */
static void on_die(void* ud, const uvc_session_t* by) {
  admin_t* a = ud;
  UVC_INFO("stopping: DIE by server operator %s (%s)", by->nick,
           uvc_session_oper(by) != NULL ? uvc_session_oper(by) : "?");
  uvc_server_stop(a->srv);
}

/* The listeners: a wire format on a port, in plaintext or over TLS. */
typedef struct listen_spec {
  int proto; /* uvc_proto_t */
  int tls;
  const char* host;
  int port;
} listen_spec_t;

/* The listeners to open: the port shortcuts (all of them with their defaults when no
 * --listen is given; else only those given), then every --listen. Returns how many. */
static int listeners_of(const uvc_config_t* cfg, listen_spec_t* out) {
  int n = 0, i, all = cfg->n_listen == 0;
  struct {
    int port, proto, tls;
    unsigned bit;
  } kShort[5];
  kShort[0].port = cfg->port, kShort[0].proto = UVC_PROTO_TEXT, kShort[0].tls = 0;
  kShort[0].bit = UVC_PORT_TEXT;
  kShort[1].port = cfg->irc_port, kShort[1].proto = UVC_PROTO_IRC, kShort[1].tls = 0;
  kShort[1].bit = UVC_PORT_IRC;
  kShort[2].port = cfg->tls_port, kShort[2].proto = UVC_PROTO_TEXT, kShort[2].tls = 1;
  kShort[2].bit = UVC_PORT_TLS;
  kShort[3].port = cfg->irc_tls_port, kShort[3].proto = UVC_PROTO_IRC, kShort[3].tls = 1;
  kShort[3].bit = UVC_PORT_IRC_TLS;
  kShort[4].port = cfg->web_port, kShort[4].proto = UVC_PROTO_WEB, kShort[4].tls = 0;
  kShort[4].bit = UVC_PORT_WEB;
  for (i = 0; i < 5; i++) {
    if (kShort[i].port < 0 || !(all || (cfg->ports_given & kShort[i].bit))) continue;
    if (kShort[i].tls && cfg->tls_cert == NULL) continue; /* TLS ports open with a certificate */
#ifndef UVCHAT_WITH_WEB
    if (kShort[i].proto == UVC_PROTO_WEB && !(cfg->ports_given & UVC_PORT_WEB)) continue;
#endif
    out[n].proto = kShort[i].proto, out[n].tls = kShort[i].tls;
    out[n].host = cfg->host, out[n].port = kShort[i].port;
    n++;
  }
  for (i = 0; i < cfg->n_listen; i++) {
    const uvc_listen_t* l = &cfg->listen[i];
    out[n].proto = l->proto, out[n].tls = l->tls;
    out[n].host = l->host[0] ? l->host : cfg->host, out[n].port = l->port;
    n++;
  }
  return n;
}

/* Opens one listener; prints "listening on ADDR (label)" for scripts and tests. */
static int open_listener(uvc_server_t* srv, const uvc_config_t* cfg, const listen_spec_t* l) {
  char err[256], bound[64];
  const uvc_adapter_t* adapter = l->proto == UVC_PROTO_IRC ? &uvc_irc_adapter : &uvc_text_adapter;
  int r;
  if (l->tls && cfg->tls_cert == NULL) {
    fprintf(stderr, "uvchat: --listen %s+tls: needs --tls-cert and --tls-key\n",
            uvc_proto_name(l->proto));
    return 1;
  }
  if (l->proto == UVC_PROTO_WEB)
    r = uvc_server_listen_web(srv, l->host, l->port, l->tls, bound, sizeof(bound), err,
                              sizeof(err));
  else
    r = uvc_server_listen(srv, l->host, l->port, adapter, l->tls, bound, sizeof(bound), err,
                          sizeof(err));
  if (r != 0) {
    fprintf(stderr, "uvchat: %s\n", err);
    return 1;
  }
  printf("listening on %s (%s%s)\n", bound, uvc_proto_name(l->proto), l->tls ? "-tls" : "");
  if (l->tls && l->proto == UVC_PROTO_IRC) { /* where IRC's sts policy sends clients */
    const char* colon = strrchr(bound, ':');
    if (colon != NULL) srv->core.irc_tls_port = (uint16_t)atoi(colon + 1);
  }
  return 0;
}

/* Opens the accounts, the TLS context and every listener, printing where each listens.
 * Returns 0, or 1 after printing why it cannot run. */
static int start(uvc_server_t* srv, const uvc_config_t* cfg, void** accounts, void** recall,
                 uvc_reload_t* reload) {
  char err[256];
  listen_spec_t specs[4 + UVC_LISTEN_MAX];
  int i, r, n = listeners_of(cfg, specs);
  (void)accounts;
  (void)recall;
#ifdef UVCHAT_WITH_ACCOUNTS
#ifdef UVCHAT_WITH_REDIS
  if (cfg->cluster != NULL) { /* a cluster's accounts and history are the cluster's: in Redis */
    uvc_store_t* st = NULL;
    if (uvc_store_open_redis_url(&st, srv->loop, cfg->cluster, err, sizeof(err)) != 0) {
      fprintf(stderr, "uvchat: --cluster: cannot open the shared accounts and history: %s\n", err);
      return 1;
    }
    if (uvc_accounts_open_store((uvc_accounts_t**)accounts, srv->loop, &srv->core, st, err,
                                sizeof(err)) != 0) {
      fprintf(stderr, "uvchat: cannot open the accounts: %s\n", err);
      return 1;
    }
  } else
#endif
      if (uvc_accounts_open((uvc_accounts_t**)accounts, srv->loop, &srv->core, cfg->data_dir, err,
                            sizeof(err)) != 0) {
    fprintf(stderr, "uvchat: cannot open the accounts: %s\n", err);
    return 1;
  }
  {
    uvc_accounts_limits_t limits = {(uint32_t)cfg->register_per_addr, (uint32_t)cfg->register_rate,
                                    UVC_ACCOUNTS_WATCH_MS, (uint32_t)cfg->account_password_min,
                                    (uint32_t)cfg->account_password_max};
    uvc_accounts_set_limits(*(uvc_accounts_t**)accounts, &limits);
  }
  UVC_INFO("accounts: %s", uvc_accounts_path(*(uvc_accounts_t**)accounts));
  if (cfg->history_size > 0) {
    uvc_history_limits_t hl;
    memset(&hl, 0, sizeof(hl));
    hl.bounds.count_room = (unsigned)cfg->history_size;
    hl.bounds.count_private = (unsigned)cfg->history_private;
    hl.bounds.max_age_ms = (int64_t)cfg->history_age_ms;
    if (uvc_recall_open((uvc_recall_t**)recall, srv->loop, &srv->core,
                        uvc_accounts_store(*(uvc_accounts_t**)accounts), &hl) != 0) {
      fprintf(stderr, "uvchat: cannot start the history: out of memory\n");
      return 1;
    }
    UVC_INFO("history: %u messages per room, %u private per account", (unsigned)cfg->history_size,
             (unsigned)cfg->history_private);
  }
#else
  if (cfg->data_dir != NULL)
    UVC_WARN(
        "--data-dir: accounts are not compiled into this build (they need SQLite and "
        "libsodium)");
#endif
  if (cfg->tls_cert != NULL && (r = uvc_server_tls_init(srv, err, sizeof(err))) != 0) {
    fprintf(stderr, "uvchat: %s\n", err);
    return 1;
  }
#ifdef UVCHAT_WITH_CLUSTER
  if (cfg->cluster != NULL) {
    uvc_cluster_options_t co;
    co.url = cfg->cluster;
    co.lease_ms = cfg->cluster_lease_ms;
    co.name = cfg->cluster_name;
    co.server_name = cfg->server_name;
    if (uvc_cluster_open(&srv->cluster, srv->loop, &srv->core, &co, err, sizeof(err)) != 0) {
      fprintf(stderr, "uvchat: --cluster: %s\n", err);
      return 1;
    }
  }
#endif
  /* Files and signals are watched before a port is announced: a script that reads the port
   * and changes the configuration at once must get a reload. */
  (void)uvc_reload_watch(reload); /* a warning says why when it cannot */
  /* Signals are watched before a port is announced: a script that reads the port and
   * stops the server at once must get a clean stop. */
  if ((r = uvc_server_start(srv)) != 0) {
    fprintf(stderr, "uvchat: cannot watch for signals: %s\n", uv_strerror(r));
    return 1;
  }
  for (i = 0; i < n; i++)
    if (open_listener(srv, cfg, &specs[i]) != 0) return 1;
  fflush(stdout);
  return 0;
}

/* --check-config: everything start would read, without listening. Returns the exit status. */
static int check_config(const uvc_config_t* cfg) {
  char err[512];
  char* motd = NULL;
  if (cfg->motd_file != NULL && (motd = uvc_read_motd(cfg->motd_file, err, sizeof(err))) == NULL) {
    fprintf(stderr, "uvchat: %s\n", err);
    return 2;
  }
  free(motd);
  if (cfg->tls_cert != NULL) {
#ifdef UVCHAT_WITH_TLS
    struct uvc_tls_ctx* tls = uvc_tls_ctx_new(cfg->tls_cert, cfg->tls_key, err, sizeof(err));
    if (tls == NULL) {
      fprintf(stderr, "uvchat: %s\n", err);
      return 2;
    }
    uvc_tls_ctx_free(tls);
#else
    fprintf(stderr, "uvchat: tls-cert: TLS is not compiled into this build\n");
    return 2;
#endif
  }
  if (cfg->config_file != NULL)
    printf("uvchat: %s: the configuration is valid\n", cfg->config_file);
  else
    printf("uvchat: no configuration file; the flags are valid\n");
  return 0;
}

int main(int argc, char** argv) {
  uvc_config_t cfg;
  char err[512];
  uv_loop_t loop;
  uvc_server_t* srv;
  uvc_reload_t* reload;
  char* motd = NULL;
  void* accounts = NULL;
  void* recall = NULL;
  void* opers = NULL;
  admin_t admin;
  int r, status;

  switch (uvc_config_load(&cfg, argc, argv, err, sizeof(err))) {
    case UVC_CONFIG_HELP:
      uvc_config_usage(stdout, "uvchat");
      return 0;
    case UVC_CONFIG_VERSION:
      printf("uvchat %s (libuv %s)\n", UVCHAT_VERSION, uv_version_string());
      return 0;
    case UVC_CONFIG_ERROR:
      fprintf(stderr, "uvchat: %s\nTry 'uvchat --help' for the options.\n", err);
      return 2;
    case UVC_CONFIG_OK:
      break;
  }
  if (cfg.check_config) {
    status = check_config(&cfg);
    uvc_config_free(&cfg);
    return status;
  }
  if (cfg.hash_password) {
    uvc_config_free(&cfg);
#ifdef UVCHAT_WITH_ACCOUNTS
    return uvc_opers_hash_stdin(stdin, stdout, stderr);
#else
    fprintf(stderr,
            "uvchat: --hash-password: accounts are not compiled into this build (it needs "
            "libsodium); server operators are not available\n");
    return 2;
#endif
  }
#ifdef SIGPIPE
  signal(SIGPIPE, SIG_IGN); /* a peer that vanished is an EPIPE, not a dead server */
#endif
  uvc_log_set_level(cfg.log_level);
  if (cfg.motd_file != NULL && (motd = uvc_read_motd(cfg.motd_file, err, sizeof(err))) == NULL) {
    fprintf(stderr, "uvchat: %s\n", err);
    uvc_config_free(&cfg);
    return 2;
  }
#ifndef UVCHAT_WITH_TLS
  if (cfg.tls_cert != NULL) {
    fprintf(stderr,
            "uvchat: --tls-cert: TLS is not compiled into this build (it needs "
            "OpenSSL 3)\n");
    free(motd);
    uvc_config_free(&cfg);
    return 2;
  }
#endif

  if ((r = uv_loop_init(&loop)) != 0) {
    fprintf(stderr, "uvchat: cannot start the event loop: %s\n", uv_strerror(r));
    free(motd);
    uvc_config_free(&cfg);
    return 1;
  }
  srv = malloc(sizeof(*srv));
  if (srv == NULL || uvc_server_init(srv, &loop, &cfg) != 0 ||
      (reload = uvc_reload_new(srv, argc, argv, &cfg, motd)) == NULL) {
    fprintf(stderr, "uvchat: out of memory\n");
    return 1;
  }
  /* From here on the reloader owns cfg's strings and the MOTD. */
  srv->core.motd = motd; /* uvc_server_init leaves it unset */
  srv->core.password = cfg.password;
  srv->core.oper_lines = cfg.opers;
  admin.srv = srv;
  admin.reload = reload;
  srv->core.on_rehash = on_rehash;
  srv->core.on_die = on_die;
  srv->core.admin_ud = &admin;
#ifdef UVCHAT_WITH_ACCOUNTS
  if ((opers = uvc_opers_new(&loop, &srv->core)) == NULL) {
    fprintf(stderr, "uvchat: out of memory\n");
    return 1;
  }
#else
  if (cfg.opers != NULL)
    UVC_WARN("oper: server operators need libsodium, which is not compiled into this build");
#endif
  UVC_INFO("uvchat %s: accounts %s, TLS %s", UVCHAT_VERSION, kAccounts, kTls);
  if (cfg.config_file != NULL) UVC_INFO("configuration: %s", cfg.config_file);

  if (start(srv, &cfg, &accounts, &recall, reload) != 0) {
    srv->exit_code = 1;
    uvc_server_stop(srv);
  } else {
    uvc_notify("READY=1");
  }

  uv_run(&loop, UV_RUN_DEFAULT);
  uvc_reload_close(reload);
  uv_run(&loop, UV_RUN_DEFAULT); /* the watchers' close callbacks */

#ifdef UVCHAT_WITH_ACCOUNTS
  if (recall != NULL) { /* a clean stop writes every event still waiting */
    uvc_history_stats_t hs;
    uvc_recall_stats((uvc_recall_t*)recall, &hs);
    uvc_recall_close((uvc_recall_t*)recall);
    uv_run(&loop, UV_RUN_DEFAULT); /* until the store has it */
    UVC_INFO("history: %llu events kept this run, %llu dropped", (unsigned long long)hs.added,
             (unsigned long long)hs.dropped);
  }
  uvc_accounts_close((uvc_accounts_t*)accounts);
  uv_run(&loop, UV_RUN_DEFAULT); /* a store that closes on the loop (Redis: its connection) */
  uvc_hist_batch_release();      /* the batches kept for reuse */
  uvc_opers_free((uvc_opers_t*)opers);
#endif
  (void)opers;
  status = srv->exit_code;
#ifdef UVCHAT_WITH_CLUSTER
  uvc_cluster_free(srv->cluster); /* its handles closed with the loop's run */
  srv->cluster = NULL;
#endif
  uvc_server_free(srv);
  free(srv);
  uvc_reload_free(reload);
  if ((r = uv_loop_close(&loop)) != 0) {
    uv_walk(&loop, print_open_handle, NULL);
    UVC_ERROR("the event loop did not close cleanly: %s", uv_strerror(r));
    status = 1;
  } else if (status == 0) {
    UVC_INFO("stopped cleanly");
  }
  return status;
}
