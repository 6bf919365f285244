/*
 * bundle.c: the support bundle, a gzip'd tar for whoever helps: the profile's state, its
 * logs, the deployment report, the last pre-flight's result and a MANIFEST (the wizard's
 * version, the chain, the dstack release, the server, what is inside).
 *
 * Secrets are never written to the state or the logs; the bundle makes sure anyway. Each file
 * is read into memory, every held secret is replaced by "****" in each form output may show
 * it (as given, without its 0x, in lower and upper case: engine_redact), and only then written,
 * into a fresh 0700 directory under $TMPDIR; tar(1) packs that directory into a temporary file
 * beside the bundle, which is renamed into place; the directory is removed. No unredacted copy
 * is ever written. A secret the bundle is not given (the process that makes it holds the
 * secrets given to it: DSTACK_WIZARD_<NAME>, --secret-file, the demo's) cannot be searched
 * for, which the MANIFEST says.
 */
#include "config.h"

#include "docs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "util.h"

/* The largest file taken into a bundle (a log is at most 64 MiB). */
#define BUNDLE_MAX_FILE (80 * 1024 * 1024)

struct bundle {
	struct engine *e;
	char *tmp;              /* the private directory */
	char *top;              /* tmp/<name>: what the tar holds */
	struct strvec made;     /* files and directories made under tmp, in order */
	struct strvec listed;   /* what the MANIFEST lists */
	size_t redactions;      /* files in which a secret was found and taken out */
};

/* Write a redacted copy of text as top/name (0600). */
static int
bundle_put(struct bundle *b, const char *name, const char *text, size_t len, char **cause)
{
	char *path = xprintf("%s/%s", b->top, name), *clean;
	size_t clen;
	ssize_t n;
	int fd;

	clean = engine_redact(b->e, text, len, &clen);
	if (clen != len || memcmp(clean, text, len) != 0)
		b->redactions++;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		set_cause(cause, "cannot create %s: %s", path, strerror(errno));
		free(clean);
		free(path);
		return -1;
	}
	sv_push(&b->made, path);
	for (size_t off = 0; off < clen; off += (size_t)n) {
		n = write(fd, clean + off, clen - off);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			set_cause(cause, "cannot write %s: %s", path, strerror(errno));
			close(fd);
			free(clean);
			free(path);
			return -1;
		}
	}
	free(clean);
	free(path);
	if (close(fd) != 0)
		return set_cause(cause, "cannot write %s/%s: %s", b->top, name, strerror(errno));
	sv_push(&b->listed, name);
	return 0;
}

/* Copy the file at src (if it is there) into the bundle as name, redacted. */
static int
bundle_copy(struct bundle *b, const char *src, const char *name, char **cause)
{
	char *text = NULL, *why = NULL;
	size_t len;
	struct stat sb;
	int rc;

	if (lstat(src, &sb) != 0 || !S_ISREG(sb.st_mode))
		return 0;
	if (read_file(src, BUNDLE_MAX_FILE, &text, &len, &why) != 0) {
		set_cause(cause, "cannot read %s: %s", src, why);
		free(why);
		return -1;
	}
	rc = bundle_put(b, name, text, len, cause);
	free(text);
	return rc;
}

