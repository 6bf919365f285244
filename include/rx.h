/*
 * rx.h: the regular expressions of the chain (expect:, capture, hint and pattern regexes,
 * JSON assertions) and of the log view's search, on PCRE2 with limits: a match gives up
 * after a bounded amount of work (RX_MATCH_LIMIT steps of its backtracking, RX_HEAP_LIMIT_KIB
 * of memory), whatever the pattern and the subject, so no regex can hold the event loop past
 * a check's timeout. A pattern is compiled once and read-only afterwards.
 *
 * The syntax is PCRE2's, which takes POSIX extended regexes as written in step files
 * ([[:space:]], {n,m}, |, groups, anchors), with these differences: alternatives are tried
 * left to right (the first that matches wins, not the longest), with RX_LINES a negated
 * class such as [^x] also matches a newline, and GNU's \< \> are refused (\b is the edge).
 */
#ifndef DW_RX_H
#define DW_RX_H

#include <stdbool.h>
#include <stddef.h>

#define RX_LEN_MAX          4096     /* longer patterns are refused */
#define RX_MATCH_LIMIT      200000   /* backtracking steps per match */
#define RX_HEAP_LIMIT_KIB   8192     /* backtracking memory per match */

enum {
	RX_LINES = 1,       /* ^ and $ match at every line (POSIX REG_NEWLINE) */
	RX_ICASE = 2,       /* ignore case */
};

struct rx;

/* Compile pattern; NULL with a cause ("missing ) at offset 3") if it is not valid. */
struct rx *rx_new(const char *pattern, int flags, char **cause);
void rx_free(struct rx **rxp);
/* How many groups the pattern has. */
int rx_groups(const struct rx *rx);
/* Does rx compile? Only for checks at load time; NULL if so, else why (allocated). */
char *rx_check(const char *pattern, int flags);

/*
 * Match subject[0..len): 1 if it matches (group 1's offsets in *so, *eo when asked and the
 * group took part, else both -1), 0 if not, -1 if the match gave up at a limit.
 */
int rx_match(const struct rx *rx, const char *subject, size_t len, long *so, long *eo);
/* rx_match on a NUL-terminated string; true only on a match. */
bool rx_matches(const struct rx *rx, const char *subject);

#endif
