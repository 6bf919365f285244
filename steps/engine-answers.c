/*
 * engine-answers.c: an answers file applied to the profile, and one written from it. Each
 * value goes through the same checks as `set` (engine_check_input); all are checked before
 * any is set, so a file with one bad value changes nothing. The file written holds the
 * target and the values the operator set, never a secret: a secret stays in the
 * environment (DSTACK_WIZARD_<NAME>) or a --secret-file.
 */
#include "config.h"

#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answers.h"
#include "engine-int.h"
#include "util.h"

int
engine_apply_answers(struct engine *e, const struct answers *a, enum engine_err *err,
    char **cause)
{
	struct strbuf errs = {0};

	*err = EERR_NONE;
	for (size_t i = 0; i < a->ninputs; i++) {
		enum engine_err ierr;
		char *why = NULL;

		if (engine_check_input(e, a->inputs[i].name, a->inputs[i].value, &ierr,
		    &why) != 0) {
			sb_addf(&errs, "%s%s:%d:%d: %s", errs.len > 0 ? "\n" : "", a->file,
			    a->inputs[i].line, a->inputs[i].col, why);
			free(why);
		}
	}
	if (errs.len > 0) {
		*err = EERR_REFUSED;
		*cause = sb_detach(&errs);
		return -1;
	}
	for (size_t i = 0; i < a->ninputs; i++) {
		char *why = NULL;

		if (engine_set_input(e, a->inputs[i].name, a->inputs[i].value, err, &why) != 0) {
			*cause = xprintf("%s:%d:%d: %s", a->file, a->inputs[i].line,
			    a->inputs[i].col, why);
			free(why);
			return -1;
		}
	}
	return 0;
}

/* Append s to sb as a YAML double-quoted scalar. */
static void
yaml_quote(struct strbuf *sb, const char *s)
{
	sb_addc(sb, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			sb_addc(sb, '\\');
			sb_addc(sb, (char)c);
		} else if (c < 0x20 || c == 0x7f)
			sb_addf(sb, "\\x%02x", c);
		else
			sb_addc(sb, (char)c);
	}
	sb_addc(sb, '"');
}

int
engine_export_answers(const struct engine *e, const char *path, char **cause)
{
	const struct chain *c = e->chain;
	struct strbuf sb = {0};
	char *tmp, t[32];
	const char *text;
	size_t len, off = 0;
	int fd;
	bool ok;

	sb_addf(&sb, "# dstack-wizard answers file, from profile %s on %s.\n"
	    "# Use it with: dstack-wizard --answers FILE (the values are checked as 'set' checks\n"
	    "# them). Secrets are never written here: give them in the environment\n"
	    "# (DSTACK_WIZARD_<NAME>) or with --secret-file NAME=FILE.\n",
	    e->profile, iso_time(time(NULL), t, sizeof t));
	if (e->state->target != NULL) {
		sb_adds(&sb, "target: ");
		yaml_quote(&sb, e->state->target);
		sb_addc(&sb, '\n');
	}
	sb_adds(&sb, "inputs:\n");
	for (size_t i = 0; i < c->ninputs; i++) {
		const struct input_def *d = &c->inputs[i];
		const struct state_input *si = state_get_input(e->state, d->name);

		if (d->secret) {
			char *var = engine_secret_var(d->name);

			sb_addf(&sb, "  # %s: a secret: set %s or use --secret-file %s=FILE\n",
			    d->name, var, d->name);
			free(var);
			continue;
		}
		if (si == NULL || si->source != SRC_USER)
			continue;
		sb_addf(&sb, "  %s: ", d->name);
		yaml_quote(&sb, si->value);
		sb_addc(&sb, '\n');
	}
	text = sb_str(&sb);
	len = sb.len;
	tmp = xprintf("%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	ok = fd >= 0;
	while (ok && off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ok = false;
		else
			off += (size_t)n;
	}
	if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0))
		ok = false;
	if (!ok || rename(tmp, path) != 0) {
		*cause = xprintf("%s: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		free(tmp);
		sb_free(&sb);
		return -1;
	}
	free(tmp);
	sb_free(&sb);
	return 0;
}
