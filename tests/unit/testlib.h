/*
 * testlib.h: small helpers shared by the cmocka tests (header-only; each test is one program).
 * Include after <cmocka.h>.
 */
#ifndef DW_TESTLIB_H
#define DW_TESTLIB_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); caller frees the string. */
static inline char *
tl_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *t;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&t, "%s/dw-test-XXXXXX", base) < 0)
		abort();
	if (mkdtemp(t) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return t;
}

static inline int
tl_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(p);
}

/* rm -rf path. */
static inline void
tl_rmrf(const char *path)
{
	nftw(path, tl_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to dir/name (creating dir/name's parent if needed); returns the full path. */
static inline char *
tl_write(const char *dir, const char *name, const char *text)
{
	char *p, *slash;
	FILE *f;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	slash = strrchr(p, '/');
	*slash = '\0';
	mkdir(p, 0755);
	*slash = '/';
	f = fopen(p, "w");
	if (f == NULL) {
		perror(p);
		abort();
	}
	fputs(text, f);
	fclose(f);
	return p;
}

/* The source tree (set by make check; "." otherwise). */
static inline const char *
tl_srcdir(void)
{
	const char *s = getenv("top_srcdir");

	return s && *s ? s : ".";
}

#endif
