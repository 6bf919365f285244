/*
 * state.c: the profile's state file, state.json, and the struct state that holds it in memory.
 *
 * The file's JSON, read and written, is state-json.c's; this file holds the struct in
 * memory, finds the profile's directory, and loads and saves the file. A file of a newer
 * schema is refused and left alone; a file that is not valid is moved aside to
 * "<path>.corrupt-<UTC time>" (never silently dropped) and the wizard starts afresh with a
 * notice that says where the old file went.
 *
 * Only SRC_USER and SRC_CAPTURE inputs are ever stored. Asking state_set_input() to hold a value
 * of any other source (a secret from the environment, a file or a prompt, or a default) is a
 * bug in the caller: the call is ignored, so the value can never reach the file; state_save()
 * also skips any such input that was put into the array by hand.
 *
 * Writes are atomic: "<path>.tmp-<pid>" is created O_EXCL 0600, written, fsync'd and renamed
 * over the file, then the directory is fsync'd, so a crash or SIGKILL leaves either the old or
 * the new file. A writer killed mid-write may leave its temp file behind; the next successful
 * state_load() or state_save() removes temp files whose writer is gone (its pid no longer
 * exists, or the file is over an hour old).
 */
#include "config.h"

#include "state.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state-int.h"
#include "util.h"

/* A temp file older than this has no live writer, whatever its pid says. */
#define STATE_TEMP_MAX_AGE (60 * 60)

/* The longest profile name. */
#define STATE_PROFILE_MAX 64

/* Name a value source. */
const char *
value_source_name(enum value_source s)
{
	switch (s) {
	case SRC_NONE:
		return "none";
	case SRC_DEFAULT:
		return "default";
	case SRC_USER:
		return "user";
	case SRC_CAPTURE:
		return "capture";
	case SRC_ENV:
		return "env";
	case SRC_FILE:
		return "file";
	case SRC_PROMPT:
		return "prompt";
	}
	return "unknown";
}

/* Name a saved status. */
const char *
saved_status_name(enum saved_status s)
{
	switch (s) {
	case SAVED_NONE:
		return "none";
	case SAVED_DONE:
		return "done";
	case SAVED_FAILED:
		return "failed";
	case SAVED_STALE:
		return "stale";
	case SAVED_CANCELED:
		return "canceled";
	}
	return "unknown";
}

/* Tell whether a source may be written to the state file. */
bool
state_storable(enum value_source s)
{
	return s == SRC_USER || s == SRC_CAPTURE;
}

/* Check a profile name: [A-Za-z0-9._-]+, not starting with '.', at most 64 bytes. */
static int
state_check_profile(const char *profile, char **cause)
{
	size_t len;

	if (profile == NULL || *profile == '\0')
		return set_cause(cause, "the profile name is empty");
	len = strlen(profile);
	if (len > STATE_PROFILE_MAX) {
		return set_cause(cause, "the profile name is longer than %d characters",
		    STATE_PROFILE_MAX);
	}
	if (profile[0] == '.')
		return set_cause(cause, "the profile name must not start with '.'");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)profile[i];

		if (!(isascii(c) && isalnum(c)) && c != '.' && c != '_' && c != '-') {
			return set_cause(cause, "the profile name may only contain letters, "
			    "digits, '.', '_' and '-'");
		}
	}
	return 0;
}

/* Find the base of the state directories: $XDG_STATE_HOME or ~/.local/state. */
static int
state_base_dir(char **out, char **cause)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	struct passwd *pw;

	/* The XDG spec says a relative path is invalid and must be ignored. */
	if (xdg != NULL && xdg[0] == '/') {
		*out = xstrdup(xdg);
		return 0;
	}
	if (home == NULL || home[0] != '/') {
		pw = getpwuid(getuid());
		if (pw == NULL || pw->pw_dir == NULL || pw->pw_dir[0] != '/') {
			return set_cause(cause, "cannot find the state directory: neither "
			    "XDG_STATE_HOME nor HOME is an absolute path");
		}
		home = pw->pw_dir;
	}
	*out = xprintf("%s/.local/state", home);
	return 0;
}

