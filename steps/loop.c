/*
 * loop.c: the one event loop. It owns the fd watches, the one-shot timers and the signal
 * watchers, and the self-pipe that carries signals into the loop.
 *
 * Callbacks may add or delete watches, timers and signal watchers (their own included)
 * while the loop dispatches: each turn polls a snapshot of the watches, and before a
 * callback runs its watch is looked up again by a unique id, so a watch deleted or replaced
 * since the poll is skipped. Timers added during a turn wait for the next turn.
 *
 * Signals are process-wide, so one loop at a time may watch them. The handler only marks
 * the signal pending and writes a byte to the non-blocking self-pipe (keeping errno); the
 * callbacks run from loop_run_once. The previous handler of a signal comes back when its
 * last watcher goes, and in loop_free.
 */
#include "config.h"

#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct loop_fd {
	int fd;
	short events;
	loop_fd_cb cb;
	void *data;
	uint64_t id;
};

struct loop_timer {
	uint64_t id;
	uint64_t when;    /* now_ms() deadline */
	loop_timer_cb cb;
	void *data;
};

struct loop_sig {
	uint64_t id;
	int sig;
	loop_signal_cb cb;
	void *data;
};

/* One poll() snapshot: the pollfd array and the watch id behind each entry. */
struct loop_snap {
	struct pollfd *pfds;
	uint64_t *ids;
	size_t cap;
};

struct loop {
	struct loop_fd *fds;
	size_t nfds;
	size_t capfds;

	struct loop_timer *timers;   /* sorted by (when, id) */
	size_t ntimers;
	size_t captimers;

	struct loop_sig *sigs;
	size_t nsigs;
	size_t capsigs;
	struct sigaction old[NSIG];  /* handlers to restore */
	bool installed[NSIG];

	int pipe[2];                 /* the self-pipe; -1 until a signal is watched */
	uint64_t next_id;
	struct loop_snap *snap;      /* kept between turns; taken while dispatching */
};

/* Only one loop at a time owns the signal handlers and the self-pipe. */
static struct loop *loop_sig_owner;
static volatile sig_atomic_t loop_sig_wfd = -1;
static volatile sig_atomic_t loop_sig_pending[NSIG];

/* Mark sig pending and wake the loop; async-signal-safe. */
static void
loop_sig_handler(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	int fd = loop_sig_wfd;

	if (sig > 0 && sig < NSIG)
		loop_sig_pending[sig] = 1;
	if (fd != -1) {
		if (write(fd, &b, 1) < 0) {
			/* Full pipe: the pending flag is enough. */
		}
	}
	errno = saved;
}

/* Create a loop. */
struct loop *
loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof *l);

	l->pipe[0] = l->pipe[1] = -1;
	l->next_id = 1;
	return l;
}

/* Put back the handler that was there before sig was first watched. */
static void
loop_restore_signal(struct loop *l, int sig)
{
	if (!l->installed[sig])
		return;
	sigaction(sig, &l->old[sig], NULL);
	l->installed[sig] = false;
	loop_sig_pending[sig] = 0;
}

/* Give up the signal handlers and the self-pipe once no signal is watched. */
static void
loop_release_signals(struct loop *l)
{
	for (int sig = 1; sig < NSIG; sig++)
		loop_restore_signal(l, sig);
	if (loop_sig_owner == l) {
		loop_sig_wfd = -1;
		loop_sig_owner = NULL;
	}
	if (l->pipe[0] != -1) {
		close(l->pipe[0]);
		close(l->pipe[1]);
		l->pipe[0] = l->pipe[1] = -1;
	}
}

/* Free a snapshot. */
static void
loop_snap_free(struct loop_snap *s)
{
	if (s == NULL)
		return;
	free(s->pfds);
	free(s->ids);
	free(s);
}

/* Free a loop, restoring the signal handlers it replaced. */
void
loop_free(struct loop **lp)
{
	struct loop *l = *lp;

	if (l == NULL)
		return;
	loop_release_signals(l);
	free(l->fds);
	free(l->timers);
	free(l->sigs);
	loop_snap_free(l->snap);
	free(l);
	*lp = NULL;
}

/* Find the watch of fd; NULL if none. */
static struct loop_fd *
loop_find_fd(struct loop *l, int fd)
{
	for (size_t i = 0; i < l->nfds; i++) {
		if (l->fds[i].fd == fd)
			return &l->fds[i];
	}
	return NULL;
}

/* Watch fd for events; replaces an earlier watch of the same fd. */
void
loop_add_fd(struct loop *l, int fd, short events, loop_fd_cb cb, void *data)
{
	struct loop_fd *w;

	if (fd < 0)
		fatal("loop_add_fd: bad fd %d", fd);
	w = loop_find_fd(l, fd);
	if (w == NULL) {
		if (l->nfds == l->capfds) {
			l->capfds = l->capfds ? l->capfds * 2 : 8;
			l->fds = xreallocarray(l->fds, l->capfds, sizeof *l->fds);
		}
		w = &l->fds[l->nfds++];
	}
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->data = data;
	w->id = l->next_id++;
}

