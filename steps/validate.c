/*
 * validate.c: the input validators, one rule set per enum input_type, and the EIP-55 address
 * checksum (keccak-256 of the lowercase hex digits).
 *
 * Every check answers valid or not and, when not, one sentence saying what is wrong ("why") and,
 * where there is an obvious fix, a suggested value. Messages may quote a fragment of the value
 * (a domain label, a URL's scheme) only when the value is not secret: struct vcheck's quote flag
 * is false for secrets, and then no fragment and no suggestion is ever produced.
 *
 * Decisions worth knowing:
 * - eth_address: an all-lowercase or all-uppercase address carries no checksum; it is accepted
 *   with unchecksummed = true and its EIP-55 form as the suggestion. A single-case address that
 *   already equals its EIP-55 form (possible when every letter's checksum bit agrees, as in the
 *   EIP's own all-caps examples) is checksummed and not flagged.
 * - version: exactly three dot-separated decimal numbers without leading zeros ("0" itself is
 *   fine). A leading "v" is refused, with the bare form suggested: dstack's release tags are
 *   written "v0.5.3" but the scripts that take a version want "0.5.3", so one form is enforced.
 *   Pre-release and build suffixes (-rc1, +meta) are refused too.
 * - url: http:// and https:// only (scheme letters in any case); the host is a domain name, an
 *   IPv4 address, an [IPv6] address or "localhost" (a local RPC node is common, and localhost is
 *   the one single-label name everyone means the same thing by); user:password@ is refused, it
 *   would put a credential where logs and screens show it.
 * - Structured types (address, IP, domain, URL, port, email, version) refuse leading or
 *   trailing whitespace and suggest the trimmed value when that one is valid; text, secret and
 *   path values are taken as typed.
 */
#include "config.h"

#include "validate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "keccak.h"
#include "rx.h"
#include "util.h"

#define DOMAIN_MAX	253	/* characters, without the optional trailing dot */
#define LABEL_MAX	63
#define EMAIL_LOCAL_MAX	64
#define EMAIL_MAX	254
#define PATH_LEN_MAX	4095
#define QUOTE_MAX	40	/* longest fragment quoted in a message */

/* The state of one check: may it quote the value, and what it found. */
struct vcheck {
	bool quote;		/* false for secrets: no fragment of the value, no suggestion */
	char *why;
	char *suggestion;
	bool unchecksummed;
};

/* Record why a check failed (the first reason wins); return false. */
static bool DW_PRINTF(2, 3)
vfail(struct vcheck *vc, const char *fmt, ...)
{
	va_list ap;

	if (vc->why == NULL) {
		va_start(ap, fmt);
		vc->why = xvprintf(fmt, ap);
		va_end(ap);
	}
	return false;
}

/* Offer a suggested value (never for secrets). */
static void
vsuggest(struct vcheck *vc, const char *s)
{
	if (!vc->quote || s == NULL)
		return;
	free(vc->suggestion);
	vc->suggestion = xstrdup(s);
}

/* Free what a check collected. */
static void
vcheck_free(struct vcheck *vc)
{
	freep(&vc->why);
	freep(&vc->suggestion);
}

/* Is c an ASCII decimal digit? (The ctype functions depend on the locale.) */
static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Is c an ASCII letter? */
static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Is every byte of s[0..n) printable ASCII? */
static bool
is_printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	}
	return true;
}

/* Describe character c for a message into buf: "'_'", "a space", "a non-ASCII character". */
static const char *
char_desc(const struct vcheck *vc, unsigned char c, char *buf, size_t len)
{
	if (c == ' ')
		return "a space";
	if (c == '\t')
		return "a tab";
	if (c == '\n' || c == '\r')
		return "a line break";
	if (c >= 0x80)
		return "a non-ASCII character";
	if (c < 0x20 || c == 0x7f)
		return "a control character";
	if (!vc->quote)
		return "a character that is not allowed";
	snprintf(buf, len, "'%c'", c);
	return buf;
}

