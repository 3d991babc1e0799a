/*
 * loop-server.c: a plain C epoll server for the kernel tests (loopback
 * only), standing in for "any event loop" under generic attach.
 *
 * One thread, one epoll loop. It prints its port on stdout, then serves
 * lines: "ping" is answered "pong"; "sleep" makes the current iteration
 * stall 300 ms off the CPU (clock_nanosleep) before answering "done";
 * "spin" stalls it 300 ms on the CPU. "quit" exits. Nothing else runs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STALL_NS 300000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline)) static void stall_spin(void)
{
	uint64_t until = now_ns() + STALL_NS;
	volatile uint64_t x = 0;

	while (now_ns() < until)
		x++;
}

static void stall_sleep(void)
{
	struct timespec ts = { 0, (long)STALL_NS };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0)
		;
}

static int serve(int fd)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	const char *reply = NULL;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (!strncmp(buf, "ping", 4)) {
		reply = "pong\n";
	} else if (!strncmp(buf, "sleep", 5)) {
		stall_sleep();
		reply = "done\n";
	} else if (!strncmp(buf, "spin", 4)) {
		stall_spin();
		reply = "done\n";
	} else if (!strncmp(buf, "quit", 4)) {
		return 1;
	}
	if (reply && write(fd, reply, strlen(reply)) < 0)
		return -1;
	return 0;
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct epoll_event ev = { .events = EPOLLIN }, evs[16];
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ep = epoll_create1(EPOLL_CLOEXEC);

	if (lfd < 0 || ep < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
		return 1;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("%u\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 16, 1000);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, r;

			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

				ev.data.fd = c;
				if (c >= 0)
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				continue;
			}
			r = serve(fd);
			if (r > 0)
				return 0;
			if (r < 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
}
