/*
 * chain-link.c: the chain as a whole: chain_load() lists the step files and loads chain.yaml
 * and each step, then links them: duplicate ids, requires resolved to steps, cycles (in
 * requires and in input defaults), and the walking order (section order, then file path).
 */
#include "config.h"

#include "chain-int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* -------------------------------------------------------------------------------------- */
/* Cycles, in requires and in input defaults. */

/*
 * Find a cycle in a directed graph of n nodes by depth-first search from each node in order.
 * Calls found(from, edge, stack, depth) for each edge that closes a cycle; stack[0..depth)
 * holds the path to from, which ends the path.
 */
void
find_cycles(size_t n, size_t *const *edges, const size_t *nedges,
    void (*found)(void *, size_t, size_t, const size_t *, size_t), void *data)
{
	unsigned char *color = xcalloc(n, 1);   /* 0 new, 1 on the path, 2 done */
	size_t *stack = xcalloc(n, sizeof *stack), *next = xcalloc(n, sizeof *next);

	for (size_t s = 0; s < n; s++) {
		size_t depth = 0;

		if (color[s] != 0)
			continue;
		stack[depth++] = s;
		color[s] = 1;
		next[s] = 0;
		while (depth > 0) {
			size_t v = stack[depth - 1];

			if (next[v] < nedges[v]) {
				size_t e = next[v]++, w = edges[v][e];

				if (w >= n)
					continue;
				if (color[w] == 1)
					found(data, v, e, stack, depth);
				else if (color[w] == 0) {
					color[w] = 1;
					next[w] = 0;
					stack[depth++] = w;
				}
			} else {
				color[v] = 2;
				depth--;
			}
		}
	}
	free(next);
	free(stack);
	free(color);
}

/* The text "a -> b -> c -> a" of the cycle closed by from's edge e. */
char *
cycle_text(size_t w, const size_t *stack, size_t depth, const char *(*name)(void *, size_t),
    void *data)
{
	struct strbuf sb = {0};
	size_t start = 0;

	while (start < depth && stack[start] != w)
		start++;
	for (size_t i = start; i < depth; i++)
		sb_addf(&sb, "%s -> ", name(data, stack[i]));
	sb_adds(&sb, name(data, w));
	return sb_detach(&sb);
}

/* -------------------------------------------------------------------------------------- */
/* The chain as a whole. */

/* qsort: strings in byte order. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* qsort: steps by section, then file path. */
static int
cmp_pstep(const void *a, const void *b)
{
	const struct pstep *x = *(struct pstep *const *)a, *y = *(struct pstep *const *)b;
	size_t sx = x->have_section ? x->st.section : SIZE_MAX;
	size_t sy = y->have_section ? y->st.section : SIZE_MAX;

	if (sx != sy)
		return sx < sy ? -1 : 1;
	return strcmp(x->st.file, y->st.file);
}

/* Is name a step file name (*.yaml, not hidden)? */
static bool
is_yaml_name(const char *name)
{
	return name[0] != '.' && str_has_suffix(name, ".yaml") && strlen(name) > 5;
}

/* The type of directory entry de of directory fd, as stat() (following a link) would tell;
 * 0 if it cannot be told. The entry's own type saves a stat per file. */
static mode_t
entry_type(int fd, const struct dirent *de)
{
	struct stat sb;

	switch (de->d_type) {
	case DT_REG:
		return S_IFREG;
	case DT_DIR:
		return S_IFDIR;
	case DT_LNK:
	case DT_UNKNOWN:
		if (fstatat(fd, de->d_name, &sb, 0) == 0)
			return sb.st_mode & S_IFMT;
		return 0;
	default:
		return 0;
	}
}

