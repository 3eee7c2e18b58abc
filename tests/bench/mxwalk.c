/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What nolisting costs one legitimate connection, at microsecond resolution:
 * the MX walk of a standards-following MTA, timed N times.
 *
 *   mxwalk SRC FAKE REAL N
 *
 * Each walk: connect from SRC to FAKE:25 (expects "connection refused"), then
 * to REAL:25, read the 220 greeting, send QUIT, close. Prints one line per
 * walk: "fake_us real_us total_us" (fake: until refused; real: until the
 * greeting). A connect that does not complete within 3 s fails. IPv4 only; the addresses must be in
 * 198.18.0.0/15.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int bench_addr(struct sockaddr_in *sa, const char *s, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (inet_pton(AF_INET, s, &sa->sin_addr) != 1)
		return -1;
	/* 198.18.0.0/15 only */
	return (ntohl(sa->sin_addr.s_addr) & 0xfffe0000u) == 0xc6120000u ? 0 : -1;
}

/* Connects from @src to @dst; returns the socket, or -errno. */
static int dial(const struct sockaddr_in *src, const struct sockaddr_in *dst)
{
	struct timeval tv = {3, 0}; /* a dropped SYN is retried after 1 s, then 3 s */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (bind(fd, (const struct sockaddr *)src, sizeof(*src)) < 0 ||
	    connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_in src, fake, real;
	char buf[512];
	int n;

	if (argc != 5 || bench_addr(&src, argv[1], 0) < 0 || bench_addr(&fake, argv[2], 25) < 0 ||
	    bench_addr(&real, argv[3], 25) < 0 || (n = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: mxwalk SRC FAKE REAL N (addresses in 198.18.0.0/15)\n");
		return 2;
	}
	for (int i = 0; i < n; i++) {
		double t0 = now_us(), t1, t2;
		int fd = dial(&src, &fake);
		ssize_t r;

		if (fd >= 0) {
			fprintf(stderr, "mxwalk: the fake MX accepted a connection\n");
			close(fd);
			return 1;
		}
		if (fd != -ECONNREFUSED) {
			fprintf(stderr, "mxwalk: fake MX: %s\n", strerror(-fd));
			return 1;
		}
		t1 = now_us();
		fd = dial(&src, &real);
		if (fd < 0) {
			fprintf(stderr, "mxwalk: real MX: %s\n", strerror(-fd));
			return 1;
		}
		r = read(fd, buf, sizeof(buf) - 1);
		t2 = now_us();
		if (r < 4 || strncmp(buf, "220", 3) != 0) {
			fprintf(stderr, "mxwalk: no greeting from the real MX\n");
			close(fd);
			return 1;
		}
		if (write(fd, "QUIT\r\n", 6) < 0) {
			/* the measurement is done; nothing to do */
		}
		close(fd);
		printf("%.1f %.1f %.1f\n", t1 - t0, t2 - t1, t2 - t0);
	}
	return 0;
}