/* Find (and create, 0700) the state directory of a profile. */
int
state_dir(const char *profile, char **out, char **cause)
{
	struct stat sb;
	char *base = NULL, *dir;

	if (state_check_profile(profile, cause) != 0)
		return -1;
	if (state_base_dir(&base, cause) != 0)
		return -1;
	for (size_t n = strlen(base); n > 1 && base[n - 1] == '/'; n--)
		base[n - 1] = '\0';
	dir = xprintf("%s/dstack-wizard/%s", base, profile);
	free(base);

	if (mkdir_p(dir, 0700, cause) != 0)
		goto fail;
	if (lstat(dir, &sb) != 0) {
		set_cause(cause, "cannot use directory %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (!S_ISDIR(sb.st_mode)) {
		set_cause(cause, "cannot use %s: it is not a directory", dir);
		goto fail;
	}
	/*
	 * mkdir's mode is cut by the umask, and a directory made earlier may be looser: make it
	 * 0700 when it is ours. (One owned by someone else is left alone; saving into it will
	 * fail or succeed on its own terms.)
	 */
	if ((sb.st_mode & 07777) != 0700 && sb.st_uid == geteuid() && chmod(dir, 0700) != 0) {
		set_cause(cause, "cannot make %s private (chmod 0700): %s", dir, strerror(errno));
		goto fail;
	}
	*out = dir;
	return 0;

fail:
	free(dir);
	return -1;
}

/* Create an empty state. */
struct state *
state_new(const char *path)
{
	struct state *st = xcalloc(1, sizeof *st);

	st->schema = STATE_SCHEMA;
	st->path = xstrdup(path);
	return st;
}

/* Free one input's strings. */
static void
state_input_clear(struct state_input *in)
{
	free(in->name);
	free(in->value);
	free(in->from_step);
	memset(in, 0, sizeof *in);
}

/* Free one attempt's strings. */
void
state_attempt_clear(struct state_attempt *a)
{
	free(a->kind);
	free(a->where);
	free(a->outcome);
	free(a->message);
	for (size_t i = 0; i < a->nhints; i++) {
		free(a->hints[i].say);
		free(a->hints[i].fix);
	}
	free(a->hints);
	free(a->log_path);
	memset(a, 0, sizeof *a);
}

/* Free one step's strings. */
static void
state_step_clear(struct state_step *s)
{
	free(s->id);
	free(s->message);
	free(s->log_path);
	free(s->job);
	for (size_t i = 0; i < s->nattempts; i++)
		state_attempt_clear(&s->attempts[i]);
	free(s->attempts);
	state_clear_causes(s);
	state_clear_made(s);
	for (size_t i = 0; i < s->nticks; i++)
		free(s->ticks[i].item);
	free(s->ticks);
	memset(s, 0, sizeof *s);
}

/* Add a cause of staleness to a step, unless it has one for the same step or input. */
void
state_add_cause(struct state_step *s, const char *step, const char *input, const char *was,
    const char *why)
{
	struct state_cause *c;

	for (size_t i = 0; i < s->ncauses; i++) {
		c = &s->causes[i];
		if ((step != NULL && c->step != NULL && strcmp(c->step, step) == 0) ||
		    (input != NULL && c->input != NULL && strcmp(c->input, input) == 0))
			return;
	}
	s->causes = xreallocarray(s->causes, s->ncauses + 1, sizeof *s->causes);
	c = &s->causes[s->ncauses++];
	c->step = step != NULL ? xstrdup(step) : NULL;
	c->input = input != NULL ? xstrdup(input) : NULL;
	c->was = was != NULL ? xstrdup(was) : NULL;
	c->why = why != NULL ? xstrdup(why) : NULL;
}

/* Remove the k-th cause of a step's staleness. */
void
state_remove_cause(struct state_step *s, size_t k)
{
	struct state_cause *c = &s->causes[k];

	free(c->step);
	free(c->input);
	free(c->was);
	free(c->why);
	memmove(c, c + 1, (s->ncauses - k - 1) * sizeof *c);
	s->ncauses--;
}

/* Forget every cause of a step's staleness. */
void
state_clear_causes(struct state_step *s)
{
	while (s->ncauses > 0)
		state_remove_cause(s, s->ncauses - 1);
	free(s->causes);
	s->causes = NULL;
}

/* Forget the values a step's action last ran with. */
void
state_clear_made(struct state_step *s)
{
	for (size_t i = 0; i < s->nmade; i++) {
		free(s->made[i].name);
		free(s->made[i].value);
	}
	free(s->made);
	s->made = NULL;
	s->nmade = 0;
}

/* Add a value a step's action ran with. */
void
state_add_made(struct state_step *s, const char *name, const char *value)
{
	s->made = xreallocarray(s->made, s->nmade + 1, sizeof *s->made);
	s->made[s->nmade].name = xstrdup(name);
	s->made[s->nmade].value = xstrdup(value);
	s->nmade++;
}

/* Free a state. */
void
state_free(struct state **stp)
{
	struct state *st = *stp;

	if (st == NULL)
		return;
	for (size_t i = 0; i < st->ninputs; i++)
		state_input_clear(&st->inputs[i]);
	free(st->inputs);
	for (size_t i = 0; i < st->nsteps; i++)
		state_step_clear(&st->steps[i]);
	free(st->steps);
	free(st->path);
	free(st->notice);
	free(st->target);
	free(st->identity);
	free(st->known_hosts);
	free(st);
	*stp = NULL;
}

/* Find an input's index, or -1. */
static ssize_t
state_find_input(const struct state *st, const char *name)
{
	for (size_t i = 0; i < st->ninputs; i++) {
		if (strcmp(st->inputs[i].name, name) == 0)
			return (ssize_t)i;
	}
	return -1;
}

/* Get an input (NULL if unset). */
const struct state_input *
state_get_input(const struct state *st, const char *name)
{
	ssize_t i = state_find_input(st, name);

	return i < 0 ? NULL : &st->inputs[i];
}

/*
 * Set an input, copying every string; an existing input of that name is replaced in place, so
 * the order is that of first setting. Sources other than SRC_USER and SRC_CAPTURE are never
 * stored: such a call is a caller's bug and is ignored. from_step is kept only for SRC_CAPTURE.
 * The arguments may point into the input being replaced.
 */
void
state_set_input(struct state *st, const char *name, const char *value,
    enum value_source source, const char *from_step, time_t at)
{
	struct state_input new;
	ssize_t i;

	if (name == NULL || value == NULL)
		fatal("state_set_input: NULL %s", name == NULL ? "name" : "value");
	if (!state_storable(source))
		return;

	new.name = xstrdup(name);
	new.value = xstrdup(value);
	new.source = source;
	new.from_step = source == SRC_CAPTURE ? xstrdup(from_step) : NULL;
	new.at = at;

	i = state_find_input(st, name);
	if (i >= 0) {
		state_input_clear(&st->inputs[i]);
		st->inputs[i] = new;
		return;
	}
	st->inputs = xreallocarray(st->inputs, st->ninputs + 1, sizeof *st->inputs);
	st->inputs[st->ninputs++] = new;
}

/* Remove an input, keeping the others in order. */
void
state_unset_input(struct state *st, const char *name)
{
	ssize_t i = state_find_input(st, name);

	if (i < 0)
		return;
	state_input_clear(&st->inputs[i]);
	memmove(&st->inputs[i], &st->inputs[i + 1],
	    (st->ninputs - (size_t)i - 1) * sizeof *st->inputs);
	st->ninputs--;
}

/* Get a step's saved record (NULL if none). */
struct state_step *
state_get_step(const struct state *st, const char *id)
{
	for (size_t i = 0; i < st->nsteps; i++) {
		if (strcmp(st->steps[i].id, id) == 0)
			return &st->steps[i];
	}
	return NULL;
}

/*
 * Get a step's saved record, creating an empty one (SAVED_NONE) at the end if there is none.
 * Creating one moves the array: earlier pointers from state_step() and state_get_step() are
 * then no longer valid.
 */
struct state_step *
state_step(struct state *st, const char *id)
{
	struct state_step *s = state_get_step(st, id);

	if (s != NULL)
		return s;
	if (id == NULL)
		fatal("state_step: NULL id");
	st->steps = xreallocarray(st->steps, st->nsteps + 1, sizeof *st->steps);
	s = &st->steps[st->nsteps++];
	memset(s, 0, sizeof *s);
	s->id = xstrdup(id);
	s->status = SAVED_NONE;
	return s;
}

/* Add a copy of a run to a step's history; the oldest goes beyond STATE_MAX_ATTEMPTS. */
void
state_add_attempt(struct state_step *s, const struct state_attempt *a)
{
	struct state_attempt *n;

	if (s->nattempts == STATE_MAX_ATTEMPTS) {
		state_attempt_clear(&s->attempts[0]);
		memmove(&s->attempts[0], &s->attempts[1], (s->nattempts - 1) * sizeof *s->attempts);
		s->nattempts--;
	} else
		s->attempts = xreallocarray(s->attempts, s->nattempts + 1, sizeof *s->attempts);
	n = &s->attempts[s->nattempts++];
	n->kind = xstrdup(a->kind != NULL ? a->kind : "check");
	n->started_at = a->started_at;
	n->duration_ms = a->duration_ms;
	n->where = xstrdup(a->where);
	n->outcome = xstrdup(a->outcome != NULL ? a->outcome : "failed");
	n->exit_code = a->exit_code;
	n->message = xstrdup(a->message);
	n->hints = xcalloc(a->nhints + 1, sizeof *n->hints);
	for (size_t i = 0; i < a->nhints; i++) {
		n->hints[i].say = xstrdup(a->hints[i].say != NULL ? a->hints[i].say : "");
		n->hints[i].fix = xstrdup(a->hints[i].fix);
	}
	n->nhints = a->nhints;
	n->log_path = xstrdup(a->log_path);
}

/* When a checklist item was ticked; 0 when it is not. */
time_t
state_ticked(const struct state_step *s, const char *item)
{
	for (size_t i = 0; i < s->nticks; i++)
		if (strcmp(s->ticks[i].item, item) == 0)
			return s->ticks[i].at;
	return 0;
}

/* Tick a checklist item at a time (again: the new time), or untick it (at 0). */
void
state_tick(struct state_step *s, const char *item, time_t at)
{
	size_t i;

	for (i = 0; i < s->nticks; i++)
		if (strcmp(s->ticks[i].item, item) == 0)
			break;
	if (i < s->nticks && at == 0) {
		free(s->ticks[i].item);
		memmove(&s->ticks[i], &s->ticks[i + 1], (s->nticks - i - 1) * sizeof *s->ticks);
		s->nticks--;
		return;
	}
	if (at == 0)
		return;
	if (i == s->nticks) {
		s->ticks = xreallocarray(s->ticks, s->nticks + 1, sizeof *s->ticks);
		s->ticks[s->nticks++].item = xstrdup(item);
	}
	s->ticks[i].at = at;
}

/* Split a path into its directory ("." if none) and base name. */
static void
state_split(const char *path, char **dir, const char **base)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		*dir = xstrdup(".");
		*base = path;
	} else if (slash == path) {
		*dir = xstrdup("/");
		*base = slash + 1;
	} else {
		*dir = xstrndup(path, (size_t)(slash - path));
		*base = slash + 1;
	}
}

