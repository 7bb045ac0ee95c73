/* reload.c: re-reading the settings while the server runs (SIGHUP, a changed file), applying
 * what can change live, and saying in the log what changed and what needs a restart. */
#include "uvchat/reload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvchat/log.h"
#ifdef UVCHAT_WITH_ACCOUNTS
#include "uvchat/accounts.h"
#endif

#ifdef UVCHAT_WITH_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#define MOTD_MAX     (64 * 1024)
#define SETTLE_MS    100 /* a burst of file events (an editor saving) is one reload */
#define MAX_WATCHED  3   /* the configuration file, the certificate, the key */
#define PATH_MAX_LEN 1024

/* One watched directory and the names in it that matter. */
typedef struct watcher {
  uv_fs_event_t h;
  uvc_reload_t* r;
  char dir[PATH_MAX_LEN];
} watcher_t;

struct uvc_reload {
  uvc_server_t* srv;
  int argc;
  char** argv;
  uvc_config_t first; /* the settings at start: their strings live until the end */
  uvc_config_t live;  /* the settings of the last reload applied, or none (strs NULL) */
  char* motd;
  uv_timer_t settle;
  watcher_t* watchers[MAX_WATCHED];
  int n_watchers;
  char names[MAX_WATCHED][PATH_MAX_LEN]; /* the watched files' base names */
  int n_names;
  char watched_key[3 * PATH_MAX_LEN]; /* the files watched, to know when that changes */
  char pending_why[PATH_MAX_LEN + 16];
  int open_handles;
  int closing;
};

void uvc_notify(const char* state) {
#ifdef UVCHAT_WITH_SYSTEMD
  (void)sd_notify(0, state);
#else
  (void)state;
#endif
}

char* uvc_read_motd(const char* path, char* err, size_t errlen) {
  FILE* f = fopen(path, "rb");
  char* text;
  size_t n;
  if (f == NULL) {
    snprintf(err, errlen, "cannot read the MOTD file '%s': %s", path, strerror(errno));
    return NULL;
  }
  text = malloc(MOTD_MAX + 1);
  if (text == NULL) {
    fclose(f);
    snprintf(err, errlen, "out of memory reading the MOTD file '%s'", path);
    return NULL;
  }
  n = fread(text, 1, MOTD_MAX + 1, f);
  if (ferror(f) || n > MOTD_MAX) {
    if (ferror(f))
      snprintf(err, errlen, "cannot read the MOTD file '%s': %s", path, strerror(errno));
    else
      snprintf(err, errlen, "the MOTD file '%s' is larger than %d KiB", path, MOTD_MAX / 1024);
    fclose(f);
    free(text);
    return NULL;
  }
  fclose(f);
  text[n] = '\0';
  return text;
}

/* ------------------------------------------------------------------------------------------
 * Reloading
 * ---------------------------------------------------------------------------------------- */

/* Settings the running server cannot take over: they were used once, at start. */
static int needs_restart(const uvc_reload_t* r, const char* name, const uvc_config_t* next) {
  static const char* const kAtStart[] = {"host",
                                         "port",
                                         "irc-port",
                                         "tls-port",
                                         "irc-tls-port",
                                         "listen",
                                         "data-dir",
                                         "room",
                                         "max-line",
                                         "server-name",
                                         "history-size",
                                         "history-age",
                                         "history-private",
                                         "cluster",
                                         "cluster-lease",
                                         "cluster-name",
                                         NULL};
  int i;
  for (i = 0; kAtStart[i] != NULL; i++)
    if (strcmp(name, kAtStart[i]) == 0) return 1;
  /* The TLS listeners open at start: a certificate can be changed, not added or removed. */
  if (strcmp(name, "tls-cert") == 0 || strcmp(name, "tls-key") == 0)
    return r->srv->tls == NULL || next->tls_cert == NULL;
  return 0;
}

typedef struct change_ctx {
  uvc_reload_t* r;
  uvc_config_t* next;
  const char* why;
  int restart; /* settings that wait for a restart */
  int failed;
} change_ctx_t;

/* First pass: what needs a restart keeps its running value (and is said so). */
static void keep_restart_only(void* ud, const char* name, const char* was, const char* now) {
  change_ctx_t* x = ud;
  if (!needs_restart(x->r, name, x->next)) return;
  UVC_WARN("reload (%s): %s changed from %s to %s: that needs a restart; still %s", x->why, name,
           was, now, was);
  if (uvc_config_copy_setting(x->next, &x->r->srv->cfg, name) != 0) x->failed = 1;
  x->restart++;
}

