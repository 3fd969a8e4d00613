// The floor under commit → subscriber latency on this machine: the same chain of thread wake-ups
// that carries an event from the store's writer to a subscriber, with no work in it.
//
//   committer --eventfd--> server loop --TCP loopback--> client loop --eventfd--> subscriber
//
// The committer stamps each message and wakes the server loop (epoll); the server loop writes it
// to a loopback TCP connection; the client loop (epoll) reads it and wakes the subscriber, which
// stamps its arrival. Three wake-ups, as in tradecore-stream-bench (writer thread → the
// connection's event loop → the client's event loop → the subscriber's thread).
//
// Background load stands in for the commands: every millisecond each load thread spins for the
// given microseconds. The two loop threads ask for the loops' time slice, as the server's event
// loops do (in tradecore-stream-bench the client's connection runs on the same loops); the
// subscriber asks for its own (--subscriber-slice there). The first half second is not measured.
//
// Usage: wakeup_floor <messages/s> <seconds> <load threads> <load µs per ms> <loops' slice µs>
//        <subscriber's slice µs>    (a slice of 0 keeps the kernel's; otherwise 100 to 100000)
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct sched_attr_v1 {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

static uint64_t loop_slice_ns, subscriber_slice_ns;
static atomic_int running = 1;
static long total;
static uint64_t *sent_at;
static uint64_t *latency;
static int server_wake, subscriber_wake, server_socket, client_socket;
static long load_spin_us;

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void ask_for_slice(uint64_t slice_ns) {
    if (slice_ns == 0) return;
    struct sched_attr_v1 a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.nice = getpriority(PRIO_PROCESS, 0);
    a.runtime = slice_ns;
    if (syscall(SYS_sched_setattr, 0, &a, 0) != 0) {
        perror("sched_setattr");
        exit(1);
    }
}

static void sleep_until(uint64_t t) {
    struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

// An event loop's start: its time slice, and an epoll set watching `fd` for input.
static int start_loop(int fd) {
    ask_for_slice(loop_slice_ns);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        perror("epoll");
        exit(1);
    }
    return ep;
}

static void *server_loop(void *unused) {
    (void)unused;
    int ep = start_loop(server_wake);
    long next = 0;
    while (next < total) {
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, 1000) <= 0) continue;
        uint64_t count;
        if (read(server_wake, &count, sizeof count) != sizeof count) continue;
        for (uint64_t i = 0; i < count; i++, next++) {
            char message[100];
            memset(message, 0, sizeof message);
            memcpy(message, &next, sizeof next);
            if (write(server_socket, message, sizeof message) != sizeof message) perror("write");
        }
    }
    return NULL;
}

static void *client_loop(void *unused) {
    (void)unused;
    int ep = start_loop(client_socket);
    static char buffer[1 << 16];
    size_t held = 0;
    long received = 0;
    while (received < total) {
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, 1000) <= 0) continue;
        ssize_t n = read(client_socket, buffer + held, sizeof buffer - held);
        if (n <= 0) continue;
        held += (size_t)n;
        uint64_t complete = held / 100;
        if (complete > 0) {
            received += (long)complete;
            if (write(subscriber_wake, &complete, sizeof complete) != sizeof complete) perror("write");
            size_t rest = held % 100;
            memmove(buffer, buffer + complete * 100, rest);
            held = rest;
        }
    }
    return NULL;
}

static void *subscriber(void *unused) {
    (void)unused;
    ask_for_slice(subscriber_slice_ns);
    long seen = 0;
    while (seen < total) {
        uint64_t count;
        if (read(subscriber_wake, &count, sizeof count) != sizeof count) continue;
        uint64_t t = now_ns();
        for (uint64_t i = 0; i < count && seen < total; i++, seen++) latency[seen] = t - sent_at[seen];
    }
    return NULL;
}