/* Remove temp files that a killed writer left next to path ("<base>.tmp-<pid>"). */
static void
state_clean_temps(const char *path)
{
	struct dirent *de;
	struct stat sb;
	const char *base, *p;
	char *dirpath, *prefix, *end;
	size_t plen;
	long pid;
	DIR *d;
	int dfd;

	state_split(path, &dirpath, &base);
	prefix = xprintf("%s.tmp-", base);
	plen = strlen(prefix);
	d = opendir(dirpath);
	if (d == NULL)
		goto out;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		p = de->d_name + plen;
		if (!isdigit((unsigned char)*p))
			continue;
		errno = 0;
		pid = strtol(p, &end, 10);
		if (*end != '\0' || errno != 0 || pid <= 0 || pid > INT_MAX)
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
			continue;
		/* Our own pid: we are not saving now, so it is a leftover of a reused pid. */
		if (pid != (long)getpid() && !(kill((pid_t)pid, 0) != 0 && errno == ESRCH) &&
		    time(NULL) - sb.st_mtime < STATE_TEMP_MAX_AGE)
			continue;
		unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
out:
	free(prefix);
	free(dirpath);
}

/* Move a bad state file aside to "<path>.corrupt-<UTC time>[-N]". */
static int
state_move_aside(const char *path, char **newpath, char **cause)
{
	char stamp[32], *cand;
	struct stat sb;
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	for (int n = 1; n <= 1000; n++) {
		if (n == 1)
			cand = xprintf("%s.corrupt-%s", path, stamp);
		else
			cand = xprintf("%s.corrupt-%s-%d", path, stamp, n);
		if (renameat2(AT_FDCWD, path, AT_FDCWD, cand, RENAME_NOREPLACE) == 0) {
			*newpath = cand;
			return 0;
		}
		if (errno == EINVAL || errno == ENOSYS) {
			/* A file system without RENAME_NOREPLACE: check, then rename. */
			if (lstat(cand, &sb) != 0 && errno == ENOENT) {
				if (rename(path, cand) == 0) {
					*newpath = cand;
					return 0;
				}
			} else
				errno = EEXIST;
		}
		if (errno != EEXIST) {
			set_cause(cause, "state file %s is not valid, and it cannot be moved aside "
			    "to %s: %s", path, cand, strerror(errno));
			free(cand);
			return -1;
		}
		free(cand);
	}
	return set_cause(cause, "state file %s is not valid, and it cannot be moved aside: too "
	    "many %s.corrupt-%s* files", path, path, stamp);
}