/* Second pass, once applied: what changed. */
static void log_change(void* ud, const char* name, const char* was, const char* now) {
  change_ctx_t* x = ud;
  UVC_INFO("reload (%s): %s: %s -> %s", x->why, name, was, now);
}

void uvc_reload_now(uvc_reload_t* r, const char* why) {
  uvc_server_t* srv = r->srv;
  uvc_config_t next;
  change_ctx_t x;
  char err[512];
  char* motd = NULL;
  int n, motd_changed;
  if (srv->stopping || r->closing) return;
  uvc_notify("RELOADING=1");
  if (uvc_config_load(&next, r->argc, r->argv, err, sizeof(err)) != UVC_CONFIG_OK) {
    UVC_ERROR("reload (%s): %s; keeping the current settings", why, err);
    uvc_notify("READY=1");
    return;
  }
  memset(&x, 0, sizeof(x));
  x.r = r;
  x.next = &next;
  x.why = why;
  uvc_config_changes(&srv->cfg, &next, keep_restart_only, &x);
  if (x.failed) {
    UVC_ERROR("reload (%s): out of memory; keeping the current settings", why);
    goto keep;
  }
  if (next.motd_file != NULL && (motd = uvc_read_motd(next.motd_file, err, sizeof(err))) == NULL) {
    UVC_ERROR("reload (%s): %s; keeping the current settings", why, err);
    goto keep;
  }
  if (srv->tls != NULL &&
      uvc_server_reload_tls(srv, next.tls_cert, next.tls_key, err, sizeof(err)) != 0) {
    UVC_ERROR("reload (%s): cannot load the TLS certificate: %s; keeping the current settings", why,
              err);
    free(motd);
    goto keep;
  }
  /* Everything is valid: apply it all. */
  n = uvc_config_changes(&srv->cfg, &next, log_change, &x);
  motd_changed =
      (motd == NULL) != (r->motd == NULL) || (motd != NULL && strcmp(motd, r->motd) != 0);
  if (motd_changed) UVC_INFO("reload (%s): the MOTD text changed", why);
  if (srv->tls != NULL) UVC_INFO("reload (%s): loaded the TLS certificate %s", why, next.tls_cert);
#ifdef UVCHAT_WITH_ACCOUNTS
  if (srv->core.auth_ud != NULL && (next.register_per_addr != srv->cfg.register_per_addr ||
                                    next.register_rate != srv->cfg.register_rate ||
                                    next.account_password_min != srv->cfg.account_password_min ||
                                    next.account_password_max != srv->cfg.account_password_max)) {
    /* new limits start with fresh counts */
    uvc_accounts_limits_t limits = {(uint32_t)next.register_per_addr, (uint32_t)next.register_rate,
                                    UVC_ACCOUNTS_WATCH_MS, (uint32_t)next.account_password_min,
                                    (uint32_t)next.account_password_max};
    uvc_accounts_set_limits(srv->core.auth_ud, &limits);
  }
#endif
  uvc_server_apply(srv, &next);
  srv->core.motd = motd;
  free(r->motd);
  r->motd = motd;
  uvc_config_free(&r->live);
  r->live = next;
  UVC_INFO("reload (%s): %d setting%s changed%s, %d need%s a restart", why, n + motd_changed,
           n + motd_changed == 1 ? "" : "s", motd_changed ? " (counting the MOTD text)" : "",
           x.restart, x.restart == 1 ? "s" : "");
  (void)uvc_reload_watch(r); /* the files may be others now */
  uvc_notify("READY=1");
  return;
keep:
  uvc_config_free(&next);
  uvc_notify("READY=1");
}

static void on_reload_hook(void* ud, const char* why) {
  uvc_reload_now(ud, why);
}

/* ------------------------------------------------------------------------------------------
 * Watching the files
 * ---------------------------------------------------------------------------------------- */

static void on_settled(uv_timer_t* t) {
  uvc_reload_t* r = t->data;
  uvc_reload_now(r, r->pending_why);
}

static void on_file_event(uv_fs_event_t* h, const char* filename, int events, int status) {
  watcher_t* w = h->data;
  uvc_reload_t* r = w->r;
  int i;
  (void)events;
  if (status != 0 || r->closing) return;
  for (i = 0; i < r->n_names; i++)
    if (filename == NULL || strcmp(filename, r->names[i]) == 0) break;
  if (i == r->n_names) return; /* another file in the same directory */
  snprintf(r->pending_why, sizeof(r->pending_why), "%s changed",
           filename != NULL ? filename : r->names[0]);
  uv_timer_start(&r->settle, on_settled, SETTLE_MS, 0);
}