static void *load(void *unused) {
    (void)unused;
    uint64_t next = now_ns();
    while (atomic_load_explicit(&running, memory_order_relaxed)) {
        uint64_t until = now_ns() + (uint64_t)load_spin_us * 1000u;
        while (now_ns() < until) {}
        next += 1000000u;
        sleep_until(next);
    }
    return NULL;
}

static int compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int valid_slice(long microseconds) { return microseconds == 0 || (microseconds >= 100 && microseconds <= 100000); }

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr,
                "usage: %s <messages/s> <seconds> <load threads> <load µs per ms> <loops' slice µs> "
                "<subscriber's slice µs>\n",
                argv[0]);
        return 2;
    }
    long rate = atol(argv[1]);
    double seconds = atof(argv[2]);
    int loaders = atoi(argv[3]);
    load_spin_us = atol(argv[4]);
    long loop_slice = atol(argv[5]), subscriber_slice = atol(argv[6]);
    if (rate <= 0 || rate > 1000000 || seconds <= 0.5 || seconds > 600 || loaders < 0 || loaders > 64 ||
        load_spin_us < 0 || load_spin_us > 1000 || !valid_slice(loop_slice) || !valid_slice(subscriber_slice)) {
        fprintf(stderr, "bad arguments: 1 to 1000000 messages/s, 0.5 to 600 s, 0 to 64 load threads, 0 to 1000 "
                        "µs per ms, slices 0 or 100 to 100000 µs\n");
        return 2;
    }
    loop_slice_ns = (uint64_t)loop_slice * 1000u;
    subscriber_slice_ns = (uint64_t)subscriber_slice * 1000u;
    total = (long)(rate * seconds);
    long warmup = rate / 2;
    if (total - warmup < 1) {
        fprintf(stderr, "bad arguments: nothing would be counted after the half-second warm-up\n");
        return 2;
    }
    sent_at = calloc((size_t)total, sizeof *sent_at);
    latency = calloc((size_t)total, sizeof *latency);
    server_wake = eventfd(0, 0);
    subscriber_wake = eventfd(0, 0);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 1) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
        perror("listen");
        return 1;
    }
    client_socket = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client_socket, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("connect");
        return 1;
    }
    server_socket = accept(listener, NULL, NULL);
    int one = 1;
    setsockopt(server_socket, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    pthread_t threads[3], loads[64];
    pthread_create(&threads[0], NULL, server_loop, NULL);
    pthread_create(&threads[1], NULL, client_loop, NULL);
    pthread_create(&threads[2], NULL, subscriber, NULL);
    for (int i = 0; i < loaders; i++) pthread_create(&loads[i], NULL, load, NULL);

    // The committer: commits come in groups (the store's group commit); one message per
    // scheduled instant here, each woken on its own.
    uint64_t start = now_ns() + 100000000u, interval = 1000000000u / (uint64_t)rate;
    for (long i = 0; i < total; i++) {
        sleep_until(start + (uint64_t)i * interval);
        sent_at[i] = now_ns();
        uint64_t wake = 1;
        if (write(server_wake, &wake, sizeof wake) != sizeof wake) perror("write");
    }
    for (int i = 0; i < 3; i++) pthread_join(threads[i], NULL);
    atomic_store_explicit(&running, 0, memory_order_relaxed);
    for (int i = 0; i < loaders; i++) pthread_join(loads[i], NULL);

    // The first half second (the threads' first wake-ups, the socket's first writes) is not counted.
    long counted = total - warmup;
    uint64_t *measured = latency + warmup;
    qsort(measured, (size_t)counted, sizeof *measured, compare);
    printf("%ld messages at %ld/s (%ld counted), %d load threads spinning %ld µs/ms, slices %s/%s µs "
           "(loops/subscriber, 0: the kernel's): p50 %.0f µs, p90 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, max %.0f µs\n",
           total, rate, counted, loaders, load_spin_us, argv[5], argv[6], measured[counted / 2] / 1e3,
           measured[counted * 9 / 10] / 1e3, measured[counted * 99 / 100] / 1e3, measured[counted * 999 / 1000] / 1e3,
           measured[counted - 1] / 1e3);
    return 0;
}
