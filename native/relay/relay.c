/*
 * aegis-relay: the router's TCP byte relay. The router accepts the client,
 * wakes the instance, connects upstream, then hands both sockets to this
 * process as fd 0 (client) and fd 1 (upstream). Bytes move with splice(2)
 * through a pipe per direction, so they never enter user space: a relay
 * in the router's own process copied each byte twice more and ran at
 * under half the direct rate.
 *
 * Each direction ends on its own: end of stream from one side becomes a
 * FIN to the other (TCP half-close, RFC 9293 §3.6) while the opposite
 * direction keeps flowing. An error on either side resets both, so that a
 * peer never mistakes a broken relay for a clean end. Exit status: 0 when
 * both directions ended cleanly, 1 after a reset, 2 on bad use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_BYTES (1 << 20)
#define SPLICE_BYTES (1 << 20)
#define UNSENT_BYTES (512 << 10)

struct direction {
	int from;
	int to;
	int pipe[2];
	size_t queued;
	int ended;	/* the source sent its FIN */
	int done;	/* ... and everything was passed on, then the FIN */
};

static void reset(int fd)
{
	struct linger now = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof(now));
	close(fd);
}

static void __attribute__((noreturn)) reset_both(void)
{
	reset(0);
	reset(1);
	_exit(1);
}

static int open_direction(struct direction *dir, int from, int to)
{
	dir->from = from;
	dir->to = to;
	dir->queued = 0;
	dir->ended = 0;
	dir->done = 0;
	if (pipe2(dir->pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	/* A larger pipe moves more per call; the default also works. */
	fcntl(dir->pipe[1], F_SETPIPE_SZ, PIPE_BYTES);
	return 0;
}

/* Moves what it can without blocking; resets both sides on an error. */
static void pump(struct direction *dir)
{
	ssize_t moved;

	while (!dir->ended) {
		moved = splice(dir->from, NULL, dir->pipe[1], NULL, SPLICE_BYTES,
			       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (moved > 0) {
			dir->queued += (size_t)moved;
			continue;
		}
		if (moved == 0)
			dir->ended = 1;
		else if (errno != EAGAIN && errno != EINTR)
			reset_both();
		break;
	}
	while (dir->queued > 0) {
		moved = splice(dir->pipe[0], NULL, dir->to, NULL, dir->queued,
			       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (moved > 0) {
			dir->queued -= (size_t)moved;
			continue;
		}
		if (moved < 0 && errno != EAGAIN && errno != EINTR)
			reset_both();
		break;
	}
	if (dir->ended && dir->queued == 0 && !dir->done) {
		shutdown(dir->to, SHUT_WR);
		dir->done = 1;
	}
}

static short wanted(const struct direction *in, const struct direction *out)
{
	short events = 0;

	/* A full pipe stops the reads: backpressure reaches the sender. */
	if (!in->ended && in->queued < PIPE_BYTES)
		events |= POLLIN;
	if (out->queued > 0)
		events |= POLLOUT;
	return events;
}

int main(void)
{
	struct direction up, down;
	struct pollfd fds[2];
	int unsent = UNSENT_BYTES;

	if (open_direction(&up, 0, 1) < 0 || open_direction(&down, 1, 0) < 0)
		return 2;
	/*
	 * Splicing is cheap, so the relay would otherwise queue megabytes of
	 * unsent bytes in each socket; they wait there long enough to leave
	 * the CPU caches, and the reader's copy then costs some 40% more.
	 * Unlike SO_SNDBUF this leaves the bytes in flight alone, so a
	 * distant peer still gets a full window.
	 */
	setsockopt(0, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &unsent, sizeof(unsent));
	setsockopt(1, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &unsent, sizeof(unsent));
	/* Spawned with the sockets as stdio, which the spawner made blocking. */
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_NONBLOCK);
	pump(&up);
	pump(&down);
	while (!up.done || !down.done) {
		fds[0].events = wanted(&up, &down);
		fds[1].events = wanted(&down, &up);
		/* A socket with nothing to wait for could still report a hang-up
		 * at every call; leave it out rather than spin. */
		fds[0].fd = fds[0].events ? 0 : -1;
		fds[1].fd = fds[1].events ? 1 : -1;
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			reset_both();
		if ((fds[0].revents | fds[1].revents) & POLLERR)
			reset_both();
		pump(&up);
		pump(&down);
	}
	return 0;
}
