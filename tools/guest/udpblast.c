/* A UDP load generator for the test guest, installed as /bin/udpblast by
 * tools/mkguest (built there, static, since the guest has only busybox);
 * netbench's udp_send and udp_recv run it (tools/guest/netbench).
 *
 *   udpblast send IP PORT SIZE SECS  datagrams of SIZE payload bytes (18: a
 *                                    60-byte frame, 64 on a wire; 1472: a
 *                                    1514-byte one) to IP:PORT for SECS
 *                                    seconds, as fast as the socket takes
 *                                    them, in batches of 64 (sendmmsg);
 *                                    prints "udp_send size SIZE packets N
 *                                    seconds S pps R"
 *   udpblast recv PORT SECS          counts the datagrams that arrive on
 *                                    PORT, from the first until SECS seconds
 *                                    later or 2 s of silence; prints
 *                                    "udp_recv size SIZE packets N seconds S
 *                                    pps R" (SIZE: the first datagram's)
 *
 * Each datagram carries its sequence number in its first 8 bytes (from 4
 * bytes of payload up); the receiver counts those that arrive out of order
 * or twice as "reordered". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum { batch = 64, max_size = 65507 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: udpblast send IP PORT SIZE SECS | udpblast recv PORT SECS\n");
    return 2;
}

static long number(const char* s, long lo, long hi)
{
    char* end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) return -1;
    return v;
}

static int blast(const char* ip, long port, long size, long secs)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, ip, &to.sin_addr) != 1) return usage();
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr*)&to, sizeof to) < 0) {
        perror("udpblast: socket");
        return 1;
    }
    unsigned char* payload = calloc(batch, (size_t)size);
    if (!payload) return 1;
    struct mmsghdr msgs[batch];
    struct iovec iov[batch];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < batch; ++i) {
        iov[i].iov_base = payload + (size_t)i * (size_t)size;
        iov[i].iov_len = (size_t)size;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint64_t sent = 0;
    double start = now(), end = start + (double)secs, t = start;
    while (t < end) {
        for (int i = 0; i < batch && size >= 8; ++i) {
            uint64_t seq = sent + (uint64_t)i;
            memcpy(payload + (size_t)i * (size_t)size, &seq, 8);
        }
        int n = sendmmsg(fd, msgs, batch, 0);
        if (n < 0) {
            if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR || errno == ECONNREFUSED) {
                t = now();
                continue;  /* the queue is full or nobody listens yet: go on */
            }
            perror("udpblast: sendmmsg");
            return 1;
        }
        sent += (uint64_t)n;
        t = now();
    }
    double s = t - start;
    printf("udp_send size %ld packets %llu seconds %.2f pps %.0f\n", size, (unsigned long long)sent, s,
           (double)sent / s);
    return 0;
}

static int count(long port, long secs)
{
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = INADDR_ANY};
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int big = 4 << 20;
    if (fd < 0 || bind(fd, (struct sockaddr*)&at, sizeof at) < 0) {
        perror("udpblast: bind");
        return 1;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    struct timeval quiet = {.tv_sec = 2};
    static unsigned char payload[batch][2048];
    struct mmsghdr msgs[batch];
    struct iovec iov[batch];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < batch; ++i) {
        iov[i].iov_base = payload[i];
        iov[i].iov_len = sizeof payload[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint64_t got = 0, reordered = 0, next = 0;
    long size = -1;
    double first = 0, last = 0;
    for (;;) {
        /* Blocking until the first datagram; then at most 2 s of silence. */
        if (got) (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &quiet, sizeof quiet);
        int n = recvmmsg(fd, msgs, batch, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            perror("udpblast: recvmmsg");
            return 1;
        }
        last = now();
        if (!got) first = last;
        for (int i = 0; i < n; ++i) {
            if (size < 0) size = (long)msgs[i].msg_len;
            if (msgs[i].msg_len >= 8) {
                uint64_t seq;
                memcpy(&seq, payload[i], 8);
                if (seq < next) ++reordered;
                else next = seq + 1;
            }
        }
        got += (uint64_t)n;
        if (last - first >= (double)secs) break;
    }
    double s = last > first ? last - first : 1e-3;
    printf("udp_recv size %ld packets %llu seconds %.2f pps %.0f reordered %llu\n", size, (unsigned long long)got, s,
           (double)got / s, (unsigned long long)reordered);
    return 0;
}

int main(int argc, char** argv)
{
    if (argc == 6 && strcmp(argv[1], "send") == 0) {
        long port = number(argv[3], 1, 65535), size = number(argv[4], 1, max_size), secs = number(argv[5], 1, 3600);
        if (port < 0 || size < 0 || secs < 0) return usage();
        return blast(argv[2], port, size, secs);
    }
    if (argc == 4 && strcmp(argv[1], "recv") == 0) {
        long port = number(argv[2], 1, 65535), secs = number(argv[3], 1, 3600);
        if (port < 0 || secs < 0) return usage();
        return count(port, secs);
    }
    return usage();
}
