/* Test support for the C API suites (see test_sync.h). */
#define _POSIX_C_SOURCE 200809L
#include "test_sync.h"

#include "test_http.h"

#include <pthread.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

#define MAX_SPAWNED 32
static pthread_t spawned[MAX_SPAWNED];
static int spawned_count;

void vt_lock(void) { pthread_mutex_lock(&mu); }

void vt_unlock(void) { pthread_mutex_unlock(&mu); }

void vt_broadcast(void) { pthread_cond_broadcast(&cv); }

void vt_wait(void) { pthread_cond_wait(&cv, &mu); }

int vt_timedwait(const struct timespec *deadline) {
    return pthread_cond_timedwait(&cv, &mu, deadline);
}

void vt_deadline_in(struct timespec *t, long ms) {
    clock_gettime(CLOCK_REALTIME, t);
    t->tv_sec += ms / 1000;
    t->tv_nsec += (ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        ++t->tv_sec;
    }
}

void vt_bump(int *counter) {
    vt_lock();
    ++*counter;
    vt_broadcast();
    vt_unlock();
}

void vt_store(int *slot, int value) {
    vt_lock();
    *slot = value;
    vt_broadcast();
    vt_unlock();
}

int vt_load(const int *slot) {
    int v;
    vt_lock();
    v = *slot;
    vt_unlock();
    return v;
}

int vt_wait_for_ms(const int *counter, int target, long ms) {
    struct timespec deadline;
    int v;
    vt_deadline_in(&deadline, ms);
    vt_lock();
    while (*counter < target) {
        if (vt_timedwait(&deadline) != 0) break;
    }
    v = *counter;
    vt_unlock();
    return v;
}

int vt_wait_for(const int *counter, int target) { return vt_wait_for_ms(counter, target, 10000); }

void vt_spawn(void *(*fn)(void *), void *arg) {
    vt_lock();
    VT_CHECK(spawned_count < MAX_SPAWNED);
    VT_CHECK_EQ(pthread_create(&spawned[spawned_count++], NULL, fn, arg), 0);
    vt_unlock();
}

void vt_join_spawned(void) {
    int i, n;
    vt_lock();
    n = spawned_count;
    vt_unlock();
    for (i = 0; i < n; ++i) pthread_join(spawned[i], NULL);
    vt_lock();
    spawned_count = 0;
    vt_unlock();
}
