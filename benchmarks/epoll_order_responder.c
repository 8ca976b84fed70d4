// epoll_order_responder: the smallest HTTP responder that can tell how epoll's trigger mode
// alone shapes a closed-loop benchmark's latency tail (benchmarks/epoll_order.sh). Not
// vstream: no parser, no timers, one 200 per read. It answers each read of a connection with
// the same fixed `GET /ping` response, so it is only for load generators that send one
// request at a time per connection (wrk without pipelining).
//
// usage: epoll_order_responder PORT level|edge [WORK]
//   level  descriptors added level-triggered, as libuv does
//   edge   EPOLLET, as nginx does
//   WORK   iterations of an empty loop per request, to stand in for a server's own work
#define _GNU_SOURCE  // accept4

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char kResponse[] =
    "HTTP/1.1 200 OK\r\nServer: epoll_order\r\nContent-Type: application/json\r\n"
    "Content-Length: 18\r\n\r\n{\"message\":\"pong\"}";

static int listen_on(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only
    if (bind(fd, (struct sockaddr*)&a, sizeof a) != 0 || listen(fd, 511) != 0) return -1;
    return fd;
}

int main(int argc, char** argv) {
    if (argc < 3 || (strcmp(argv[2], "level") != 0 && strcmp(argv[2], "edge") != 0)) {
        fprintf(stderr, "usage: %s PORT level|edge [WORK]\n", argv[0]);
        return 2;
    }
    const int port = atoi(argv[1]);
    const unsigned mode = strcmp(argv[2], "edge") == 0 ? EPOLLET : 0;
    const long work = argc > 3 ? atol(argv[3]) : 0;
    const int lfd = listen_on(port);
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    if (lfd < 0 || ep < 0) {
        perror("epoll_order_responder");
        return 1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event events[1024];
    static char buf[65536];
    for (;;) {
        const int n = epoll_wait(ep, events, 1024, -1);
        if (n < 0 && errno != EINTR) return 1;
        for (int i = 0; i < n; i++) {
            const int fd = events[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP | mode, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                }
                continue;
            }
            // One read per event in both modes (a request fits one read), so only the order
            // in which epoll reports the connections differs.
            const ssize_t r = read(fd, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                close(fd);
                continue;
            }
            if (r < 0) continue;
            for (volatile long k = 0; k < work; k++) {
            }
            if (send(fd, kResponse, sizeof kResponse - 1, MSG_NOSIGNAL) < 0) close(fd);
        }
    }
}