/* Check an IPv4 address: four decimal numbers 0-255, no leading zeros, separated by dots. */
static bool
check_ipv4(struct vcheck *vc, const char *s)
{
	const char *p = s, *q;
	unsigned v;
	int part;
	char buf[8];

	for (part = 1; part <= 4; part++) {
		v = 0;
		for (q = p; is_digit(*q) && q - p < 3; q++)
			v = v * 10 + (unsigned)(*q - '0');
		if (q == p) {
			if (*p == '.' || *p == '\0') {
				if (part > 1 && *p == '\0')
					return vfail(vc, "the IPv4 address has %d parts; it needs 4",
					    part - 1);
				return vfail(vc, "part %d of the IPv4 address is empty", part);
			}
			return vfail(vc, "the IPv4 address contains %s; it is four numbers "
			    "0-255 separated by dots", char_desc(vc, (unsigned char)*p, buf, sizeof buf));
		}
		if (is_digit(*q) || v > 255)
			return vfail(vc, "part %d of the IPv4 address is greater than 255", part);
		if (*p == '0' && q - p > 1)
			return vfail(vc, "part %d of the IPv4 address has a leading zero (some "
			    "programs read that as octal)", part);
		p = q;
		if (part < 4) {
			if (*p == '\0')
				return vfail(vc, "the IPv4 address has %d parts; it needs 4", part);
			if (*p != '.')
				return vfail(vc, "the IPv4 address contains %s; it is four numbers "
				    "0-255 separated by dots", char_desc(vc, (unsigned char)*p, buf,
				    sizeof buf));
			p++;
		}
	}
	if (p[0] == '.' && p[1] == '\0')
		return vfail(vc, "the IPv4 address ends with a dot");
	if (*p == '.')
		return vfail(vc, "the IPv4 address has more than 4 parts");
	if (*p != '\0')
		return vfail(vc, "the IPv4 address contains %s; it is four numbers 0-255 "
		    "separated by dots", char_desc(vc, (unsigned char)*p, buf, sizeof buf));
	return true;
}

/* Check an IPv6 address (as inet_pton reads it; no brackets, no zone id). */
static bool
check_ipv6(struct vcheck *vc, const char *s)
{
	struct in6_addr a;
	size_t n = strlen(s);
	char *inner;

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		inner = xstrndup(s + 1, n - 2);
		if (inet_pton(AF_INET6, inner, &a) == 1)
			vsuggest(vc, inner);
		free(inner);
		return vfail(vc, "write the IPv6 address without the brackets");
	}
	if (strchr(s, '%') != NULL)
		return vfail(vc, "an IPv6 zone index (the %%interface part) is not supported");
	if (inet_pton(AF_INET6, s, &a) != 1)
		return vfail(vc, "not a valid IPv6 address (up to eight groups of hex digits "
		    "separated by colons, like 2001:db8::1)");
	return true;
}

/* Is s made only of digits and dots (so meant as an IPv4 address)? */
static bool
looks_numeric(const char *s)
{
	for (; *s != '\0'; s++) {
		if (!is_digit(*s) && *s != '.')
			return false;
	}
	return true;
}

/* Check an IP address of either family. */
static bool
check_ip(struct vcheck *vc, const char *s)
{
	if (strchr(s, ':') != NULL)
		return check_ipv6(vc, s);
	if (looks_numeric(s))
		return check_ipv4(vc, s);
	return vfail(vc, "not an IP address (IPv4 like 192.0.2.1 or IPv6 like 2001:db8::1)");
}

/* Name label number idx (1-based) for a message, quoting it when allowed and readable. */
static char *
label_name(const struct vcheck *vc, const char *l, size_t n, size_t idx)
{
	if (vc->quote && n <= QUOTE_MAX && is_printable(l, n))
		return xprintf("label %zu (\"%.*s\")", idx, (int)n, l);
	return xprintf("label %zu", idx);
}