/* Change the events watched on fd. */
void
loop_set_events(struct loop *l, int fd, short events)
{
	struct loop_fd *w = loop_find_fd(l, fd);

	if (w != NULL)
		w->events = events;
}

/* Stop watching fd. */
void
loop_del_fd(struct loop *l, int fd)
{
	struct loop_fd *w = loop_find_fd(l, fd);

	if (w == NULL)
		return;
	*w = l->fds[--l->nfds];
}

/* Add a one-shot timer; returns its id. */
uint64_t
loop_add_timer(struct loop *l, uint64_t ms, loop_timer_cb cb, void *data)
{
	struct loop_timer t;
	size_t lo = 0, hi;

	t.id = l->next_id++;
	t.when = now_ms() + ms;
	t.cb = cb;
	t.data = data;
	if (l->ntimers == l->captimers) {
		l->captimers = l->captimers ? l->captimers * 2 : 8;
		l->timers = xreallocarray(l->timers, l->captimers, sizeof *l->timers);
	}
	/* Ids grow, so a new timer goes after every timer with the same deadline. */
	hi = l->ntimers;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->timers[mid].when <= t.when)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&l->timers[lo + 1], &l->timers[lo], (l->ntimers - lo) * sizeof *l->timers);
	l->timers[lo] = t;
	l->ntimers++;
	return t.id;
}

/* Remove timer i from the sorted array. */
static void
loop_remove_timer(struct loop *l, size_t i)
{
	memmove(&l->timers[i], &l->timers[i + 1], (l->ntimers - i - 1) * sizeof *l->timers);
	l->ntimers--;
}

/* Delete a timer that has not fired yet; unknown ids are ignored. */
void
loop_del_timer(struct loop *l, uint64_t id)
{
	for (size_t i = 0; i < l->ntimers; i++) {
		if (l->timers[i].id == id) {
			loop_remove_timer(l, i);
			return;
		}
	}
}