/* Open directory rel of fd for reading; NULL (errno set) if it cannot be. */
static DIR *
open_dir_at(int fd, const char *rel)
{
	int dfd = openat(fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (dfd < 0)
		return NULL;
	if ((d = fdopendir(dfd)) == NULL)
		close(dfd);
	return d;
}

/* List the step files: *.yaml in dir (but chain.yaml) and in its direct subdirectories. */
static int
list_step_files(struct loader *ld, struct strvec *out)
{
	struct dirent *de;
	DIR *d, *sd;
	mode_t type;

	errno = ld->dir_errno;
	if (ld->dirfd < 0 || (d = open_dir_at(ld->dirfd, ".")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		type = entry_type(dirfd(d), de);
		if (type == S_IFREG && is_yaml_name(de->d_name) &&
		    strcmp(de->d_name, CHAIN_FILE) != 0)
			sv_push(out, de->d_name);
		else if (type == S_IFDIR && (sd = open_dir_at(dirfd(d), de->d_name)) != NULL) {
			struct dirent *se;

			while ((se = readdir(sd)) != NULL) {
				if (!is_yaml_name(se->d_name) || entry_type(dirfd(sd), se) != S_IFREG)
					continue;
				sv_push_take(out, xprintf("%s/%s", de->d_name, se->d_name));
				if (out->n > MAX_STEP_FILES)
					break;
			}
			closedir(sd);
		}
		if (out->n > MAX_STEP_FILES)
			break;
	}
	closedir(d);
	if (out->n > 0)
		qsort(out->v, out->n, sizeof *out->v, cmp_str);
	return 0;
}

/* Context of the requires-cycle report. */
struct reqcycle {
	struct loader *ld;
	struct srcpos **reqpos;
};

/* Id of step i. */
static const char *
step_id_at(void *data, size_t i)
{
	struct reqcycle *rc = data;

	return rc->ld->c->steps[i].id;
}

/* Report a requires cycle. */
static void
requires_cycle(void *data, size_t from, size_t e, const size_t *stack, size_t depth)
{
	struct reqcycle *rc = data;
	struct chain *c = rc->ld->c;
	char *text = cycle_text(c->steps[from].req[e], stack, depth, step_id_at, rc);

	err_pos(rc->ld, &rc->reqpos[from][e], "requires form a cycle: %s", text);
	free(text);
}

/* Put the steps in walking order and check the requires graph. */
static void
link_steps(struct loader *ld)
{
	struct chain *c = ld->c;
	struct srcpos **reqpos;
	size_t **edges, *nedges;

	/* Duplicate ids, reported at the later file (files are in path order). */
	for (size_t i = 0; i < ld->nps; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(ld->ps[i]->st.id, ld->ps[j]->st.id) == 0) {
				const struct srcpos *p = &ld->ps[j]->st.pos;

				err_pos(ld, &ld->ps[i]->st.pos, "duplicate step id '%s' (first at "
				    "%s:%d:%d)", q(ld, ld->ps[i]->st.id), p->file, p->line, p->col);
				break;
			}
		}
	}
	if (ld->nps > 0)
		qsort(ld->ps, ld->nps, sizeof *ld->ps, cmp_pstep);
	c->steps = xcalloc(ld->nps, sizeof *c->steps);
	reqpos = xcalloc(ld->nps, sizeof *reqpos);
	for (size_t i = 0; i < ld->nps; i++) {
		c->steps[i] = ld->ps[i]->st;
		reqpos[i] = ld->ps[i]->reqpos;
		free(ld->ps[i]);
	}
	c->nsteps = ld->nps;
	free(ld->ps);
	ld->ps = NULL;
	ld->nps = 0;

	/* Resolve requires to indices. */
	for (size_t i = 0; i < c->nsteps; i++) {
		struct step *st = &c->steps[i];

		for (size_t r = 0; r < st->nrequires; r++) {
			int idx = chain_step_index(c, st->requires[r]);

			if (idx >= 0) {
				st->req[r] = (size_t)idx;
				continue;
			}
			st->req[r] = SIZE_MAX;
			if (ld->ids_ok) {
				struct suggest sg;

				suggest_init(&sg, st->requires[r]);
				for (size_t k = 0; k < c->nsteps; k++)
					suggest_try(&sg, c->steps[k].id);
				err_pos(ld, &reqpos[i][r], "requires unknown step '%s'%s",
				    q(ld, st->requires[r]), suggest_text(ld, &sg));
			}
		}
	}

	/* Cycles (unknown requires are skipped: they point at no step). */
	edges = xcalloc(c->nsteps, sizeof *edges);
	nedges = xcalloc(c->nsteps, sizeof *nedges);
	for (size_t i = 0; i < c->nsteps; i++) {
		edges[i] = c->steps[i].req;
		nedges[i] = c->steps[i].nrequires;
	}
	{
		struct reqcycle rc = { ld, reqpos };

		find_cycles(c->nsteps, edges, nedges, requires_cycle, &rc);
	}
	free(edges);
	free(nedges);
	for (size_t i = 0; i < c->nsteps; i++)
		free(reqpos[i]);
	free(reqpos);
}

int
chain_load(const char *dir, struct chain **out, char **cause)
{
	struct loader ld;
	struct strvec files = {0};
	struct chain *c;
	int listed, list_errno;

	*out = NULL;
	memset(&ld, 0, sizeof ld);
	c = ld.c = xcalloc(1, sizeof *c);
	c->dir = xstrdup(dir);
	ld.ids_ok = true;
	ld.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ld.dir_errno = ld.dirfd < 0 ? errno : 0;
	listed = list_step_files(&ld, &files);
	list_errno = errno;

	load_chain_file(&ld);
	if (listed != 0)
		err_at(&ld, dir, 1, 1, "cannot read the chain directory: %s",
		    strerror(list_errno));
	else if (files.n > MAX_STEP_FILES)
		err_at(&ld, CHAIN_FILE, 1, 1, "more than %d step files", MAX_STEP_FILES);
	else {
		for (size_t i = 0; i < files.n; i++)
			load_step_file(&ld, files.v[i]);
		if (files.n == 0)
			err_at(&ld, CHAIN_FILE, 1, 1, "the chain has no steps (no other *.yaml file)");
	}
	link_steps(&ld);

	sv_free(&files);
	yalloc_free(&ld);
	free(ld.lines);
	free(ld.buf);
	if (ld.dirfd >= 0)
		close(ld.dirfd);
	if (ld.nerr > 0) {
		if (cause != NULL) {
			free(*cause);
			*cause = sb_detach(&ld.err);
		}
		sb_free(&ld.err);
		chain_free(&c);
		return -1;
	}
	sb_free(&ld.err);
	*out = c;
	return 0;
}