static void on_handle_closed(uv_handle_t* h) {
  uvc_reload_t* r = h->data;
  if (h->type == UV_FS_EVENT) {
    watcher_t* w = (watcher_t*)h->data;
    r = w->r;
    free(w);
  }
  r->open_handles--;
}

static void stop_watching(uvc_reload_t* r) {
  int i;
  for (i = 0; i < r->n_watchers; i++)
    uv_close((uv_handle_t*)&r->watchers[i]->h, on_handle_closed);
  r->n_watchers = 0;
  r->n_names = 0;
  r->watched_key[0] = '\0';
}

/* Splits path into its directory and its base name. */
static void split_path(const char* path, char* dir, size_t dirlen, const char** base) {
  const char* slash = strrchr(path, '/');
#ifdef _WIN32
  const char* bs = strrchr(path, '\\');
  if (bs != NULL && (slash == NULL || bs > slash)) slash = bs;
#endif
  if (slash == NULL) {
    snprintf(dir, dirlen, ".");
    *base = path;
  } else {
    snprintf(dir, dirlen, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    *base = slash + 1;
  }
}

int uvc_reload_watch(uvc_reload_t* r) {
  const uvc_config_t* cfg = &r->srv->cfg;
  const char* files[MAX_WATCHED];
  char key[sizeof(r->watched_key)];
  int n = 0, i, j, err;
  if (r->closing) return 0;
  if (cfg->config_file != NULL) files[n++] = cfg->config_file;
  if (r->srv->tls != NULL) {
    files[n++] = cfg->tls_cert;
    files[n++] = cfg->tls_key;
  }
  key[0] = '\0';
  for (i = 0; i < n; i++)
    snprintf(key + strlen(key), sizeof(key) - strlen(key), "%s\n", files[i]);
  if (strcmp(key, r->watched_key) == 0) return 0; /* the same files as now */
  stop_watching(r);
  for (i = 0; i < n; i++) {
    char dir[PATH_MAX_LEN];
    const char* base;
    watcher_t* w = NULL;
    split_path(files[i], dir, sizeof(dir), &base);
    snprintf(r->names[r->n_names++], PATH_MAX_LEN, "%s", base);
    for (j = 0; j < r->n_watchers; j++)
      if (strcmp(r->watchers[j]->dir, dir) == 0) w = r->watchers[j];
    if (w != NULL) continue; /* that directory is watched already */
    if ((w = calloc(1, sizeof(*w))) == NULL) {
      stop_watching(r);
      return UV_ENOMEM;
    }
    w->r = r;
    snprintf(w->dir, sizeof(w->dir), "%s", dir);
    uv_fs_event_init(r->srv->loop, &w->h);
    w->h.data = w;
    r->open_handles++;
    r->watchers[r->n_watchers++] = w;
    if ((err = uv_fs_event_start(&w->h, on_file_event, dir, 0)) != 0) {
      UVC_WARN("cannot watch %s for changes: %s", dir, uv_strerror(err));
      stop_watching(r);
      return err;
    }
    uv_unref((uv_handle_t*)&w->h);
  }
  snprintf(r->watched_key, sizeof(r->watched_key), "%s", key);
  for (i = 0; i < n; i++)
    UVC_INFO("watching %s for changes", files[i]);
  return 0;
}

uvc_reload_t* uvc_reload_new(uvc_server_t* srv, int argc, char** argv, const uvc_config_t* cfg,
                             char* motd) {
  uvc_reload_t* r = calloc(1, sizeof(*r));
  if (r == NULL) return NULL;
  r->srv = srv;
  r->argc = argc;
  r->argv = argv;
  r->first = *cfg;
  r->motd = motd;
  uv_timer_init(srv->loop, &r->settle);
  r->settle.data = r;
  uv_unref((uv_handle_t*)&r->settle);
  r->open_handles = 1;
  srv->on_reload = on_reload_hook;
  srv->reload_ud = r;
  return r;
}

void uvc_reload_close(uvc_reload_t* r) {
  if (r == NULL || r->closing) return;
  r->closing = 1;
  r->srv->on_reload = NULL;
  stop_watching(r);
  uv_close((uv_handle_t*)&r->settle, on_handle_closed);
}

void uvc_reload_free(uvc_reload_t* r) {
  if (r == NULL) return;
  if (r->open_handles != 0) UVC_ERROR("reload: freed with %d handles open", r->open_handles);
  uvc_config_free(&r->live);
  uvc_config_free(&r->first);
  free(r->motd);
  free(r);
}