/* Check one label of a domain name (RFC 1123): 1-63 of [A-Za-z0-9-], no hyphen at the ends. */
static bool
check_label(struct vcheck *vc, const char *l, size_t n, size_t idx)
{
	char buf[8], *name;
	size_t i;
	bool ok = true;

	name = label_name(vc, l, n, idx);
	for (i = 0; i < n; i++) {
		if (is_alpha(l[i]) || is_digit(l[i]) || l[i] == '-')
			continue;
		if ((unsigned char)l[i] >= 0x80)
			ok = vfail(vc, "%s contains a non-ASCII character; write international "
			    "names in their xn-- (punycode) form", name);
		else
			ok = vfail(vc, "%s contains %s; labels may have only letters, digits "
			    "and hyphens", name, char_desc(vc, (unsigned char)l[i], buf, sizeof buf));
		break;
	}
	if (ok && n > LABEL_MAX)
		ok = vfail(vc, "%s is %zu characters long; the limit is %d", name, n, LABEL_MAX);
	if (ok && l[0] == '-')
		ok = vfail(vc, "%s starts with a hyphen", name);
	if (ok && l[n - 1] == '-')
		ok = vfail(vc, "%s ends with a hyphen", name);
	free(name);
	return ok;
}

/* Check a domain name (RFC 1123 host name with at least two labels). */
static bool
check_domain(struct vcheck *vc, const char *s)
{
	size_t len = strlen(s), start, i, nlabels = 0, lastlen = 0;
	const char *last = NULL;
	bool numeric;

	if (len == 0)
		return vfail(vc, "the domain name is empty");
	if (s[len - 1] == '.')
		len--;		/* a fully qualified name may end with a dot */
	if (len == 0)
		return vfail(vc, "the domain name has no labels");
	if (len > DOMAIN_MAX)
		return vfail(vc, "the domain name is %zu characters long; the limit is %d",
		    len, DOMAIN_MAX);
	for (start = 0; start <= len; start = i + 1) {
		for (i = start; i < len && s[i] != '.'; i++)
			;
		nlabels++;
		if (i == start) {
			if (start == 0)
				return vfail(vc, "the domain name starts with a dot");
			return vfail(vc, "the domain name has two dots in a row");
		}
		if (!check_label(vc, s + start, i - start, nlabels))
			return false;
		last = s + start;
		lastlen = i - start;
	}
	if (nlabels < 2) {
		if (vc->quote)
			return vfail(vc, "\"%.*s\" is a single label; a domain name needs at least "
			    "two, like example.com", (int)lastlen, last);
		return vfail(vc, "the domain name is a single label; it needs at least two, "
		    "like example.com");
	}
	numeric = true;
	for (i = 0; i < lastlen; i++) {
		if (!is_digit(last[i]))
			numeric = false;
	}
	if (numeric) {
		if (looks_numeric(s))
			return vfail(vc, "this is an IP address, not a domain name");
		if (vc->quote)
			return vfail(vc, "the top-level label \"%.*s\" is all digits; it must "
			    "have a letter", (int)lastlen, last);
		return vfail(vc, "the top-level label is all digits; it must have a letter");
	}
	return true;
}

/* Check a port number held in s[0..n): decimal 1-65535, no sign, no leading zero. */
static bool
check_port_n(struct vcheck *vc, const char *s, size_t n)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0)
		return vfail(vc, "the port is empty");
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return vfail(vc, "the port must be a number from 1 to 65535");
	}
	if (n > 1 && s[0] == '0')
		return vfail(vc, "the port has a leading zero");
	if (n > 5)
		return vfail(vc, "the port is greater than 65535");
	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (v == 0)
		return vfail(vc, "port 0 cannot be used; the port must be from 1 to 65535");
	if (v > 65535)
		return vfail(vc, "the port is greater than 65535");
	return true;
}

