/* procstat.h: CPU time and memory of a process: the server's (Linux /proc) and the bench's own. */
#ifndef UVCHAT_BENCH_PROCSTAT_H
#define UVCHAT_BENCH_PROCSTAT_H

#include <stdint.h>

typedef struct bench_procstat {
  int ok;       /* the other fields were read */
  double cpu_s; /* user + system CPU seconds */
  uint64_t rss_kb;
  uint64_t hwm_kb; /* peak RSS */
} bench_procstat_t;

/* 1 where the server's statistics can be read (Linux), else 0. */
int procstat_supported(void);
int procstat_read(long pid, bench_procstat_t* out);
double procstat_self_cpu(void);
uint64_t procstat_self_maxrss_kb(void);

#endif
