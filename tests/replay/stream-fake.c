/*
 * stream-fake.c: a fake collector for the remote console's bad-input
 * test. It listens on a Unix socket, takes one console and misbehaves:
 *   garbage       sends bytes that are not frames (an HTTP reply)
 *   truncated     announces a 1000-byte frame, sends 10 bytes, hangs up
 *   late-garbage  sends a valid (empty) snapshot, waits, then a frame that
 *                 is not an Update (the console is up by then)
 * It exits when the console hangs up or after 20 s.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "collector/model.h"
#include "collector/publisher_internal.h"

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd;
	int lfd, fd;
	char junk[256];

	if (argc != 3) {
		fprintf(stderr, "usage: stream-fake SOCKET garbage|truncated|late-garbage\n");
		return 2;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		perror("stream-fake: listen");
		return 1;
	}
	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&pfd, 1, 20000) <= 0)
		return 1;
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return 1;
	if (!strcmp(argv[2], "garbage")) {
		const char *http = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html></html>\n";

		if (write(fd, http, strlen(http)) < 0)
			return 1;
	} else if (!strcmp(argv[2], "truncated")) {
		const unsigned char part[14] = { 0xe8, 0x03, 0, 0, 8, 1, 0x58, 1, 0, 0, 0, 0, 0, 0 };

		if (write(fd, part, sizeof(part)) < 0)
			return 1;
		close(fd);
		unlink(argv[1]);
		return 0;
	} else {
		struct ts_model *m = NULL;
		struct ts_stream_encoder enc;
		struct ts_stream_buf snap = { 0 };
		struct ts_publisher_session sess = { .target = "fake (pid 1)", .mode = "live" };
		const unsigned char bad[8] = { 4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };

		ts_stream_encoder_init(&enc);
		if (ts_model_new(NULL, NULL, &m) < 0 || ts_stream_encode(&enc, m, &sess, 1, NULL, &snap) < 0)
			return 1;
		if (write(fd, snap.data, snap.len) < 0)
			return 1;
		sleep(2);
		if (write(fd, bad, sizeof(bad)) < 0)
			return 1;
		ts_stream_buf_free(&snap);
		ts_stream_encoder_fini(&enc);
		ts_model_free(m);
	}
	/* until the console hangs up */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (poll(&pfd, 1, 20000) > 0 && read(fd, junk, sizeof(junk)) > 0)
		;
	close(fd);
	unlink(argv[1]);
	return 0;
}