/* Check a URL: http(s)://host[:port][/path][?query][#fragment], no spaces. */
static bool
check_url(struct vcheck *vc, const char *s)
{
	const char *p, *end, *colon, *close, *q, *scheme_end;
	char buf[8], *host;
	bool ok;

	if (strncasecmp(s, "http://", 7) == 0)
		p = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		p = s + 8;
	else {
		scheme_end = strstr(s, "://");
		if (scheme_end != NULL && vc->quote && scheme_end - s <= QUOTE_MAX &&
		    is_printable(s, (size_t)(scheme_end - s)))
			return vfail(vc, "the URL scheme \"%.*s\" is not supported; use http:// or "
			    "https://", (int)(scheme_end - s), s);
		if (scheme_end != NULL)
			return vfail(vc, "the URL scheme is not supported; use http:// or https://");
		return vfail(vc, "a URL starts with http:// or https://");
	}
	for (q = s; *q != '\0'; q++) {
		if (*q == ' ')
			return vfail(vc, "the URL contains a space; write it as %%20");
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return vfail(vc, "the URL contains %s", char_desc(vc, (unsigned char)*q,
			    buf, sizeof buf));
	}

	end = p + strcspn(p, "/?#");
	if (end == p)
		return vfail(vc, "the URL has no host");
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return vfail(vc, "a user name or password in the URL is not supported");

	if (*p == '[') {
		close = memchr(p, ']', (size_t)(end - p));
		if (close == NULL)
			return vfail(vc, "the IPv6 address in the URL has no closing ']'");
		host = xstrndup(p + 1, (size_t)(close - p - 1));
		ok = check_ipv6(vc, host);
		free(host);
		if (!ok)
			return false;
		colon = close + 1;
		if (colon != end && *colon != ':')
			return vfail(vc, "the URL has text after the ']' of its IPv6 address");
		if (colon == end)
			colon = NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		if (colon != NULL && memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL)
			return vfail(vc, "an IPv6 address in a URL goes in brackets, like "
			    "http://[2001:db8::1]:8080/");
		host = xstrndup(p, (size_t)((colon != NULL ? colon : end) - p));
		if (*host == '\0')
			ok = vfail(vc, "the URL has no host");
		else if (strcasecmp(host, "localhost") == 0)
			ok = true;
		else if (looks_numeric(host))
			ok = check_ipv4(vc, host);
		else
			ok = check_domain(vc, host);
		free(host);
		if (!ok)
			return false;
	}
	if (colon != NULL)
		return check_port_n(vc, colon + 1, (size_t)(end - colon - 1));
	return true;
}

/* Check an email address: local@domain, the domain by the domain rules. */
static bool
check_email(struct vcheck *vc, const char *s)
{
	/* RFC 5322 allows more (! # $ & ' * / ? ^ ` { | } ~), but a value with those is one a
	 * shell or sed would act on where a script slips; no mail provider hands them out. */
	static const char atext[] = "%+-=_.";
	const char *at = strrchr(s, '@'), *q;
	struct vcheck sub = { .quote = vc->quote };
	size_t llen;
	char buf[8];

	if (at == NULL)
		return vfail(vc, "an email address needs an '@', like name@example.com");
	if (strchr(s, '@') != at)
		return vfail(vc, "the email address has more than one '@'");
	if (strlen(s) > EMAIL_MAX)
		return vfail(vc, "the email address is longer than %d characters", EMAIL_MAX);
	llen = (size_t)(at - s);
	if (llen == 0)
		return vfail(vc, "the part before the '@' is empty");
	if (llen > EMAIL_LOCAL_MAX)
		return vfail(vc, "the part before the '@' is longer than %d characters",
		    EMAIL_LOCAL_MAX);
	for (q = s; q < at; q++) {
		if (!is_alpha(*q) && !is_digit(*q) && strchr(atext, *q) == NULL)
			return vfail(vc, "the part before the '@' contains %s; it may have letters, "
			    "digits and . _ %% + - =", char_desc(vc, (unsigned char)*q, buf, sizeof buf));
	}
	if (s[0] == '.' || at[-1] == '.' || memmem(s, llen, "..", 2) != NULL)
		return vfail(vc, "the part before the '@' may not start or end with a dot or "
		    "have two dots in a row");
	if (at[1] == '\0')
		return vfail(vc, "the part after the '@' is empty");
	if (str_has_suffix(at + 1, "."))
		return vfail(vc, "the email address ends with a dot");
	if (!check_domain(&sub, at + 1)) {
		vfail(vc, "after the '@', %s", sub.why);
		vcheck_free(&sub);
		return false;
	}
	vcheck_free(&sub);
	return true;
}

