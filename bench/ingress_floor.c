/* The C floor of the ingress: what reading speakers' packets costs a plain program that does nothing
 * else with them, measured beside the real server by bench/ingress_bench.py (which builds this with gcc).
 *
 *     ingress_floor SPEAKERS SECONDS PACKET_BYTES [TOGETHER [fifo|normal [arrival|tick]]]
 *
 * The program forks: the child connects SPEAKERS TCP sockets to the parent on loopback and sends
 * PACKET_BYTES on each every 20 ms, the speakers' starts spread evenly over the 20 ms (as the benchmark's
 * speakers are), or TOGETHER speakers at a time back to back (default 1: each packet alone). The parent,
 * the "server", reads them one of two ways:
 *   arrival (the default): it waits in an edge-triggered epoll, as the wire's reader does for a speaker it
 *     reads as bytes arrive, and reads each ready socket with one recv() into a 64 KB buffer, stopping at a
 *     short read: a wake-up per packet unless packets come together;
 *   tick: it sleeps until the next 20 ms of its own clock, then reads every socket the same way (what came
 *     since), as the wire's reader does for the speakers it parks for their space's tick: a wake-up per
 *     20 ms for them all.
 * With `fifo` it runs as the wire's reader does by default, SCHED_FIFO at the lowest real-time priority. It
 * prints one JSON line: the parent's CPU (user + system, getrusage) per packet, and its context switches per
 * packet (each wake-up is one).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

#define PERIOD_NS 20000000L


/* CPU seconds and context switches of this process so far. */
static void usage(double *cpu, long *switches) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *cpu = cpu_s();
    *switches = ru.ru_nvcsw + ru.ru_nivcsw;
}

/* `at`, 20 ms later. */
static void next_tick(struct timespec *at) {
    at->tv_nsec += PERIOD_NS;
    while (at->tv_nsec >= 1000000000L) {
        at->tv_nsec -= 1000000000L;
        at->tv_sec++;
    }
}

/* The speakers: n sockets, one packet each per 20 ms, their phases spread over the period; until killed. */
static void speakers(int n, int together, size_t bytes, struct sockaddr_in addr) {
    int *fds = malloc(n * sizeof *fds);
    char *packet = calloc(1, bytes);
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        int one = 1;
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    for (long k = 0;; k += together) {
        at.tv_nsec += PERIOD_NS / n * together;
        while (at.tv_nsec >= 1000000000L) {
            at.tv_nsec -= 1000000000L;
            at.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        for (int j = 0; j < together; j++) {
            if (send(fds[(k + j) % n], packet, bytes, MSG_NOSIGNAL) < 0) exit(0);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 7) {
        fprintf(stderr, "usage: %s SPEAKERS SECONDS PACKET_BYTES [TOGETHER [fifo|normal [arrival|tick]]]\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]);
    double seconds = atof(argv[2]);
    size_t bytes = (size_t)atol(argv[3]);
    int together = argc >= 5 ? atoi(argv[4]) : 1, fifo = argc >= 6 && strcmp(argv[5], "fifo") == 0;
    int tick = argc == 7 && strcmp(argv[6], "tick") == 0;
    if (n < 1 || seconds <= 0 || bytes < 1 || together < 1 || n % together) {
        fprintf(stderr, "SPEAKERS, SECONDS, PACKET_BYTES and TOGETHER must be positive, TOGETHER divide SPEAKERS\n");
        return 2;
    }

    int server = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t addr_len = sizeof addr;
    if (bind(server, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(server, 4096) < 0) die("listen");
    getsockname(server, (struct sockaddr *)&addr, &addr_len);
    pid_t child = fork();
    if (child == 0) speakers(n, together, bytes, addr);

    if (fifo) {
        struct sched_param lowest = {.sched_priority = sched_get_priority_min(SCHED_FIFO)};
        if (sched_setscheduler(0, SCHED_FIFO, &lowest) < 0) die("SCHED_FIFO");
    }
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    int *fds = malloc(n * sizeof *fds);
    for (int i = 0; i < n; i++) {
        int fd = accept4(server, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) die("accept");
        fds[i] = fd;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }
    static char buf[65536];
    struct epoll_event events[1024];
    long received = 0, counting_from = 0, switches0 = 0, switches = 0;
    double cpu0 = 0, cpu = 0, warm = now_s() + 1.0, start = 0, end = 0;
    struct timespec at;
    clock_gettime(CLOCK_MONOTONIC, &at);
    for (;;) {
        double t = now_s();
        if (start == 0 && t >= warm) {
            start = t;
            counting_from = received;
            usage(&cpu0, &switches0);
        } else if (start != 0 && t >= start + seconds) {
            usage(&cpu, &switches);
            end = t;
            break;
        }
        int ready = n;
        if (tick) {
            next_tick(&at);
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        } else {
            ready = epoll_wait(ep, events, 1024, 100);
        }
        for (int i = 0; i < ready; i++) {
            int fd = tick ? fds[i] : events[i].data.fd;
            ssize_t got;
            do {
                got = recv(fd, buf, sizeof buf, 0);
                if (got > 0) received += got;
            } while (got == (ssize_t)sizeof buf);
        }
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    double packets = (double)(received - counting_from) / bytes;
    printf("{\"speakers\": %d, \"together\": %d, \"scheduling\": \"%s\", \"reads\": \"%s\", \"packet_bytes\": %zu, "
           "\"seconds\": %.2f, \"packets\": %.0f, \"us_per_packet\": %.3f, \"wakes_per_packet\": %.3f}\n",
           n, together, fifo ? "realtime" : "normal", tick ? "tick" : "arrival", bytes, end - start, packets,
           (cpu - cpu0) / packets * 1e6, (switches - switches0) / packets);
    return 0;
}
