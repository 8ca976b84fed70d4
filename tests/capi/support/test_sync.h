/* Test support for the C API suites: the state a test shares with the server's loop and its
 * own threads, under one lock per test program (a mutex and a condition variable that every
 * change broadcasts on), with a deadline on every wait a test relies on; and threads started
 * from callbacks, joined by the test. C99. */
#ifndef VSTREAM_TESTS_CAPI_TEST_SYNC_H
#define VSTREAM_TESTS_CAPI_TEST_SYNC_H

#include <time.h>

/* Takes the shared lock. */
void vt_lock(void);
/* Releases the shared lock. */
void vt_unlock(void);
/* With the lock held: wakes every thread waiting in vt_wait, vt_timedwait or vt_wait_for. */
void vt_broadcast(void);
/* With the lock held: waits for a broadcast, with no deadline (only for a waiter that another
 * call is sure to wake, such as an idle worker that the test stops). */
void vt_wait(void);
/* With the lock held: waits for a broadcast until `deadline` (CLOCK_REALTIME, as
 * vt_deadline_in makes it). 0 if woken, nonzero once the deadline has passed. */
int vt_timedwait(const struct timespec *deadline);
/* Sets *t to `ms` milliseconds from now on CLOCK_REALTIME, the clock vt_timedwait uses. */
void vt_deadline_in(struct timespec *t, long ms);
/* Adds one to *counter under the lock and broadcasts. */
void vt_bump(int *counter);
/* Sets *slot to `value` under the lock and broadcasts. */
void vt_store(int *slot, int value);
/* Reads *slot under the lock. */
int vt_load(const int *slot);
/* Waits until *counter >= target or 10 s pass; returns the last value seen. */
int vt_wait_for(const int *counter, int target);
/* Waits until *counter >= target or `ms` milliseconds pass; returns the last value seen. */
int vt_wait_for_ms(const int *counter, int target, long ms);
/* Starts a thread running fn(arg), from any thread (a handler, a callback, the test), and
 * keeps it for vt_join_spawned; fails the test if it cannot, or if 32 are pending already. */
void vt_spawn(void *(*fn)(void *), void *arg);
/* Joins every thread vt_spawn started so far (not under the lock: they may take it). */
void vt_join_spawned(void);

#endif
