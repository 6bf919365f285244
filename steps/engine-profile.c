/*
 * engine-profile.c: one profile, many processes. A profile's directory is shared by every
 * wizard that opens it: a headless set in one shell, a run --all in another, the interactive
 * wizard in a third. Three things keep them from undoing each other:
 *
 *   - The lock: state.lock in the profile directory, flock'ed around every read-modify-write
 *     of state.json (update_begin .. update_end). Under it the state is read again from the
 *     file, the caller's change is applied to what is there, and the result is written, so
 *     no process writes back an older copy over another's change. Updates nest: only the
 *     outermost one reads and writes.
 *   - The watch: a process that stays (the interactive wizard) is told when another one
 *     replaced state.json (inotify on the directory); the state is read again and it redraws.
 *   - The session: session.lock, flock'ed by an interactive wizard for as long as it runs,
 *     holding its pid and start time; a second one is told who holds the profile and may look
 *     read-only (every write refused) instead.
 *
 * A write that fails is an error for the caller, and what was not written is not kept in
 * memory either: the state is read back from the file.
 */
#include "config.h"

#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine-int.h"
#include "loop.h"
#include "util.h"

/* How long a writer waits for another one to finish its update. */
#define PROFILE_LOCK_WAIT_MS 10000

/* Remember which file state.json is now (missing: all zero). */
static void
profile_seen(struct engine *e)
{
	struct stat sb;

	memset(&e->seen, 0, sizeof e->seen);
	if (stat(e->state->path, &sb) == 0)
		e->seen = sb;
}

/* Is state.json another file than the one read or written last? */
static bool
profile_changed(const struct engine *e)
{
	struct stat sb;

	if (stat(e->state->path, &sb) != 0)
		return e->seen.st_ino != 0;
	return sb.st_ino != e->seen.st_ino || sb.st_dev != e->seen.st_dev ||
	    sb.st_size != e->seen.st_size || sb.st_mtim.tv_sec != e->seen.st_mtim.tv_sec ||
	    sb.st_mtim.tv_nsec != e->seen.st_mtim.tv_nsec;
}