/* Create the self-pipe and take the signal handlers for this loop. */
static void
loop_own_signals(struct loop *l)
{
	if (loop_sig_owner == l)
		return;
	if (loop_sig_owner != NULL)
		fatal("loop_on_signal: another loop already watches signals");
	if (pipe2(l->pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		fatal("loop_on_signal: pipe2: %s", strerror(errno));
	loop_sig_owner = l;
	loop_sig_wfd = l->pipe[1];
}

/* Watch a signal; several callbacks may watch the same one. */
uint64_t
loop_on_signal(struct loop *l, int sig, loop_signal_cb cb, void *data)
{
	struct loop_sig *s;

	if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP)
		fatal("loop_on_signal: bad signal %d", sig);
	loop_own_signals(l);
	if (!l->installed[sig]) {
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_handler = loop_sig_handler;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		if (sig == SIGCHLD)
			sa.sa_flags |= SA_NOCLDSTOP;
		loop_sig_pending[sig] = 0;
		if (sigaction(sig, &sa, &l->old[sig]) != 0)
			fatal("loop_on_signal: sigaction(%d): %s", sig, strerror(errno));
		l->installed[sig] = true;
	}
	if (l->nsigs == l->capsigs) {
		l->capsigs = l->capsigs ? l->capsigs * 2 : 8;
		l->sigs = xreallocarray(l->sigs, l->capsigs, sizeof *l->sigs);
	}
	s = &l->sigs[l->nsigs++];
	s->id = l->next_id++;
	s->sig = sig;
	s->cb = cb;
	s->data = data;
	return s->id;
}

/* Stop a signal watcher; the old handler is back when a signal's last watcher goes. */
void
loop_del_signal(struct loop *l, uint64_t id)
{
	int sig = 0;

	for (size_t i = 0; i < l->nsigs; i++) {
		if (l->sigs[i].id == id) {
			sig = l->sigs[i].sig;
			memmove(&l->sigs[i], &l->sigs[i + 1], (l->nsigs - i - 1) * sizeof *l->sigs);
			l->nsigs--;
			break;
		}
	}
	if (sig == 0)
		return;
	for (size_t i = 0; i < l->nsigs; i++) {
		if (l->sigs[i].sig == sig)
			return;
	}
	loop_restore_signal(l, sig);
	if (l->nsigs == 0)
		loop_release_signals(l);
}

/* Drain the self-pipe and run the callbacks of every pending signal. */
static int
loop_dispatch_signals(struct loop *l, uint64_t bound)
{
	unsigned char buf[64];
	int ran = 0;

	while (l->pipe[0] != -1 && read(l->pipe[0], buf, sizeof buf) > 0)
		;
	for (int sig = 1; sig < NSIG; sig++) {
		uint64_t ids[16], *idv = ids;
		size_t n = 0;

		if (!loop_sig_pending[sig])
			continue;
		loop_sig_pending[sig] = 0;
		/* Collect the ids first: callbacks may change the watcher list. */
		if (l->nsigs > nitems(ids))
			idv = xreallocarray(NULL, l->nsigs, sizeof *idv);
		for (size_t i = 0; i < l->nsigs; i++) {
			if (l->sigs[i].sig == sig && l->sigs[i].id < bound)
				idv[n++] = l->sigs[i].id;
		}
		for (size_t k = 0; k < n; k++) {
			for (size_t i = 0; i < l->nsigs; i++) {
				if (l->sigs[i].id == idv[k]) {
					loop_signal_cb cb = l->sigs[i].cb;
					void *data = l->sigs[i].data;

					cb(sig, data);
					ran++;
					break;
				}
			}
		}
		if (idv != ids)
			free(idv);
	}
	return ran;
}

/* Run the timers due now that existed when the turn began. */
static int
loop_dispatch_timers(struct loop *l, uint64_t bound)
{
	uint64_t now = now_ms();
	int ran = 0;

	for (;;) {
		size_t i;
		loop_timer_cb cb;
		void *data;

		for (i = 0; i < l->ntimers && l->timers[i].when <= now; i++) {
			if (l->timers[i].id < bound)
				break;
		}
		if (i == l->ntimers || l->timers[i].when > now)
			break;
		cb = l->timers[i].cb;
		data = l->timers[i].data;
		loop_remove_timer(l, i);
		cb(data);
		ran++;
	}
	return ran;
}

/* Wait up to timeout_ms and dispatch what is ready; returns the callbacks run or -1. */
int
loop_run_once(struct loop *l, int timeout_ms)
{
	struct loop_snap *s;
	uint64_t bound = l->next_id;
	size_t n = 0, npoll;
	int ready, ran = 0;
	bool sigpipe = l->pipe[0] != -1;

	/* Take the snapshot buffer so a nested call cannot reuse it under us. */
	s = l->snap;
	l->snap = NULL;
	if (s == NULL)
		s = xcalloc(1, sizeof *s);
	npoll = l->nfds + 1;
	if (s->cap < npoll) {
		s->cap = npoll + 8;
		s->pfds = xreallocarray(s->pfds, s->cap, sizeof *s->pfds);
		s->ids = xreallocarray(s->ids, s->cap, sizeof *s->ids);
	}
	if (sigpipe) {
		s->pfds[n].fd = l->pipe[0];
		s->pfds[n].events = POLLIN;
		s->ids[n] = 0;
		n++;
	}
	for (size_t i = 0; i < l->nfds; i++) {
		s->pfds[n].fd = l->fds[i].fd;
		s->pfds[n].events = l->fds[i].events;
		s->ids[n] = l->fds[i].id;
		n++;
	}

	if (l->ntimers > 0) {
		uint64_t now = now_ms(), when = l->timers[0].when;
		int wait = when <= now ? 0 : (when - now > INT32_MAX ? INT32_MAX : (int)(when - now));

		if (timeout_ms < 0 || wait < timeout_ms)
			timeout_ms = wait;
	}

	ready = poll(s->pfds, n, timeout_ms);
	if (ready < 0) {
		if (errno != EINTR) {
			int saved = errno;

			loop_snap_free(l->snap);
			l->snap = s;
			errno = saved;
			return -1;
		}
		/* A signal interrupted the wait: look at the self-pipe anyway. */
		for (size_t i = 0; i < n; i++)
			s->pfds[i].revents = 0;
		if (sigpipe)
			s->pfds[0].revents = POLLIN;
	}

	for (size_t i = 0; i < n; i++) {
		struct loop_fd *w;
		short rev = s->pfds[i].revents;
		loop_fd_cb cb;
		void *data;

		if (rev == 0)
			continue;
		if (sigpipe && i == 0) {
			ran += loop_dispatch_signals(l, bound);
			continue;
		}
		w = loop_find_fd(l, s->pfds[i].fd);
		if (w == NULL || w->id != s->ids[i])
			continue;   /* deleted or replaced since the poll */
		rev &= (short)(w->events | POLLERR | POLLHUP | POLLNVAL);
		if (rev == 0)
			continue;
		cb = w->cb;
		data = w->data;
		cb(s->pfds[i].fd, rev, data);
		ran++;
	}

	ran += loop_dispatch_timers(l, bound);

	if (l->snap == NULL)
		l->snap = s;
	else
		loop_snap_free(s);
	return ran;
}
