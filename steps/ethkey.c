/*
 * ethkey.c: a private key's Ethereum address. The public key is made by libsecp256k1 (a
 * context randomized for side-channel resistance, destroyed at once); the address is the last
 * 20 bytes of the Keccak-256 of the uncompressed point without its 0x04 prefix, in EIP-55
 * case. Every copy of the key's bytes is wiped before return.
 */
#include "config.h"

#include "ethkey.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <secp256k1.h>

#include "keccak.h"
#include "util.h"
#include "validate.h"

/* Decode 0x + 64 hex digits (or the bare 64) into 32 bytes; -1 if malformed. */
static int
ethkey_parse(const char *key, uint8_t out[32])
{
	int hi, lo;
	size_t i;

	if (key[0] == '0' && (key[1] == 'x' || key[1] == 'X'))
		key += 2;
	if (strlen(key) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		hi = hex_digit((unsigned char)key[2 * i]);
		lo = hex_digit((unsigned char)key[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
ethkey_address(const char *key, char out[43], char **cause)
{
	secp256k1_context *ctx;
	secp256k1_pubkey pub;
	uint8_t sk[32], seed[32], point[65], hash[KECCAK256_DIGEST_SIZE];
	char lower[43];
	size_t plen = sizeof point, i;
	int rc = -1;

	if (ethkey_parse(key, sk) != 0) {
		explicit_bzero(sk, sizeof sk);
		return set_cause(cause, "a private key is 0x and 64 hex digits");
	}
	ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (ctx == NULL)
		fatal("secp256k1_context_create failed");
	if (getrandom(seed, sizeof seed, 0) == (ssize_t)sizeof seed &&
	    !secp256k1_context_randomize(ctx, seed))
		fatal("secp256k1_context_randomize failed");
	explicit_bzero(seed, sizeof seed);
	if (!secp256k1_ec_pubkey_create(ctx, &pub, sk)) {
		set_cause(cause, "the private key is not a valid secp256k1 key (zero, or not below "
		    "the curve's order)");
		goto out;
	}
	if (!secp256k1_ec_pubkey_serialize(ctx, point, &plen, &pub, SECP256K1_EC_UNCOMPRESSED) ||
	    plen != sizeof point)
		fatal("secp256k1_ec_pubkey_serialize failed");
	keccak256(point + 1, sizeof point - 1, hash);
	lower[0] = '0';
	lower[1] = 'x';
	for (i = 0; i < 20; i++)
		snprintf(lower + 2 + 2 * i, 3, "%02x", hash[12 + i]);
	if (eip55_checksum(lower, out) != 0)
		fatal("eip55_checksum refused a well-formed address");
	rc = 0;
out:
	secp256k1_context_destroy(ctx);
	explicit_bzero(sk, sizeof sk);
	explicit_bzero(&pub, sizeof pub);
	return rc;
}
