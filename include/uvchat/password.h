/* password.h: password rules, and Argon2id hashing and verification (libsodium) on libuv's
 * thread pool, so that the loop never waits for a hash.
 *
 * Hashes are libsodium's self-describing strings ("$argon2id$v=19$m=...,t=...,p=1$salt$hash"),
 * which carry their own cost parameters: raising the cost later does not break existing
 * accounts (see uvc_password_needs_rehash()). Cost: by default
 * crypto_pwhash_OPSLIMIT_INTERACTIVE (2 passes) and crypto_pwhash_MEMLIMIT_INTERACTIVE
 * (64 MiB) per hash, about 60-70 ms of one core here.
 *
 * Concurrency: at most UVC_PASSWORD_RUNNING requests are on libuv's thread pool at once (2 of
 * its default 4 threads, so the account store and file operations always find a thread,
 * and hashing takes at most 128 MiB). Requests wait in two lanes: checks (logins) and new
 * hashes (registrations, new passwords). A check always goes first, and new hashes never
 * take the last running slot, so a login waits for other logins only, never behind a pile
 * of registrations. Up to UVC_PASSWORD_WAITING checks and UVC_PASSWORD_WAITING_HASH new
 * hashes wait in line; beyond that a request is refused at once with UVC_PASSWORD_BUSY (a
 * flood from many addresses costs a bounded amount of memory and CPU).
 *
 * Each request copies the password into its own buffer, which is wiped with sodium_memzero()
 * on the worker as soon as the hash or the check is done, and again before the request is
 * freed (the only wipe when the request was cancelled). Verification is libsodium's own,
 * which compares in constant time.
 *
 * Threads: everything here but the work itself runs on the one loop thread; the cost
 * settings and the list of pending requests are process-wide.
 */
#ifndef UVCHAT_PASSWORD_H
#define UVCHAT_PASSWORD_H

#include <stddef.h>
#include <uv.h>

#define UVC_PASSWORD_MIN         8    /* bytes: the default shortest password */
#define UVC_PASSWORD_DEFAULT_MAX 300  /* bytes: the default longest password */
#define UVC_PASSWORD_MAX         1024 /* bytes: no setting accepts a longer password */
#define UVC_PASSWORD_HASH_MAX    127  /* bytes of a hash string, without its NUL */

#define UVC_PASSWORD_EINVAL   (-301) /* bad arguments: a password or hash too long */
#define UVC_PASSWORD_ENOMEM   (-302) /* out of memory */
#define UVC_PASSWORD_EHASH    (-303) /* hashing failed (the memory limit could not be met) */
#define UVC_PASSWORD_CANCELED (-304) /* cancelled before it ran */
#define UVC_PASSWORD_EINIT    (-305) /* libsodium could not be initialised */
#define UVC_PASSWORD_BUSY     (-306) /* too many requests waiting: try again later */

#define UVC_PASSWORD_RUNNING      2   /* requests on the thread pool at once, by default */
#define UVC_PASSWORD_WAITING      256 /* checks waiting in line at most, by default */
#define UVC_PASSWORD_WAITING_HASH 32  /* new hashes waiting in line at most, by default */

/* A hash is done: status 0 and the hash string (valid only during the call), or a negative
 * code and NULL. */
typedef void (*uvc_password_hash_cb)(void* data, int status, const char* hash);
/* A check is done: ok is 1 when the password matched, 0 when it did not (or the hash string
 * is malformed), negative when the check did not run (UVC_PASSWORD_CANCELED). Treat anything
 * but 1 as a failed login. */
typedef void (*uvc_password_verify_cb)(void* data, int ok);

/* Initialises libsodium once (later calls do nothing). hash and verify call it themselves;
 * call it at startup to fail early. Returns 0 or UVC_PASSWORD_EINIT. Thread-safe. */
int uvc_password_init(void);

/* NULL when pw[0..len) is acceptable as a new password, else a short human reason: at
 * least UVC_PASSWORD_MIN and at most UVC_PASSWORD_MAX bytes, no control characters (C0, DEL
 * or UTF-8-encoded C1), not only spaces. */
const char* uvc_password_problem(const char* pw, size_t len);
/* The same with other bounds (min >= 1, max <= UVC_PASSWORD_MAX): the reason names them. */
const char* uvc_password_check(const char* pw, size_t len, size_t min, size_t max);

/* Sets the cost of new hashes (0, 0: the INTERACTIVE defaults). Returns 0, or
 * UVC_PASSWORD_EINVAL when a limit is outside libsodium's bounds. Requests already queued
 * keep the cost they were made with. */
int uvc_password_set_limits(unsigned long long opslimit, size_t memlimit);
/* The cheapest cost libsodium allows (for tests: a hash then takes a millisecond). */
void uvc_password_use_min_limits(void);
void uvc_password_get_limits(unsigned long long* opslimit, size_t* memlimit);

/* Sets how many requests may run on the thread pool at once (>= 1; new hashes take at most
 * all but one of them) and how many checks may wait in line. Returns 0 or
 * UVC_PASSWORD_EINVAL. */
int uvc_password_set_concurrency(unsigned max_running, unsigned max_waiting);
/* Sets how many new hashes may wait in line. Returns 0. */
int uvc_password_set_hash_waiting(unsigned max_waiting);

/* Hashes pw[0..len) (at most UVC_PASSWORD_MAX bytes; check uvc_password_problem() first)
 * on the thread pool. Returns 0 (cb will run once, on the loop thread), or a negative code
 * at once (UVC_PASSWORD_BUSY, UVC_PASSWORD_EINVAL...) and cb is never called. */
int uvc_password_hash(uv_loop_t* loop, const char* pw, size_t len, uvc_password_hash_cb cb,
                      void* data);

/* Checks pw[0..len) against a hash string on the thread pool. Returns 0 (cb will run once),
 * or UVC_PASSWORD_EINVAL (hash longer than UVC_PASSWORD_HASH_MAX or pw longer than
 * UVC_PASSWORD_MAX) or another negative code at once, and cb is never called. */
int uvc_password_verify(uv_loop_t* loop, const char* hash, const char* pw, size_t len,
                        uvc_password_verify_cb cb, void* data);

/* 1 when a stored hash was made with other parameters than the current ones (rehash it
 * after the next successful login), 0 when it is current, negative when it is malformed. */
int uvc_password_needs_rehash(const char* hash);
/* 1 when pw[0..len) equals want[0..wlen) (a non-empty shared secret such as the server
 * password), compared in constant time through BLAKE2b of both, so that neither the bytes
 * nor the lengths leak; 0 otherwise. */
int uvc_password_equal(const char* want, size_t wlen, const char* pw, size_t len);

/* Requests queued whose callback has not run yet (for an orderly shutdown). */
unsigned uvc_password_pending(void);
/* Requests waiting in line (not yet on the thread pool), in both lanes. */
unsigned uvc_password_waiting(void);

/* Cancels every request of loop that has not started (for shutdown): their callbacks get
 * UVC_PASSWORD_CANCELED, from inside this call for those still waiting in line, later from
 * the loop for those already queued to libuv. Requests already running finish normally.
 * Returns how many were cancelled. */
unsigned uvc_password_cancel_all(uv_loop_t* loop);

/* For tests: called on the loop thread with each request's password buffer just before the
 * request is freed (after the wipe), so a test can see that it holds only zeros. */
typedef void (*uvc_password_wipe_hook_t)(const unsigned char* buf, size_t cap);
void uvc_password_set_wipe_hook(uvc_password_wipe_hook_t hook);

#endif