/*
 * Read the file (at most STATE_MAX_SIZE bytes). Returns 0 with *text (NULL if the file is
 * missing), 1 if it is too large (not read), -1 on error. *sb is the open file's stat.
 */
static int
state_read(const char *path, char **text, size_t *len, struct stat *sb, char **cause)
{
	struct strbuf buf = {0};
	char chunk[65536];
	ssize_t n;
	int fd;

	*text = NULL;
	*len = 0;
	/* O_NONBLOCK so that a FIFO in its place cannot hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return set_cause(cause, "cannot open state file %s: %s", path, strerror(errno));
	}
	if (fstat(fd, sb) != 0) {
		set_cause(cause, "cannot read state file %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb->st_mode)) {
		set_cause(cause, "cannot read state file %s: it is not a regular file", path);
		goto fail;
	}
	if (sb->st_size > STATE_MAX_SIZE) {
		close(fd);
		return 1;
	}
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			set_cause(cause, "cannot read state file %s: %s", path, strerror(errno));
			goto fail;
		}
		if (buf.len + (size_t)n > STATE_MAX_SIZE) {
			close(fd);
			sb_free(&buf);
			return 1;
		}
		sb_add(&buf, chunk, (size_t)n);
	}
	close(fd);
	*len = buf.len;
	*text = sb_detach(&buf);
	return 0;

fail:
	close(fd);
	sb_free(&buf);
	return -1;
}

/* Load path; see state.h. */
int
state_load(const char *path, struct state **out, char **cause)
{
	struct state *st;
	struct stat sb, now;
	char *text, *why = NULL, *newpath = NULL;
	size_t len;
	int rc, tries = 0;

	*out = NULL;
	if (path == NULL || *path == '\0')
		return set_cause(cause, "no state file path");
again:
	st = state_new(path);
	rc = state_read(path, &text, &len, &sb, cause);
	if (rc < 0) {
		state_free(&st);
		return -1;
	}
	if (rc == 0 && text == NULL)
		goto done;	/* no file yet */

	if (rc == 1)
		set_cause(&why, "it is larger than %d MiB", STATE_MAX_SIZE / (1024 * 1024));
	else
		rc = state_parse(st, text, len, &why);
	free(text);
	if (rc == 0)
		goto done;
	if (rc == -2) {
		set_cause(cause, "state file %s %s", path, why);
		free(why);
		state_free(&st);
		return -1;
	}

	/* Not valid. Another wizard may have replaced it since: if so, read it again. */
	if (lstat(path, &now) != 0 || now.st_ino != sb.st_ino || now.st_dev != sb.st_dev) {
		free(why);
		why = NULL;
		state_free(&st);
		if (++tries < 3)
			goto again;
		return set_cause(cause, "state file %s keeps changing while it is read", path);
	}
	if (state_move_aside(path, &newpath, cause) != 0) {
		free(why);
		state_free(&st);
		return -1;
	}
	state_free(&st);
	st = state_new(path);
	st->notice = xprintf("state file %s was not valid (%s); moved it to %s and started afresh",
	    path, why, newpath);
	free(why);
	free(newpath);

done:
	state_clean_temps(path);
	*out = st;
	return 0;
}

/* Write all of buf to fd. */
static int
state_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Flush a directory's entries to disk. */
static int
state_sync_dir(const char *dir)
{
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	/* Some file systems cannot sync a directory; that is not an error of ours. */
	if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
		rc = -1;
	close(fd);
	return rc;
}

/* Save the state atomically: temp file, fsync, rename, fsync the directory. */
int
state_save(const struct state *st, char **cause)
{
	const char *base;
	char *text, *tmp, *dir;
	int fd, saved;

	if (st == NULL || st->path == NULL || *st->path == '\0')
		return set_cause(cause, "cannot save state: no state file path");

	text = state_render(st);
	tmp = xprintf("%s.tmp-%ld", st->path, (long)getpid());
	state_split(st->path, &dir, &base);

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == EEXIST) {
		/* Ours by name: left by an earlier process that had our pid. */
		unlink(tmp);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0) {
		set_cause(cause, "cannot save state: cannot create %s: %s", tmp, strerror(errno));
		goto fail_nofile;
	}
	/* The umask cannot loosen 0600, but an odd one could tighten it. */
	if (fchmod(fd, 0600) != 0) {
		set_cause(cause, "cannot save state: chmod %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (state_write_all(fd, text, strlen(text)) != 0) {
		set_cause(cause, "cannot save state: cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (fsync(fd) != 0) {
		set_cause(cause, "cannot save state: cannot sync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		set_cause(cause, "cannot save state: cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, st->path) != 0) {
		set_cause(cause, "cannot save state: cannot rename %s to %s: %s", tmp, st->path,
		    strerror(errno));
		goto fail;
	}
	if (state_sync_dir(dir) != 0) {
		/* The new file is in place; only its durability is in doubt. */
		set_cause(cause, "saved state to %s, but cannot sync directory %s: %s", st->path,
		    dir, strerror(errno));
		free(dir);
		free(tmp);
		free(text);
		return -1;
	}
	state_clean_temps(st->path);
	free(dir);
	free(tmp);
	free(text);
	return 0;

fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
fail_nofile:
	free(dir);
	free(tmp);
	free(text);
	return -1;
}