/* Check a version: x.y.z decimal numbers, no leading zeros, no "v", no suffix. */
static bool
check_version(struct vcheck *vc, const char *s)
{
	struct vcheck bare = { .quote = vc->quote };
	const char *p = s, *q;
	int part;

	if ((s[0] == 'v' || s[0] == 'V') && is_digit(s[1])) {
		if (check_version(&bare, s + 1))
			vsuggest(vc, s + 1);
		vcheck_free(&bare);
		return vfail(vc, "write the version without the leading \"%c\", like 1.2.3",
		    s[0]);
	}
	for (part = 1; part <= 3; part++) {
		for (q = p; is_digit(*q); q++)
			;
		if (q == p)
			return vfail(vc, "the version must be three numbers separated by dots, "
			    "like 1.2.3");
		if (*p == '0' && q - p > 1)
			return vfail(vc, "part %d of the version has a leading zero", part);
		p = q;
		if (part < 3) {
			if (*p != '.')
				return vfail(vc, "the version must be three numbers separated by "
				    "dots, like 1.2.3");
			p++;
		}
	}
	if (*p == '-' || *p == '+')
		return vfail(vc, "pre-release and build suffixes (like -rc1) are not supported; "
		    "the version must be x.y.z");
	if (*p != '\0')
		return vfail(vc, "the version must be three numbers separated by dots, like 1.2.3");
	return true;
}

/* Check a path: any form (absolute, ~/, relative), but one line and of sane length. */
static bool
check_path(struct vcheck *vc, const char *s)
{
	const char *q;

	for (q = s; *q != '\0'; q++) {
		if (*q == '\n' || *q == '\r')
			return vfail(vc, "the path contains a line break");
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return vfail(vc, "the path contains a control character");
	}
	if (q - s > PATH_LEN_MAX)
		return vfail(vc, "the path is longer than %d characters", PATH_LEN_MAX);
	return true;
}

/* Check free text or a secret: one line, no control characters except tab. */
static bool
check_line(struct vcheck *vc, const char *s)
{
	const char *q;

	for (q = s; *q != '\0'; q++) {
		if (*q == '\n' || *q == '\r')
			return vfail(vc, "the value contains a line break; it must be one line");
		if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
			return vfail(vc, "the value contains a control character");
	}
	return true;
}

/* Are the hex letters of h (40 digits) all in one case? */
static bool
single_case(const char *h)
{
	bool lower = false, upper = false;

	for (; *h != '\0'; h++) {
		lower |= *h >= 'a' && *h <= 'f';
		upper |= *h >= 'A' && *h <= 'F';
	}
	return !(lower && upper);
}

/* Check an Ethereum address: 0x + 40 hex digits, EIP-55 checksum when mixed case. */
static bool
check_eth_address(struct vcheck *vc, const char *s)
{
	const char *h;
	char ck[43], *fixed;
	size_t n, i;
	bool lower = false, upper = false;
	char buf[8];

	if (s[0] == '0' && s[1] == 'x')
		h = s + 2;
	else {
		/* 0X... or the bare 40 digits: suggest the prefixed form, checksummed only when
		 * the digits are in one case (mixed case is a checksum that must hold as typed). */
		fixed = xprintf("0x%s", s[0] == '0' && s[1] == 'X' ? s + 2 : s);
		if (eip55_checksum(fixed, ck) == 0 && (single_case(fixed + 2) ||
		    strcmp(fixed, ck) == 0))
			vsuggest(vc, ck);
		free(fixed);
		if (s[0] == '0' && s[1] == 'X')
			return vfail(vc, "an address starts with a lowercase \"0x\"");
		return vfail(vc, "an address starts with \"0x\"");
	}
	n = strlen(h);
	for (i = 0; i < n; i++) {
		if (hex_digit(h[i]) < 0 && !vc->quote && is_printable(h + i, 1))
			return vfail(vc, "the address contains a character that is not a hex "
			    "digit");
		if (hex_digit(h[i]) < 0)
			return vfail(vc, "the address contains %s, which is not a hex digit",
			    char_desc(vc, (unsigned char)h[i], buf, sizeof buf));
		if (h[i] >= 'a' && h[i] <= 'f')
			lower = true;
		if (h[i] >= 'A' && h[i] <= 'F')
			upper = true;
	}
	if (n == 64)
		return vfail(vc, "the address has 64 hex digits after \"0x\"; it needs 40 "
		    "(that looks like a private key or a transaction hash)");
	if (n != 40)
		return vfail(vc, "the address has %zu hex digits after \"0x\"; it needs 40", n);
	if (eip55_checksum(s, ck) != 0)
		fatal("eip55_checksum refused a well-formed address");
	if (strcmp(s, ck) == 0)
		return true;
	/* Mixed case carries a checksum, and a failed one means a wrong digit as likely as a
	 * wrong case: no suggestion, since taking one would turn a typo into a valid address. */
	if (lower && upper)
		return vfail(vc, "checksum does not match (EIP-55): a digit or letter is wrong; "
		    "copy the address again from where it came from");
	/* Single case: no checksum at all. Accept, and offer the checksummed form. */
	vc->unchecksummed = true;
	vsuggest(vc, ck);
	return true;
}

