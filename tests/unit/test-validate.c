/*
 * test-validate.c: Keccak-256 against known digests, EIP-55 against the EIP's own vectors, and
 * every input type's validator with good values, bad values, boundaries and exact messages.
 *
 * The Keccak digests of the 135/136/137/200/272-byte messages come from an independent
 * implementation (a from-scratch Python sponge and permutation, which reproduces
 * hashlib.sha3_256 when given SHA-3's 0x06 padding and the vectors below with 0x01).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "keccak.h"
#include "rx.h"
#include "util.h"
#include "ethkey.h"
#include "validate.h"

/* Hex-encode a digest. */
#define EIP55_WRONG "checksum does not match (EIP-55): a digit or letter is wrong; copy the " \
	"address again from where it came from"

static void
to_hex(const uint8_t *d, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

/* Assert keccak256(data) == hex. */
static void
assert_keccak(const void *data, size_t len, const char *hex)
{
	uint8_t d[KECCAK256_DIGEST_SIZE];
	char got[2 * KECCAK256_DIGEST_SIZE + 1];

	keccak256(data, len, d);
	to_hex(d, sizeof d, got);
	assert_string_equal(got, hex);
}

/* The test message of n bytes: byte i is (7i + 3) mod 256. */
static uint8_t *
test_message(size_t n)
{
	uint8_t *m = xmalloc(n + 1);
	size_t i;

	for (i = 0; i < n; i++)
		m[i] = (uint8_t)((i * 7 + 3) & 0xff);
	return m;
}

/* Published Keccak-256 digests, including Solidity selectors. */
static void
keccak_known_vectors(void **state)
{
	(void)state;
	assert_keccak("", 0,
	    "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
	assert_keccak("abc", 3,
	    "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
	assert_keccak("The quick brown fox jumps over the lazy dog", 43,
	    "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
	/* Solidity function selectors are the first 4 bytes. */
	assert_keccak("transfer(address,uint256)", 25,
	    "a9059cbb2ab09eb219583f4a59a5d0623ade346d962bcd4e46b11da047c9049b");
	assert_keccak("balanceOf(address)", 18,
	    "70a08231b98ef4ca268c9cc3f6b4590e4bfec28280db06bb5d45e689f2a360be");
}

/* Messages around and across the 136-byte rate. */
static void
keccak_block_boundaries(void **state)
{
	static const struct {
		size_t len;
		const char *hex;
	} v[] = {
		{ 135, "00ef96af9cf4b24c7f269d922294444a197d0a33638c2e56634c57e892103a8f" },
		{ 136, "742061bcad767ed4c4f5883b1dcb1aad11afdcc140dc469d953759b127b9f9ed" },
		{ 137, "e3371f61e770abf254c34239c3b0099ad90594507415bc81dd0a10b9692bbf2a" },
		{ 200, "66d2cdf3ab4c5bd3c75add9b60b14ac5b7789534fa2da3f348853b847359a3a0" },
		{ 272, "ac141fd7b0a0ffcd2e967254d508da3ec616596493c36fa304425647d90e6de5" },
	};
	size_t i;
	uint8_t *m;

	(void)state;
	for (i = 0; i < nitems(v); i++) {
		m = test_message(v[i].len);
		assert_keccak(m, v[i].len, v[i].hex);
		free(m);
	}
}

/* Input at an unaligned address. */
static void
keccak_unaligned_input(void **state)
{
	uint8_t *m = test_message(137), *buf = xmalloc(137 + 3);

	(void)state;
	/* The same bytes at an odd address must hash the same (lanes are read bytewise). */
	memcpy(buf + 3, m, 137);
	assert_keccak(buf + 3, 137,
	    "e3371f61e770abf254c34239c3b0099ad90594507415bc81dd0a10b9692bbf2a");
	free(buf);
	free(m);
}

/* The EIP-55 specification's test vectors. */
static const char *const eip55_vectors[] = {
	/* all caps */
	"0x52908400098527886E0F7030069857D2E4169EE7",
	"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
	/* all lower */
	"0xde709f2102306220921060314715629080e2fb77",
	"0x27b1fdb04752bbc536007a920d24acb045561c26",
	/* normal */
	"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
};

/* Lowercase the hex digits of an address (a new string). */
static char *
lower_addr(const char *a)
{
	char *s = xstrdup(a), *p;

	for (p = s + 2; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'F')
			*p += 'a' - 'A';
	}
	return s;
}

/* Uppercase the hex digits of an address (a new string). */
static char *
upper_addr(const char *a)
{
	char *s = xstrdup(a), *p;

	for (p = s + 2; *p != '\0'; p++) {
		if (*p >= 'a' && *p <= 'f')
			*p -= 'a' - 'A';
	}
	return s;
}

/* The EIP-55 vectors round-trip and validate as checksummed. */
static void
eip55_spec_vectors(void **state)
{
	struct verdict v;
	char ck[43], *low, *up;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(eip55_vectors); i++) {
		low = lower_addr(eip55_vectors[i]);
		up = upper_addr(eip55_vectors[i]);
		assert_int_equal(eip55_checksum(low, ck), 0);
		assert_string_equal(ck, eip55_vectors[i]);
		assert_int_equal(eip55_checksum(up, ck), 0);
		assert_string_equal(ck, eip55_vectors[i]);
		assert_int_equal(eip55_checksum(eip55_vectors[i], ck), 0);
		assert_string_equal(ck, eip55_vectors[i]);

		validate_value(IT_ETH_ADDRESS, eip55_vectors[i], false, NULL, NULL, &v);
		assert_true(v.ok);
		assert_null(v.why);
		assert_null(v.suggestion);
		assert_false(v.unchecksummed);
		verdict_clear(&v);
		free(low);
		free(up);
	}
}

/* Single-case addresses are accepted but flagged unchecksummed. */
static void
eip55_single_case_unchecksummed(void **state)
{
	const char *addr = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
	struct verdict v;
	char *low = lower_addr(addr), *up = upper_addr(addr);

	(void)state;
	validate_value(IT_ETH_ADDRESS, low, false, NULL, NULL, &v);
	assert_true(v.ok);
	assert_true(v.unchecksummed);
	assert_null(v.why);
	assert_string_equal(v.suggestion, addr);
	verdict_clear(&v);

	validate_value(IT_ETH_ADDRESS, up, false, NULL, NULL, &v);
	assert_true(v.ok);
	assert_true(v.unchecksummed);
	assert_string_equal(v.suggestion, addr);
	verdict_clear(&v);

	/* Only digits: there is nothing to checksum, and nothing to flag. */
	validate_value(IT_ETH_ADDRESS, "0x1234567890123456789012345678901234567890", false,
	    NULL, NULL, &v);
	assert_true(v.ok);
	assert_false(v.unchecksummed);
	verdict_clear(&v);
	free(low);
	free(up);
}

/* One flipped letter breaks the checksum, and nothing is suggested: a wrong checksum is as
 * likely a wrong digit, and taking a suggestion would make the typo valid. */
static void
eip55_flipped_case_refused(void **state)
{
	struct verdict v;
	char *bad;
	size_t i, j;

	(void)state;
	for (i = 0; i < nitems(eip55_vectors); i++) {
		/* Flip the case of the first letter of each vector that keeps it mixed case. */
		bad = xstrdup(eip55_vectors[i]);
		for (j = 2; bad[j] != '\0'; j++) {
			if (bad[j] >= 'a' && bad[j] <= 'f') {
				bad[j] -= 'a' - 'A';
				break;
			}
			if (bad[j] >= 'A' && bad[j] <= 'F') {
				bad[j] += 'a' - 'A';
				break;
			}
		}
		assert_string_not_equal(bad, eip55_vectors[i]);
		/* Mixed-case vectors get a wrong checksum; single-case ones become mixed. */
		validate_value(IT_ETH_ADDRESS, bad, false, NULL, NULL, &v);
		assert_false(v.ok);
		assert_string_equal(v.why, EIP55_WRONG);
		assert_null(v.suggestion);
		assert_false(v.unchecksummed);
		verdict_clear(&v);
		free(bad);
	}
}

/* A wrong digit in a checksummed address is refused without a suggestion (taking the
 * checksummed form of the typo would turn it into a valid address of nobody's). */
static void
eip55_wrong_digit_no_suggestion(void **state)
{
	struct verdict v;

	(void)state;
	/* 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed with its 11th digit 3 -> 4. */
	validate_value(IT_ETH_ADDRESS, "0x5aAeb6054F3E94C9b9A09f33669435E7Ef1BeAed", false,
	    NULL, NULL, &v);
	assert_false(v.ok);
	assert_string_equal(v.why, EIP55_WRONG);
	assert_null(v.suggestion);
	verdict_clear(&v);
	/* The same without 0x: refused for the prefix, and still no checksummed guess. */
	validate_value(IT_ETH_ADDRESS, "5aAeb6054F3E94C9b9A09f33669435E7Ef1BeAed", false,
	    NULL, NULL, &v);
	assert_false(v.ok);
	assert_null(v.suggestion);
	verdict_clear(&v);
	/* A correct mixed-case address without 0x gets its prefix back, digits as typed. */
	validate_value(IT_ETH_ADDRESS, "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", false,
	    NULL, NULL, &v);
	assert_false(v.ok);
	assert_string_equal(v.suggestion, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
	verdict_clear(&v);
	/* An all-lower-case address is offered in its checksummed form. */
	validate_value(IT_ETH_ADDRESS, "0x5aaeb6054f3e94c9b9a09f33669435e7ef1beaed", false,
	    NULL, NULL, &v);
	assert_true(v.ok);
	assert_true(v.unchecksummed);
	assert_non_null(v.suggestion);
	verdict_clear(&v);
}

/* Assert that value of type t is refused with exactly this why. */
static void
assert_why(enum input_type t, const char *value, const char *why)
{
	struct verdict v;

	validate_value(t, value, false, NULL, NULL, &v);
	if (v.ok)
		fail_msg("\"%s\" was accepted; expected: %s", value, why);
	assert_non_null(v.why);
	assert_string_equal(v.why, why);
	verdict_clear(&v);
}

/* Assert that value of type t is refused (with some reason). */
static void
assert_bad(enum input_type t, const char *value)
{
	struct verdict v;

	validate_value(t, value, false, NULL, NULL, &v);
	if (v.ok)
		fail_msg("\"%s\" was accepted for type %d", value, (int)t);
	assert_non_null(v.why);
	assert_true(strlen(v.why) > 0);
	verdict_clear(&v);
}

/* Assert that value of type t is accepted. */
static void
assert_good(enum input_type t, const char *value)
{
	struct verdict v;

	validate_value(t, value, false, NULL, NULL, &v);
	if (!v.ok)
		fail_msg("\"%s\" was refused for type %d: %s", value, (int)t, v.why);
	assert_null(v.why);
	verdict_clear(&v);
}

/* Malformed addresses say what is wrong. */
static void
eth_address_malformed(void **state)
{
	struct verdict v;
	char ck[43];

	(void)state;
	assert_why(IT_ETH_ADDRESS, "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	    "an address starts with \"0x\"");
	validate_value(IT_ETH_ADDRESS, "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", false,
	    NULL, NULL, &v);
	assert_false(v.ok);
	assert_string_equal(v.suggestion, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
	verdict_clear(&v);
	assert_why(IT_ETH_ADDRESS, "0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	    "an address starts with a lowercase \"0x\"");
	assert_why(IT_ETH_ADDRESS, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
	    "the address has 39 hex digits after \"0x\"; it needs 40");
	assert_why(IT_ETH_ADDRESS, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd",
	    "the address has 41 hex digits after \"0x\"; it needs 40");
	assert_why(IT_ETH_ADDRESS, "0x",
	    "the address has 0 hex digits after \"0x\"; it needs 40");
	assert_why(IT_ETH_ADDRESS, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",
	    "the address contains 'g', which is not a hex digit");
	assert_why(IT_ETH_ADDRESS,
	    "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
	    "the address has 64 hex digits after \"0x\"; it needs 40 (that looks like a "
	    "private key or a transaction hash)");
	assert_why(IT_ETH_ADDRESS, " 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	    "the value has spaces at the start or end");

	assert_int_equal(eip55_checksum("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", ck), -1);
	assert_int_equal(eip55_checksum("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd", ck), -1);
	assert_int_equal(eip55_checksum("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00", ck), -1);
	assert_int_equal(eip55_checksum("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeZ", ck), -1);
	assert_int_equal(eip55_checksum(NULL, ck), -1);
	assert_int_equal(eip55_checksum("", ck), -1);
}

/* IPv4: ranges, leading zeros, part counts. */
static void
ipv4_rules(void **state)
{
	(void)state;
	assert_true(valid_ipv4("0.0.0.0"));
	assert_true(valid_ipv4("255.255.255.255"));
	assert_true(valid_ipv4("192.0.2.1"));
	assert_true(valid_ipv4("10.0.0.10"));
	assert_false(valid_ipv4("256.0.0.1"));
	assert_false(valid_ipv4("1.2.3.256"));
	assert_false(valid_ipv4("1.2.3.1000"));
	assert_false(valid_ipv4("01.2.3.4"));
	assert_false(valid_ipv4("1.2.3.00"));
	assert_false(valid_ipv4("1.2.3"));
	assert_false(valid_ipv4("1.2.3.4.5"));
	assert_false(valid_ipv4("1.2.3.4."));
	assert_false(valid_ipv4("1..3.4"));
	assert_false(valid_ipv4(".1.2.3"));
	assert_false(valid_ipv4("1.2.3.-4"));
	assert_false(valid_ipv4("+1.2.3.4"));
	assert_false(valid_ipv4("a.b.c.d"));
	assert_false(valid_ipv4(""));
	assert_false(valid_ipv4(NULL));
	assert_false(valid_ipv4("::1"));

	assert_good(IT_IPV4, "127.0.0.1");
	assert_why(IT_IPV4, "1.2.3.256", "part 4 of the IPv4 address is greater than 255");
	assert_why(IT_IPV4, "1.2.3.2555", "part 4 of the IPv4 address is greater than 255");
	assert_why(IT_IPV4, "1.02.3.4", "part 2 of the IPv4 address has a leading zero (some "
	    "programs read that as octal)");
	assert_why(IT_IPV4, "1.2.3", "the IPv4 address has 3 parts; it needs 4");
	assert_why(IT_IPV4, "1.2.3.4.5", "the IPv4 address has more than 4 parts");
	assert_why(IT_IPV4, "1.2.3.4.", "the IPv4 address ends with a dot");
	assert_why(IT_IPV4, "1..3.4", "part 2 of the IPv4 address is empty");
	assert_why(IT_IPV4, "1.2.x.4", "the IPv4 address contains 'x'; it is four numbers "
	    "0-255 separated by dots");
	assert_why(IT_IPV4, "1.2.3.4/24", "the IPv4 address contains '/'; it is four numbers "
	    "0-255 separated by dots");
}

/* IPv6 via inet_pton, and the either-family type. */
static void
ipv6_and_ip_rules(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(valid_ipv6("::1"));
	assert_true(valid_ipv6("::"));
	assert_true(valid_ipv6("2001:db8::1"));
	assert_true(valid_ipv6("fe80::1:2:3:4"));
	assert_true(valid_ipv6("2001:0db8:0000:0000:0000:ff00:0042:8329"));
	assert_true(valid_ipv6("::ffff:192.0.2.1"));
	assert_false(valid_ipv6("2001:db8::1::2"));
	assert_false(valid_ipv6("1:2:3:4:5:6:7:8:9"));
	assert_false(valid_ipv6("2001:db8::g"));
	assert_false(valid_ipv6("fe80::1%eth0"));
	assert_false(valid_ipv6("192.0.2.1"));
	assert_false(valid_ipv6("[::1]"));
	assert_false(valid_ipv6(""));

	assert_why(IT_IPV6, "fe80::1%eth0",
	    "an IPv6 zone index (the %interface part) is not supported");
	assert_why(IT_IPV6, "2001:db8::1::2", "not a valid IPv6 address (up to eight groups "
	    "of hex digits separated by colons, like 2001:db8::1)");
	validate_value(IT_IPV6, "[2001:db8::1]", false, NULL, NULL, &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "write the IPv6 address without the brackets");
	assert_string_equal(v.suggestion, "2001:db8::1");
	verdict_clear(&v);

	assert_good(IT_IP, "192.0.2.1");
	assert_good(IT_IP, "2001:db8::1");
	assert_good(IT_IP, "::1");
	assert_why(IT_IP, "192.0.2.300", "part 4 of the IPv4 address is greater than 255");
	assert_why(IT_IP, "example.com",
	    "not an IP address (IPv4 like 192.0.2.1 or IPv6 like 2001:db8::1)");
	assert_bad(IT_IP, "2001:db8:::1");
}

/* n copies of c (a new string). */
static char *
repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Domains: label and total lengths, hyphens, characters, TLD. */
static void
domain_rules(void **state)
{
	char *l63 = repeat('a', 63), *l64 = repeat('b', 64), *l61 = repeat('d', 61);
	char *s, *why;

	(void)state;
	assert_true(valid_domain("example.com", NULL));
	assert_true(valid_domain("kms.example.com.", NULL));
	assert_true(valid_domain("a-b.c0.io", NULL));
	assert_true(valid_domain("3com.com", NULL));
	assert_true(valid_domain("xn--bcher-kva.example", NULL));
	assert_true(valid_domain("EXAMPLE.COM", NULL));

	/* Label length 63 / 64. */
	s = xprintf("%s.com", l63);
	assert_true(valid_domain(s, NULL));
	free(s);
	s = xprintf("x.%s.com", l64);
	assert_false(valid_domain(s, &why));
	assert_string_equal(why, "label 2 is 64 characters long; the limit is 63");
	free(why);
	free(s);

	/* Total length 253 / 254 (a trailing dot does not count). */
	s = xprintf("%s.%s.%s.%s", l63, l63, l63, l61);
	assert_int_equal(strlen(s), 253);
	assert_true(valid_domain(s, NULL));
	free(s);
	s = xprintf("%s.%s.%s.%s.", l63, l63, l63, l61);
	assert_true(valid_domain(s, NULL));
	free(s);
	s = xprintf("%s.%s.%s.%sd", l63, l63, l63, l61);
	assert_int_equal(strlen(s), 254);
	assert_false(valid_domain(s, &why));
	assert_string_equal(why, "the domain name is 254 characters long; the limit is 253");
	free(why);
	free(s);

	why = (char *)"untouched";
	assert_true(valid_domain("example.org", &why));
	assert_null(why);

	assert_why(IT_DOMAIN, "exa_mple.com", "label 1 (\"exa_mple\") contains '_'; labels may "
	    "have only letters, digits and hyphens");
	assert_why(IT_DOMAIN, "kms.-bad.com", "label 2 (\"-bad\") starts with a hyphen");
	assert_why(IT_DOMAIN, "kms.bad-.com", "label 2 (\"bad-\") ends with a hyphen");
	assert_why(IT_DOMAIN, "localhost", "\"localhost\" is a single label; a domain name "
	    "needs at least two, like example.com");
	assert_why(IT_DOMAIN, "example.123", "the top-level label \"123\" is all digits; it "
	    "must have a letter");
	assert_why(IT_DOMAIN, "192.0.2.1", "this is an IP address, not a domain name");
	assert_why(IT_DOMAIN, "example..com", "the domain name has two dots in a row");
	assert_why(IT_DOMAIN, ".example.com", "the domain name starts with a dot");
	assert_why(IT_DOMAIN, ".", "the domain name has no labels");
	assert_why(IT_DOMAIN, "b\xc3\xbc" "cher.example", "label 1 contains a non-ASCII "
	    "character; write international names in their xn-- (punycode) form");
	assert_why(IT_DOMAIN, "my domain.com", "label 1 (\"my domain\") contains a space; "
	    "labels may have only letters, digits and hyphens");
	assert_bad(IT_DOMAIN, "example.com..");
	assert_bad(IT_DOMAIN, "http://example.com");
	assert_bad(IT_DOMAIN, "example.com/path");
	free(l63);
	free(l64);
	free(l61);
}

/* URLs: scheme, host forms, port range, spaces. */
static void
url_rules(void **state)
{
	char *why;

	(void)state;
	assert_true(valid_url("http://example.com", NULL));
	assert_true(valid_url("https://example.com/", NULL));
	assert_true(valid_url("https://rpc.example.com:8545/v3/abc?x=1#frag", NULL));
	assert_true(valid_url("HTTPS://Example.COM", NULL));
	assert_true(valid_url("http://127.0.0.1:8545", NULL));
	assert_true(valid_url("http://localhost:8545", NULL));
	assert_true(valid_url("http://[::1]:8083/prpc", NULL));
	assert_true(valid_url("http://[2001:db8::1]", NULL));
	assert_true(valid_url("http://example.com.:1/", NULL));
	assert_true(valid_url("http://example.com:65535", NULL));
	assert_true(valid_url("http://example.com?q", NULL));

	assert_false(valid_url("http://example.com:0", NULL));
	assert_false(valid_url("http://example.com:65536", NULL));
	assert_false(valid_url("http://example.com:", NULL));
	assert_false(valid_url("http://example.com:08", NULL));
	assert_false(valid_url("http://256.1.1.1/", NULL));
	assert_false(valid_url("http://[::1/", NULL));
	assert_false(valid_url("http://[::g]/", NULL));
	assert_false(valid_url("http://[::1]x/", NULL));
	assert_false(valid_url("http://intranet/", NULL));
	assert_false(valid_url("example.com", NULL));
	assert_false(valid_url("http:/example.com", NULL));
	assert_false(valid_url("", NULL));

	assert_false(valid_url("ftp://example.com/", &why));
	assert_string_equal(why, "the URL scheme \"ftp\" is not supported; use http:// or https://");
	free(why);
	assert_why(IT_URL, "example.com", "a URL starts with http:// or https://");
	assert_why(IT_URL, "http://example.com/a b", "the URL contains a space; write it as %20");
	assert_why(IT_URL, "http://", "the URL has no host");
	assert_why(IT_URL, "https:///path", "the URL has no host");
	assert_why(IT_URL, "http://:8080/", "the URL has no host");
	assert_why(IT_URL, "http://user:pw@example.com/",
	    "a user name or password in the URL is not supported");
	assert_why(IT_URL, "http://2001:db8::1/", "an IPv6 address in a URL goes in brackets, "
	    "like http://[2001:db8::1]:8080/");
	assert_why(IT_URL, "http://example.com:0/",
	    "port 0 cannot be used; the port must be from 1 to 65535");
	assert_why(IT_URL, "http://example.com:99999/", "the port is greater than 65535");
	assert_why(IT_URL, "http://exa_mple.com/", "label 1 (\"exa_mple\") contains '_'; labels "
	    "may have only letters, digits and hyphens");
	assert_why(IT_URL, "http://example.com/a\tb", "the URL contains a tab");
}

/* Ports: 0/1/65535/65536, signs, leading zeros. */
static void
port_rules(void **state)
{
	(void)state;
	assert_false(valid_port("0"));
	assert_true(valid_port("1"));
	assert_true(valid_port("22"));
	assert_true(valid_port("8083"));
	assert_true(valid_port("65535"));
	assert_false(valid_port("65536"));
	assert_false(valid_port("99999"));
	assert_false(valid_port("100000"));
	assert_false(valid_port("4294967297"));
	assert_false(valid_port("018"));
	assert_false(valid_port("00"));
	assert_false(valid_port("+22"));
	assert_false(valid_port("-1"));
	assert_false(valid_port("22a"));
	assert_false(valid_port("0x50"));
	assert_false(valid_port(""));

	assert_good(IT_PORT, "443");
	assert_why(IT_PORT, "0", "port 0 cannot be used; the port must be from 1 to 65535");
	assert_why(IT_PORT, "65536", "the port is greater than 65535");
	assert_why(IT_PORT, "0443", "the port has a leading zero");
	assert_why(IT_PORT, "+443", "the port must be a number from 1 to 65535");
	assert_why(IT_PORT, "https", "the port must be a number from 1 to 65535");
}

/* Email: the local part, the domain part. */
static void
email_rules(void **state)
{
	char *why;
	char *local64 = repeat('x', 64), *local65 = repeat('x', 65), *s;

	(void)state;
	assert_true(valid_email("admin@example.com", NULL));
	assert_true(valid_email("first.last+tag@mail.example.co.uk", NULL));
	assert_true(valid_email("obrien_1%x=y@example.org", NULL));
	assert_false(valid_email("o'brien@example.org", &why));
	assert_string_equal(why, "the part before the '@' contains '''; it may have letters, "
	    "digits and . _ % + - =");
	free(why);
	assert_false(valid_email("a$(id)@example.org", NULL));
	assert_false(valid_email("a`id`@example.org", NULL));
	s = xprintf("%s@example.com", local64);
	assert_true(valid_email(s, NULL));
	free(s);
	s = xprintf("%s@example.com", local65);
	assert_false(valid_email(s, &why));
	assert_string_equal(why, "the part before the '@' is longer than 64 characters");
	free(why);
	free(s);

	assert_false(valid_email("admin@localhost", &why));
	assert_string_equal(why, "after the '@', \"localhost\" is a single label; a domain "
	    "name needs at least two, like example.com");
	free(why);

	assert_why(IT_EMAIL, "admin.example.com", "an email address needs an '@', like "
	    "name@example.com");
	assert_why(IT_EMAIL, "a@b@example.com", "the email address has more than one '@'");
	assert_why(IT_EMAIL, "@example.com", "the part before the '@' is empty");
	assert_why(IT_EMAIL, "admin@", "the part after the '@' is empty");
	assert_why(IT_EMAIL, ".admin@example.com", "the part before the '@' may not start or "
	    "end with a dot or have two dots in a row");
	assert_bad(IT_EMAIL, "admin.@example.com");
	assert_bad(IT_EMAIL, "ad..min@example.com");
	assert_why(IT_EMAIL, "ad min@example.com", "the part before the '@' contains a space; it "
	    "may have letters, digits and . _ % + - =");
	assert_why(IT_EMAIL, "admin@exa_mple.com", "after the '@', label 1 (\"exa_mple\") "
	    "contains '_'; labels may have only letters, digits and hyphens");
	assert_why(IT_EMAIL, "admin@example.com.", "the email address ends with a dot");
	free(local64);
	free(local65);
}

/* Versions: x.y.z, no leading zeros, no v, no suffix. */
static void
version_rules(void **state)
{
	struct verdict v;

	(void)state;
	assert_true(valid_version("0.0.0"));
	assert_true(valid_version("0.5.3"));
	assert_true(valid_version("10.20.30"));
	assert_false(valid_version("1.2"));
	assert_false(valid_version("1.2.3.4"));
	assert_false(valid_version("01.2.3"));
	assert_false(valid_version("1.02.3"));
	assert_false(valid_version("1.2.03"));
	assert_false(valid_version("v1.2.3"));
	assert_false(valid_version("1.2.3-rc1"));
	assert_false(valid_version("1..3"));
	assert_false(valid_version("1.2.x"));
	assert_false(valid_version(""));

	validate_value(IT_VERSION, "v0.5.3", false, NULL, NULL, &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "write the version without the leading \"v\", like 1.2.3");
	assert_string_equal(v.suggestion, "0.5.3");
	verdict_clear(&v);
	validate_value(IT_VERSION, "v0.05.3", false, NULL, NULL, &v);
	assert_false(v.ok);
	assert_null(v.suggestion);
	verdict_clear(&v);
	assert_why(IT_VERSION, "1.02.3", "part 2 of the version has a leading zero");
	assert_why(IT_VERSION, "1.2", "the version must be three numbers separated by dots, "
	    "like 1.2.3");
	assert_why(IT_VERSION, "0.5.3-rc1", "pre-release and build suffixes (like -rc1) are "
	    "not supported; the version must be x.y.z");
}

/* Paths, free text and secrets: one line, no control characters. */
static void
path_text_secret_rules(void **state)
{
	char *longpath = repeat('p', 4096);

	(void)state;
	assert_good(IT_PATH, "/etc/dstack/vmm.toml");
	assert_good(IT_PATH, "~/dstack");
	assert_good(IT_PATH, "relative/dir");
	assert_good(IT_PATH, "/path with spaces/x");
	assert_why(IT_PATH, "/etc/a\nb", "the path contains a line break");
	assert_why(IT_PATH, "/etc/a\x1b[2Jb", "the path contains a control character");
	assert_why(IT_PATH, longpath, "the path is longer than 4095 characters");
	longpath[4095] = '\0';
	assert_good(IT_PATH, longpath);

	assert_good(IT_TEXT, "any text, even with spaces  ");
	assert_good(IT_TEXT, "tab\tseparated");
	assert_why(IT_TEXT, "two\nlines", "the value contains a line break; it must be one line");
	assert_why(IT_TEXT, "cr\r", "the value contains a line break; it must be one line");
	assert_why(IT_TEXT, "bell\a", "the value contains a control character");

	assert_good(IT_SECRET, "sk-live-abc123");
	assert_why(IT_SECRET, "sk-live-abc123\n",
	    "the value contains a line break; it must be one line");
	free(longpath);
}

/* Empty values: required unless optional, for every type. */
static void
optional_and_required(void **state)
{
	static const enum input_type types[] = {
		IT_TEXT, IT_SECRET, IT_ETH_ADDRESS, IT_IP, IT_IPV4, IT_IPV6, IT_DOMAIN, IT_URL,
		IT_PORT, IT_EMAIL, IT_VERSION, IT_PATH,
	};
	struct verdict v;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(types); i++) {
		validate_value(types[i], "", false, NULL, NULL, &v);
		assert_false(v.ok);
		assert_string_equal(v.why, "a value is required");
		verdict_clear(&v);
		validate_value(types[i], NULL, false, NULL, NULL, &v);
		assert_false(v.ok);
		assert_string_equal(v.why, "a value is required");
		verdict_clear(&v);
		validate_value(types[i], "", true, NULL, NULL, &v);
		assert_true(v.ok);
		assert_null(v.why);
		verdict_clear(&v);
		validate_value(types[i], NULL, true, NULL, NULL, &v);
		assert_true(v.ok);
		verdict_clear(&v);
	}
	/* Optional does not excuse a bad non-empty value. */
	validate_value(IT_PORT, "70000", true, NULL, NULL, &v);
	assert_false(v.ok);
	verdict_clear(&v);
}

/* Outer whitespace is refused with the trimmed value suggested. */
static void
whitespace_trimmed_suggestion(void **state)
{
	struct verdict v;

	(void)state;
	validate_value(IT_DOMAIN, " kms.example.com\n", false, NULL, NULL, &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "the value has spaces at the start or end");
	assert_string_equal(v.suggestion, "kms.example.com");
	verdict_clear(&v);

	/* The trimmed address is suggested in its checksummed form. */
	validate_value(IT_ETH_ADDRESS, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed ", false,
	    NULL, NULL, &v);
	assert_false(v.ok);
	assert_string_equal(v.suggestion, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
	verdict_clear(&v);

	/* No suggestion when the trimmed value is still wrong. */
	validate_value(IT_PORT, " 0 ", false, NULL, NULL, &v);
	assert_false(v.ok);
	assert_null(v.suggestion);
	verdict_clear(&v);
	validate_value(IT_PORT, "   ", false, NULL, NULL, &v);
	assert_false(v.ok);
	assert_null(v.suggestion);
	verdict_clear(&v);
}

/* The extra pattern applies after the type's rules. */
static void
pattern_checked_after_type(void **state)
{
	struct rx *re = rx_new("^[a-z]+\\.example\\.com$", 0, NULL);
	struct verdict v;

	(void)state;
	assert_non_null(re);
	validate_value(IT_DOMAIN, "kms.example.com", false, re, "^[a-z]+\\.example\\.com$", &v);
	assert_true(v.ok);
	verdict_clear(&v);
	validate_value(IT_DOMAIN, "kms.example.org", false, re, "^[a-z]+\\.example\\.com$", &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "the value does not match the required pattern "
	    "^[a-z]+\\.example\\.com$");
	verdict_clear(&v);
	/* The type's own message comes first. */
	validate_value(IT_DOMAIN, "kms", false, re, "x", &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "\"kms\" is a single label; a domain name needs at least two, "
	    "like example.com");
	verdict_clear(&v);
	/* An empty optional value skips the pattern. */
	validate_value(IT_DOMAIN, "", true, re, "x", &v);
	assert_true(v.ok);
	verdict_clear(&v);
	/* No pattern text: a generic message. */
	validate_value(IT_DOMAIN, "a.example.org", false, re, NULL, &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "the value does not match the required pattern");
	verdict_clear(&v);
	rx_free(&re);

	/* An unchecksummed address failing the pattern keeps no suggestion. */
	re = rx_new("^0x0", 0, NULL);
	validate_value(IT_ETH_ADDRESS, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", false, re,
	    "^0x0", &v);
	assert_false(v.ok);
	assert_null(v.suggestion);
	assert_false(v.unchecksummed);
	verdict_clear(&v);
	rx_free(&re);
}

/* Assert that nothing in the verdict repeats the secret fragment. */
static void
assert_no_leak(const struct verdict *v, const char *fragment)
{
	if (v->why != NULL && strstr(v->why, fragment) != NULL)
		fail_msg("why leaks the secret: %s", v->why);
	assert_null(v->suggestion);
}

/* Secret values are never quoted or suggested back. */
static void
secrets_never_echoed(void **state)
{
	struct input_def def;
	struct verdict v;

	(void)state;
	memset(&def, 0, sizeof def);
	def.name = (char *)"api_key";
	def.type = IT_SECRET;
	def.secret = true;
	def.pattern = (char *)"^sk-[a-z0-9]{8}$";
	def.pattern_re = rx_new(def.pattern, 0, NULL);
	assert_non_null(def.pattern_re);

	validate_input(&def, "sk-abcd1234", &v);
	assert_true(v.ok);
	verdict_clear(&v);
	validate_input(&def, "sk-TOPSECRETVALUE", &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "the value does not match the required pattern "
	    "^sk-[a-z0-9]{8}$");
	assert_no_leak(&v, "TOPSECRET");
	verdict_clear(&v);
	validate_input(&def, "TOPSECRET\n", &v);
	assert_false(v.ok);
	assert_no_leak(&v, "TOPSECRET");
	verdict_clear(&v);
	rx_free(&def.pattern_re);

	/* A secret of a structured type: no fragment quoted, no suggestion. */
	def.pattern = NULL;
	def.type = IT_DOMAIN;
	validate_input(&def, "TOPSECRET_x.example.com", &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "label 1 contains a character that is not allowed; labels "
	    "may have only letters, digits and hyphens");
	assert_no_leak(&v, "TOPSECRET");
	verdict_clear(&v);
	validate_input(&def, "TOPSECRET", &v);
	assert_false(v.ok);
	assert_no_leak(&v, "TOPSECRET");
	verdict_clear(&v);
	validate_input(&def, " TOPSECRET.example.com", &v);
	assert_false(v.ok);
	assert_no_leak(&v, "TOPSECRET");
	verdict_clear(&v);

	def.type = IT_URL;
	validate_input(&def, "gopher://TOPSECRET/", &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "the URL scheme is not supported; use http:// or https://");
	verdict_clear(&v);
	validate_input(&def, "http://TOPSECRET.example.com:99999/", &v);
	assert_false(v.ok);
	assert_no_leak(&v, "TOPSECRET");
	verdict_clear(&v);

	def.type = IT_ETH_ADDRESS;
	validate_input(&def, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", &v);
	assert_false(v.ok);
	assert_string_equal(v.why, EIP55_WRONG);
	assert_no_leak(&v, "5aAeb6053");
	verdict_clear(&v);
	validate_input(&def, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", &v);
	assert_true(v.ok);
	assert_true(v.unchecksummed);
	assert_no_leak(&v, "5aaeb6053");
	verdict_clear(&v);
	validate_input(&def, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "the address contains a character that is not a hex "
	    "digit");
	verdict_clear(&v);

	/* The same value, not secret, is fixed: its checksummed form is suggested. */
	def.secret = false;
	validate_input(&def, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", &v);
	assert_true(v.ok);
	assert_string_equal(v.suggestion, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
	verdict_clear(&v);
}

/* validate_input follows the definition's fields. */
static void
validate_input_uses_definition(void **state)
{
	struct input_def def;
	struct verdict v;

	(void)state;
	memset(&def, 0, sizeof def);
	def.name = (char *)"ssh_port";
	def.type = IT_PORT;
	validate_input(&def, "22", &v);
	assert_true(v.ok);
	verdict_clear(&v);
	validate_input(&def, "", &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "a value is required");
	verdict_clear(&v);
	def.optional = true;
	validate_input(&def, "", &v);
	assert_true(v.ok);
	verdict_clear(&v);
	validate_input(&def, "65536", &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "the port is greater than 65535");
	verdict_clear(&v);

	/* No pattern_re, no pattern check. */
	def.optional = false;
	def.pattern_re = NULL;
	validate_input(&def, "2222", &v);
	assert_true(v.ok);
	verdict_clear(&v);
	def.pattern = (char *)"^22$";
	def.pattern_re = rx_new(def.pattern, 0, NULL);
	assert_non_null(def.pattern_re);
	validate_input(&def, "2222", &v);
	assert_false(v.ok);
	assert_string_equal(v.why, "the value does not match the required pattern ^22$");
	verdict_clear(&v);
	validate_input(&def, "22", &v);
	assert_true(v.ok);
	verdict_clear(&v);
	rx_free(&def.pattern_re);
}

/* verdict_clear frees and zeroes. */
static void
verdict_clear_zeroes(void **state)
{
	struct verdict v;

	(void)state;
	validate_value(IT_ETH_ADDRESS, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed ", false, NULL,
	    NULL, &v);
	assert_non_null(v.why);
	assert_non_null(v.suggestion);
	verdict_clear(&v);
	assert_false(v.ok);
	assert_null(v.why);
	assert_null(v.suggestion);
	assert_false(v.unchecksummed);
	verdict_clear(&v);	/* twice is harmless */
	verdict_clear(NULL);
}

/* A private key's address, against published vectors; bad keys are refused unquoted. */
static void
ethkey_vectors(void **state)
{
	static const struct { const char *key, *addr; } t[] = {
		/* the secret 1: the generator point's address */
		{ "0x0000000000000000000000000000000000000000000000000000000000000001",
		  "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf" },
		/* web3.js's documented example account */
		{ "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
		  "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23" },
		/* Hardhat's first development account, in upper case and without 0x */
		{ "AC0974BEC39A17E36BA4A6B4D238FF944BACB478CBED5EFCAE784D7BF4F2FF80",
		  "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" },
	};
	static const char *const bad[] = {
		"0x0000000000000000000000000000000000000000000000000000000000000000",
		/* the group order n itself */
		"0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
		"0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f36231",
		"0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f36231g",
		"",
	};
	char out[43], *cause = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		assert_int_equal(ethkey_address(t[i].key, out, &cause), 0);
		assert_string_equal(out, t[i].addr);
	}
	for (i = 0; i < nitems(bad); i++) {
		assert_int_equal(ethkey_address(bad[i], out, &cause), -1);
		assert_non_null(cause);
		if (strlen(bad[i]) > 8)
			assert_null(strstr(cause, bad[i] + 4));
		freep(&cause);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keccak_known_vectors),
		cmocka_unit_test(keccak_block_boundaries),
		cmocka_unit_test(keccak_unaligned_input),
		cmocka_unit_test(eip55_spec_vectors),
		cmocka_unit_test(eip55_single_case_unchecksummed),
		cmocka_unit_test(eip55_flipped_case_refused),
		cmocka_unit_test(eip55_wrong_digit_no_suggestion),
		cmocka_unit_test(ethkey_vectors),
		cmocka_unit_test(eth_address_malformed),
		cmocka_unit_test(ipv4_rules),
		cmocka_unit_test(ipv6_and_ip_rules),
		cmocka_unit_test(domain_rules),
		cmocka_unit_test(url_rules),
		cmocka_unit_test(port_rules),
		cmocka_unit_test(email_rules),
		cmocka_unit_test(version_rules),
		cmocka_unit_test(path_text_secret_rules),
		cmocka_unit_test(optional_and_required),
		cmocka_unit_test(whitespace_trimmed_suggestion),
		cmocka_unit_test(pattern_checked_after_type),
		cmocka_unit_test(secrets_never_echoed),
		cmocka_unit_test(validate_input_uses_definition),
		cmocka_unit_test(verdict_clear_zeroes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
