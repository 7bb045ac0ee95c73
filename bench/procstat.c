/* procstat.c: CPU time and memory of a process: the server's (Linux /proc) and the bench's own. */
#include "procstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#ifdef __linux__
#include <unistd.h>
#endif

/* Tells whether procstat_read can work on this system. */
int procstat_supported(void) {
#ifdef __linux__
  return 1;
#else
  return 0;
#endif
}

#ifdef __linux__
/* Reads utime + stime (fields 14 and 15) from /proc/PID/stat, in seconds. */
static int read_cpu(long pid, double* out) {
  char path[64], buf[1024], *p;
  FILE* f;
  size_t n;
  int field;
  unsigned long long ut = 0, st = 0;
  long ticks = sysconf(_SC_CLK_TCK);
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  if ((f = fopen(path, "r")) == NULL) return -1;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The command name (field 2) may hold spaces and parentheses: start after the last ')'. */
  if ((p = strrchr(buf, ')')) == NULL || ticks <= 0) return -1;
  p++;
  for (field = 3; field <= 15 && *p != '\0'; field++) {
    while (*p == ' ')
      p++;
    if (field == 14) ut = strtoull(p, NULL, 10);
    if (field == 15) st = strtoull(p, NULL, 10);
    while (*p != ' ' && *p != '\0')
      p++;
  }
  if (field <= 15) return -1;
  *out = (double)(ut + st) / (double)ticks;
  return 0;
}

/* Reads VmRSS and VmHWM (kB) from /proc/PID/status. */
static int read_mem(long pid, uint64_t* rss, uint64_t* hwm) {
  char path[64], line[256];
  FILE* f;
  int found = 0;
  snprintf(path, sizeof(path), "/proc/%ld/status", pid);
  if ((f = fopen(path, "r")) == NULL) return -1;
  while (fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      *rss = strtoull(line + 6, NULL, 10);
      found |= 1;
    } else if (strncmp(line, "VmHWM:", 6) == 0) {
      *hwm = strtoull(line + 6, NULL, 10);
      found |= 2;
    }
  }
  fclose(f);
  return found == 3 ? 0 : -1;
}
#endif

/* Reads the CPU time and memory of process pid; returns 0, or -1 (and out->ok = 0) when it
 * cannot (no such process, or not Linux). */
int procstat_read(long pid, bench_procstat_t* out) {
  memset(out, 0, sizeof(*out));
#ifdef __linux__
  if (read_cpu(pid, &out->cpu_s) != 0 || read_mem(pid, &out->rss_kb, &out->hwm_kb) != 0) return -1;
  out->ok = 1;
  return 0;
#else
  (void)pid;
  return -1;
#endif
}

/* Returns the bench's own user + system CPU seconds so far. */
double procstat_self_cpu(void) {
  uv_rusage_t ru;
  if (uv_getrusage(&ru) != 0) return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Returns the bench's own peak resident memory in kB (as uv_getrusage reports it). */
uint64_t procstat_self_maxrss_kb(void) {
  uv_rusage_t ru;
  if (uv_getrusage(&ru) != 0) return 0;
#ifdef __APPLE__
  return (uint64_t)ru.ru_maxrss / 1024; /* bytes there */
#else
  return (uint64_t)ru.ru_maxrss;
#endif
}
