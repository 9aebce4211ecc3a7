/* The C floor of the fan-out: what writing the server's audio messages to N listeners costs a plain
 * program, measured beside the real server by bench/fanout_bench.py (which builds this with gcc).
 *
 *     cfloor LISTENERS SECONDS FRAMES_PER_MESSAGE MESSAGE_FILE
 *
 * MESSAGE_FILE holds one audio message as the server sends it (a WebSocket binary frame around the
 * msgpack `audio` map with FRAMES_PER_MESSAGE frames). The program forks: the child connects
 * LISTENERS TCP sockets to the parent on loopback and drains them with epoll, as listeners would;
 * the parent, the "server", writes the message to every socket with one plain send() each, every
 * FRAMES_PER_MESSAGE x 20 ms, for SECONDS. It prints one JSON line: the parent's CPU (user + system,
 * getrusage) per listener-frame and per send, and how long a pass over the sockets took.
 * On loopback the sender's send() also pays most of the receiver's TCP work, as the server's does.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
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


/* The listeners: connect n sockets, then read whatever arrives until the parent closes them. */
static void listeners(int n, struct sockaddr_in addr, int ready_fd) {
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }
    if (write(ready_fd, "r", 1) != 1) die("write");
    static char buf[65536];
    struct epoll_event events[1024];
    int open = n;
    while (open > 0) {
        int ready = epoll_wait(ep, events, 1024, 1000);
        for (int i = 0; i < ready; i++) {
            ssize_t got = recv(events[i].data.fd, buf, sizeof buf, 0);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
                close(events[i].data.fd);
                open--;
            }
        }
    }
    exit(0);
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s LISTENERS SECONDS FRAMES_PER_MESSAGE MESSAGE_FILE\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]), frames = atoi(argv[3]);
    double seconds = atof(argv[2]), period = frames * 0.020;
    FILE *f = fopen(argv[4], "rb");
    if (!f) die("message file");
    static char message[65536];
    size_t len = fread(message, 1, sizeof message, f);
    fclose(f);

    int server = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t addr_len = sizeof addr;
    if (bind(server, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(server, 4096) < 0) die("listen");
    getsockname(server, (struct sockaddr *)&addr, &addr_len);
    int ready[2];
    if (pipe(ready) < 0) die("pipe");
    pid_t child = fork();
    if (child == 0) listeners(n, addr, ready[1]);

    int *fds = malloc(n * sizeof *fds);
    for (int i = 0; i < n; i++) {
        fds[i] = accept(server, NULL, NULL);
        if (fds[i] < 0) die("accept");
        int one = 1;
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    char r;
    if (read(ready[0], &r, 1) != 1) die("read");

    int passes = (int)(seconds / period);
    double *pass_s = malloc(passes * sizeof *pass_s);
    long sends = 0, short_sends = 0;
    double cpu0 = cpu_s(), start = now_s();
    for (int p = 0; p < passes; p++) {
        double due = start + p * period, t = now_s();
        if (t < due) {
            struct timespec ts = {(time_t)(due - t), (long)((due - t - (time_t)(due - t)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        double began = now_s();
        for (int i = 0; i < n; i++) {
            ssize_t sent = send(fds[i], message, len, MSG_DONTWAIT | MSG_NOSIGNAL);
            sends++;
            short_sends += sent != (ssize_t)len;
        }
        pass_s[p] = now_s() - began;
    }
    double cpu = cpu_s() - cpu0, wall = now_s() - start;
    for (int i = 0; i < n; i++) close(fds[i]);
    waitpid(child, NULL, 0);
    qsort(pass_s, passes, sizeof *pass_s, by_value);
    printf("{\"listeners\": %d, \"frames_per_message\": %d, \"message_bytes\": %zu, \"seconds\": %.2f, "
           "\"sends\": %ld, \"short_sends\": %ld, \"cpu_cores\": %.3f, \"us_per_send\": %.3f, "
           "\"us_per_listener_frame\": %.3f, \"pass_ms_p50\": %.2f, \"pass_ms_max\": %.2f}\n",
           n, frames, len, wall, sends, short_sends, cpu / wall, cpu / sends * 1e6, cpu / (sends * frames) * 1e6,
           pass_s[passes / 2] * 1e3, pass_s[passes - 1] * 1e3);
    return 0;
}