/* Open the profile's lock file. */
int
profile_open(struct engine *e, char **cause)
{
	char *path = xprintf("%s/state.lock", e->dir);

	e->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (e->lock_fd < 0) {
		set_cause(cause, "cannot open the profile's lock %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	profile_seen(e);
	return 0;
}

/* Release what profile_open, engine_claim and engine_on_change hold. */
void
profile_close(struct engine *e)
{
	if (e->watch_fd >= 0) {
		loop_del_fd(e->loop, e->watch_fd);
		close(e->watch_fd);
	}
	if (e->session_fd >= 0)
		close(e->session_fd);
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	e->watch_fd = e->session_fd = e->lock_fd = -1;
	free(e->readonly);
	free(e->update_error);
	e->readonly = e->update_error = NULL;
}

/* Take the profile's lock, waiting for another writer to finish (at most a while). */
static int
profile_lock(struct engine *e, char **cause)
{
	uint64_t end = now_ms() + PROFILE_LOCK_WAIT_MS;
	struct timespec pause = { 0, 1000000 };

	for (;;) {
		if (flock(e->lock_fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return set_cause(cause, "cannot lock %s/state.lock: %s", e->dir,
			    strerror(errno));
		if (now_ms() >= end)
			return set_cause(cause, "another dstack-wizard has held the lock of profile "
			    "%s for %d s (%s/state.lock); is it stopped?", e->profile,
			    PROFILE_LOCK_WAIT_MS / 1000, e->dir);
		nanosleep(&pause, NULL);
	}
}

/* Read the state from its file again, in place of the one in memory. */
static int
profile_reload(struct engine *e, char **cause)
{
	struct state *st;

	if (state_load(e->state->path, &st, cause) != 0)
		return -1;
	if (st->notice != NULL) {
		free(e->notice);
		e->notice = xstrdup(st->notice);
	}
	state_free(&e->state);
	e->state = st;
	profile_seen(e);
	return 0;
}

/*
 * Begin a change of the state: lock the profile and read the state again, so that the change
 * applies to what is on disk now. A failure is kept for update_end to report (the change is
 * then not written).
 */
void
update_begin(struct engine *e)
{
	char *why = NULL;

	if (e->updating++ > 0)
		return;
	if (e->readonly != NULL) {
		e->update_error = xstrdup(e->readonly);
		return;
	}
	if (profile_lock(e, &why) != 0) {
		e->update_error = why;
		return;
	}
	e->locked = true;
	if (profile_reload(e, &why) != 0)
		e->update_error = why;
}

/*
 * End a change: write the state and unlock. Returns -1 with *cause (when cause is not NULL)
 * when it could not be written; the state in memory is then read back from the file, so that
 * nothing shows what is not saved.
 */
int
update_end(struct engine *e, char **cause)
{
	char *why = NULL, *ignored = NULL;

	if (e->updating == 0)
		fatal("update_end without update_begin");
	if (--e->updating > 0)
		return 0;
	if (e->update_error != NULL) {
		why = e->update_error;
		e->update_error = NULL;
	} else if (state_save(e->state, &why) == 0)
		profile_seen(e);
	if (why != NULL && profile_reload(e, &ignored) != 0)
		free(ignored);
	if (e->locked) {
		flock(e->lock_fd, LOCK_UN);
		e->locked = false;
	}
	if (why == NULL)
		return 0;
	free(e->notice);
	e->notice = xprintf("could not save the state: %s", why);
	if (cause != NULL)
		set_cause(cause, "%s", why);
	free(why);
	return -1;
}

/* Read the state again if another process replaced it; returns whether it did. */
static bool
profile_refresh(struct engine *e)
{
	char *why = NULL;
	bool changed;

	if (e->updating > 0 || !profile_changed(e) || profile_lock(e, &why) != 0) {
		free(why);
		return false;
	}
	changed = profile_changed(e) && profile_reload(e, &why) == 0;
	free(why);
	flock(e->lock_fd, LOCK_UN);
	return changed;
}

/* The profile directory changed: if state.json was replaced, read it and tell the caller. */
static void
profile_watch_cb(int fd, short revents, void *data)
{
	struct engine *e = data;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool state = false;
	ssize_t n;

	(void)revents;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len > 0 && strcmp(ev->name, "state.json") == 0)
				state = true;
			if (ev->mask & IN_Q_OVERFLOW)
				state = true;
			p += sizeof *ev + ev->len;
		}
	}
	if (state && profile_refresh(e) && e->on_change != NULL)
		e->on_change(e->change_data);
}

/* Call fn(data) whenever another process changed the state (it is read again first). */
void
engine_on_change(struct engine *e, void (*fn)(void *data), void *data)
{
	e->on_change = fn;
	e->change_data = data;
	if (fn == NULL || e->watch_fd >= 0)
		return;
	e->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (e->watch_fd < 0)
		return;
	if (inotify_add_watch(e->watch_fd, e->dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE) < 0) {
		close(e->watch_fd);
		e->watch_fd = -1;
		return;
	}
	loop_add_fd(e->loop, e->watch_fd, POLLIN, profile_watch_cb, e);
}

/* Claim the profile for an interactive session; see engine.h. */
int
engine_claim(struct engine *e, char **holder, char **cause)
{
	char *path = xprintf("%s/session.lock", e->dir), buf[64], when[32];
	long long pid = 0, since = 0;
	ssize_t n;
	int fd;

	*holder = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		set_cause(cause, "cannot open %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		if (ftruncate(fd, 0) == 0)
			dprintf(fd, "%ld %lld\n", (long)getpid(), (long long)time(NULL));
		e->session_fd = fd;
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		set_cause(cause, "cannot lock %s/session.lock: %s", e->dir, strerror(errno));
		close(fd);
		return -1;
	}
	n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (sscanf(buf, "%lld %lld", &pid, &since) == 2 && pid > 0 && since > 0) {
		struct tm tm;
		time_t t = (time_t)since;

		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
		*holder = xprintf("pid %lld, since %s", pid, when);
	} else
		*holder = xstrdup("a process that is starting");
	return 1;
}

/* Refuse every write from now on, saying why. */
void
engine_set_readonly(struct engine *e, const char *why)
{
	free(e->readonly);
	e->readonly = xstrdup(why);
}

/* Why writes are refused, or NULL. */
const char *
engine_readonly(const struct engine *e)
{
	return e->readonly;
}