/* Does the value have whitespace at either end? */
static bool
has_outer_space(const char *s)
{
	size_t n = strlen(s);

	return n != 0 && (strchr(" \t\r\n", s[0]) != NULL || strchr(" \t\r\n", s[n - 1]) != NULL);
}

/* Run the rules of type t on a non-empty value. */
static bool
check_type(struct vcheck *vc, enum input_type t, const char *s)
{
	struct vcheck trimmed = { .quote = vc->quote };
	size_t a, b;
	char *copy;

	if (t != IT_TEXT && t != IT_SECRET && t != IT_PATH && has_outer_space(s)) {
		for (a = 0; s[a] != '\0' && strchr(" \t\r\n", s[a]) != NULL; a++)
			;
		for (b = strlen(s); b > a && strchr(" \t\r\n", s[b - 1]) != NULL; b--)
			;
		copy = xstrndup(s + a, b - a);
		if (*copy != '\0' && check_type(&trimmed, t, copy))
			vsuggest(vc, trimmed.suggestion != NULL ? trimmed.suggestion : copy);
		vcheck_free(&trimmed);
		free(copy);
		return vfail(vc, "the value has spaces at the start or end");
	}
	switch (t) {
	case IT_TEXT:
	case IT_SECRET:
		return check_line(vc, s);
	case IT_ETH_ADDRESS:
		return check_eth_address(vc, s);
	case IT_IP:
		return check_ip(vc, s);
	case IT_IPV4:
		return check_ipv4(vc, s);
	case IT_IPV6:
		return check_ipv6(vc, s);
	case IT_DOMAIN:
		return check_domain(vc, s);
	case IT_URL:
		return check_url(vc, s);
	case IT_PORT:
		return check_port_n(vc, s, strlen(s));
	case IT_EMAIL:
		return check_email(vc, s);
	case IT_VERSION:
		return check_version(vc, s);
	case IT_PATH:
		return check_path(vc, s);
	}
	return vfail(vc, "unknown input type %d", (int)t);
}

/* Validate a value; secret values are never quoted or suggested back. */
static void
validate_common(enum input_type t, const char *value, bool optional, bool secret,
    const struct rx *pattern_re, const char *pattern_text, struct verdict *out)
{
	struct vcheck vc = { .quote = !secret };
	bool ok;

	memset(out, 0, sizeof *out);
	if (value == NULL || *value == '\0') {
		if (optional)
			out->ok = true;
		else
			out->why = xstrdup("a value is required");
		return;
	}
	ok = check_type(&vc, t, value);
	if (ok && pattern_re != NULL && !rx_matches(pattern_re, value)) {
		freep(&vc.suggestion);
		vc.unchecksummed = false;
		if (pattern_text != NULL)
			ok = vfail(&vc, "the value does not match the required pattern %s",
			    pattern_text);
		else
			ok = vfail(&vc, "the value does not match the required pattern");
	}
	out->ok = ok;
	out->why = vc.why;
	out->suggestion = secret ? NULL : vc.suggestion;
	if (secret)
		free(vc.suggestion);
	out->unchecksummed = vc.unchecksummed;
}

/* Validate a value of type t (secret only when t is IT_SECRET). */
void
validate_value(enum input_type t, const char *value, bool optional,
    const struct rx *pattern_re, const char *pattern_text, struct verdict *out)
{
	validate_common(t, value, optional, t == IT_SECRET, pattern_re, pattern_text, out);
}

