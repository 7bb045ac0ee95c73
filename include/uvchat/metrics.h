/* metrics.h: the server's counters, histograms and gauges, and their Prometheus text form.
 *
 * Counters only grow (a log line that summarises "N since the last line" keeps its own
 * count). Everything is updated on the loop thread; nothing here allocates. Gauges that are a
 * sum over the clients (connections, queued bytes) are computed when /metrics is read.
 */
#ifndef UVCHAT_METRICS_H
#define UVCHAT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define UVC_HIST_BUCKETS 12

typedef struct uvc_hist {
  uint64_t counts[UVC_HIST_BUCKETS + 1]; /* per bucket (not cumulative); the last is +Inf */
  uint64_t n;
  double sum; /* seconds */
} uvc_hist_t;

/* Bucket bounds in seconds, shared by every histogram. */
extern const double uvc_hist_bounds[UVC_HIST_BUCKETS];

/* Adds one observation of `seconds`. */
void uvc_hist_observe(uvc_hist_t* h, double seconds);

typedef struct uvc_metrics {
  uint64_t accepted;       /* connections accepted */
  uint64_t refused;        /* connections turned away at the door (limits) */
  uint64_t accept_errors;  /* accept() failures (out of descriptors) */
  uint64_t lines_in;       /* lines received from clients */
  uint64_t bytes_in;       /* bytes read from sockets */
  uint64_t bytes_out;      /* bytes written to sockets */
  uint64_t flood_pauses;   /* times a client was slowed by flood control */
  uint64_t http_requests;  /* HTTP requests answered */
  uint64_t ws_upgrades;    /* WebSocket connections opened */
  uint64_t leaves[8];      /* connections ended, by uvc_leave_t */
  uint64_t auth_ops;       /* account operations finished */
  uvc_hist_t auth_latency; /* their duration */
  uvc_hist_t loop_lag;     /* how late the once-a-second timer fired */
} uvc_metrics_t;

/* A growing text buffer for the exposition. */
typedef struct uvc_metrics_buf {
  char* p;
  size_t len, cap;
  int failed; /* out of memory: the text is incomplete */
} uvc_metrics_buf_t;

/* printf into b. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void uvc_metrics_printf(uvc_metrics_buf_t* b, const char* fmt, ...);

/* "# HELP" and "# TYPE" lines for a metric. */
void uvc_metrics_head(uvc_metrics_buf_t* b, const char* name, const char* type, const char* help);

/* A histogram's lines (name_bucket{le=...}, name_sum, name_count), with its HELP and TYPE. */
void uvc_metrics_hist(uvc_metrics_buf_t* b, const char* name, const char* help,
                      const uvc_hist_t* h);

#endif