/* Make a directory under top. */
static int
bundle_mkdir(struct bundle *b, const char *name, char **cause)
{
	char *path = xprintf("%s%s%s", b->top, name != NULL ? "/" : "", name != NULL ? name : "");

	if (mkdir(path, 0700) != 0) {
		set_cause(cause, "cannot create %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	sv_push_take(&b->made, path);
	return 0;
}

/* Compare two strings through pointers, for qsort. */
static int
bundle_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The profile's logs, in name order. */
static int
bundle_logs(struct bundle *b, char **cause)
{
	char *dir = xprintf("%s/logs", engine_dir(b->e));
	struct strvec names = {0};
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (d == NULL) {
		free(dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			sv_push(&names, de->d_name);
	closedir(d);
	if (names.n > 0)
		qsort(names.v, names.n, sizeof *names.v, bundle_cmp);
	if (bundle_mkdir(b, "logs", cause) != 0)
		rc = -1;
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		char *src = xprintf("%s/%s", dir, names.v[i]);
		char *name = xprintf("logs/%s", names.v[i]);

		rc = bundle_copy(b, src, name, cause);
		free(src);
		free(name);
	}
	sv_free(&names);
	free(dir);
	return rc;
}

/* The MANIFEST: versions, the chain, the server, what is inside. */
static int
bundle_manifest(struct bundle *b, char **cause)
{
	const struct chain *c = engine_chain(b->e);
	char *version = engine_version(b->e), *server = engine_server_words(b->e), t[64];
	struct strbuf sb = {0};
	int rc;

	sb_addf(&sb, "dstack-wizard support bundle\n\nwizard: %s %s\nwritten: %s\n", PACKAGE_NAME,
	    PACKAGE_VERSION, md_time(time(NULL), t, sizeof t));
	sb_addf(&sb, "chain: %s (%s, %zu steps)\n", c->title != NULL ? c->title : "(untitled)",
	    c->dir, c->nsteps);
	sb_addf(&sb, "dstack release: %s\nprofile: %s\nserver: %s\ndemo: %s\n\n",
	    version != NULL ? version : "(not set)", engine_profile(b->e), server,
	    engine_is_demo(b->e) ? "yes (a simulated host)" : "no");
	sb_adds(&sb, "Every secret this command held was taken out of each file before it was "
	    "written\n(as given, without its 0x, in lower and upper case), replaced by ****.\n"
	    "Secrets are never written to the state or the logs in the first place.\n");
	sb_addf(&sb, "Files in which a held secret was found and taken out: %zu.\n\nFiles:\n",
	    b->redactions);
	for (size_t i = 0; i < b->listed.n; i++)
		sb_addf(&sb, "  %s\n", b->listed.v[i]);
	sb_adds(&sb, "  MANIFEST\n");
	rc = bundle_put(b, "MANIFEST", sb_str(&sb), sb.len, cause);
	sb_free(&sb);
	free(server);
	free(version);
	return rc;
}

/* Pack tmp/<top> into out with tar. */
static int
bundle_tar(struct bundle *b, const char *out, char **cause)
{
	const char *base = strrchr(b->top, '/') + 1;
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return set_cause(cause, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		execlp("tar", "tar", "--owner=0", "--group=0", "--numeric-owner", "-czf", out,
		    "-C", b->tmp, base, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return set_cause(cause, "tar failed (exit status %d)",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

/* Remove what was made under tmp, then tmp. */
static void
bundle_clean(struct bundle *b)
{
	for (size_t i = b->made.n; i > 0; i--)
		if (unlink(b->made.v[i - 1]) != 0)
			rmdir(b->made.v[i - 1]);
	if (b->tmp != NULL)
		rmdir(b->tmp);
	sv_free(&b->made);
	sv_free(&b->listed);
	free(b->top);
	free(b->tmp);
}

/* Write the support bundle. */
int
bundle_write(struct engine *e, const char *path, char **cause)
{
	struct bundle b = { .e = e };
	const char *tmpdir = getenv("TMPDIR");
	char *tmp, *report, *out = NULL, *src, stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int rc = -1;

	tmp = xprintf("%s/dstack-wizard-bundle-XXXXXX", tmpdir != NULL && *tmpdir == '/' ?
	    tmpdir : "/tmp");
	if (mkdtemp(tmp) == NULL) {
		set_cause(cause, "cannot create a private directory %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	b.tmp = tmp;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	b.top = xprintf("%s/dstack-wizard-%s-%s", tmp, engine_profile(e), stamp);
	if (bundle_mkdir(&b, NULL, cause) != 0)
		goto out;
	if (bundle_copy(&b, engine_state_path(e), "state.json", cause) != 0)
		goto out;
	src = xprintf("%s/preflight.txt", engine_dir(e));
	rc = bundle_copy(&b, src, "preflight.txt", cause);
	free(src);
	if (rc != 0 || (rc = bundle_logs(&b, cause)) != 0)
		goto out;
	report = report_markdown(e);
	rc = bundle_put(&b, "report.md", report, strlen(report), cause);
	free(report);
	if (rc != 0 || (rc = bundle_manifest(&b, cause)) != 0)
		goto out;
	out = xprintf("%s.tmp-%ld", path, (long)getpid());
	if ((rc = bundle_tar(&b, out, cause)) == 0 && (chmod(out, 0600) != 0 ||
	    rename(out, path) != 0)) {
		set_cause(cause, "cannot write %s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc != 0)
		unlink(out);
out:
	free(out);
	bundle_clean(&b);
	return rc;
}