/* Validate an input against its definition (type, secret, optional, pattern). */
void
validate_input(const struct input_def *def, const char *value, struct verdict *out)
{
	validate_common(def->type, value, def->optional, def->secret || def->type == IT_SECRET,
	    def->pattern_re, def->pattern, out);
	if (out->ok && def->nchoices > 0 && value != NULL && *value != '\0') {
		struct strbuf sb = {0};
		size_t k;

		for (k = 0; k < def->nchoices && strcmp(def->choices[k], value) != 0; k++)
			;
		if (k < def->nchoices)
			return;
		sb_adds(&sb, "it must be one of: ");
		for (k = 0; k < def->nchoices; k++)
			sb_addf(&sb, "%s%s", k ? ", " : "", def->choices[k]);
		out->ok = false;
		out->unchecksummed = false;
		freep(&out->suggestion);
		out->why = sb_detach(&sb);
	}
}

/* Free a verdict's messages and zero it. */
void
verdict_clear(struct verdict *v)
{
	if (v == NULL)
		return;
	free(v->why);
	free(v->suggestion);
	memset(v, 0, sizeof *v);
}

/* Write the EIP-55 form of a 0x + 40 hex digit address into out; -1 if malformed. */
int
eip55_checksum(const char *addr, char out[43])
{
	uint8_t hash[KECCAK256_DIGEST_SIZE];
	char lower[40];
	int i, nibble;

	if (addr == NULL || addr[0] != '0' || addr[1] != 'x')
		return -1;
	for (i = 0; i < 40; i++) {
		if (hex_digit(addr[2 + i]) < 0)
			return -1;
		lower[i] = addr[2 + i];
		if (lower[i] >= 'A' && lower[i] <= 'F')
			lower[i] += 'a' - 'A';
	}
	if (addr[42] != '\0')
		return -1;
	keccak256(lower, sizeof lower, hash);
	out[0] = '0';
	out[1] = 'x';
	for (i = 0; i < 40; i++) {
		nibble = i % 2 == 0 ? hash[i / 2] >> 4 : hash[i / 2] & 0x0f;
		out[2 + i] = lower[i];
		if (lower[i] >= 'a' && nibble >= 8)
			out[2 + i] = lower[i] - ('a' - 'A');
	}
	out[42] = '\0';
	return 0;
}

/* Wrap a check for the public bool-returning API: *why gets the reason or NULL. */
static bool
run_public(bool (*fn)(struct vcheck *, const char *), const char *s, char **why)
{
	struct vcheck vc = { .quote = true };
	bool ok = s != NULL && fn(&vc, s);

	if (s == NULL)
		vfail(&vc, "a value is required");
	if (why != NULL) {
		*why = vc.why;
		vc.why = NULL;
	}
	vcheck_free(&vc);
	return ok;
}

/* Is s a dotted-quad IPv4 address? */
bool
valid_ipv4(const char *s)
{
	return run_public(check_ipv4, s, NULL);
}

/* Is s an IPv6 address? */
bool
valid_ipv6(const char *s)
{
	return run_public(check_ipv6, s, NULL);
}

/* Is s a domain name? *why (if given) gets the reason or NULL. */
bool
valid_domain(const char *s, char **why)
{
	return run_public(check_domain, s, why);
}

/* Check a NUL-terminated port string. */
static bool
check_port(struct vcheck *vc, const char *s)
{
	return check_port_n(vc, s, strlen(s));
}

/* Is s a port number 1-65535? */
bool
valid_port(const char *s)
{
	return run_public(check_port, s, NULL);
}

/* Is s an email address? *why (if given) gets the reason or NULL. */
bool
valid_email(const char *s, char **why)
{
	return run_public(check_email, s, why);
}

/* Is s an http(s) URL? *why (if given) gets the reason or NULL. */
bool
valid_url(const char *s, char **why)
{
	return run_public(check_url, s, why);
}

/* Is s an x.y.z version? */
bool
valid_version(const char *s)
{
	return run_public(check_version, s, NULL);
}
