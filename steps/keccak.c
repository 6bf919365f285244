/*
 * keccak.c: Keccak-256 as Ethereum uses it: the original Keccak submission's padding (a 0x01
 * byte after the message, 0x80 on the last byte of the block), not FIPS 202 SHA3-256's 0x06.
 *
 * The sponge (rate 136 bytes = 17 lanes, capacity 512 bits) is built here; the Keccak-f[1600]
 * permutation is nettle's sha3_permute(). Lanes are read and written little-endian, lane i of
 * the block going to state word i (nettle indexes the state as x + 5y, as FIPS 202 does).
 */
#include "config.h"

#include "keccak.h"

#include <string.h>

#include <nettle/sha3.h>

#define KECCAK256_RATE 136	/* bytes: 1600 bits - 2 * 256 bits of capacity */

/* Read a little-endian 64-bit lane. */
static uint64_t
keccak_load64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* XOR one full block into the state and permute. */
static void
keccak_absorb(struct sha3_state *st, const uint8_t *block)
{
	size_t i;

	for (i = 0; i < KECCAK256_RATE / 8; i++)
		st->a[i] ^= keccak_load64(block + 8 * i);
	sha3_permute(st);
}

/* Hash len bytes of data into out (32 bytes). */
void
keccak256(const void *data, size_t len, uint8_t out[KECCAK256_DIGEST_SIZE])
{
	const uint8_t *p = data;
	struct sha3_state st;
	uint8_t last[KECCAK256_RATE];
	size_t i;

	memset(&st, 0, sizeof st);
	for (; len >= KECCAK256_RATE; p += KECCAK256_RATE, len -= KECCAK256_RATE)
		keccak_absorb(&st, p);

	/* The tail (0..135 bytes) and the padding always make one more block. */
	memset(last, 0, sizeof last);
	if (len != 0)
		memcpy(last, p, len);
	last[len] ^= 0x01;
	last[KECCAK256_RATE - 1] ^= 0x80;
	keccak_absorb(&st, last);

	/* Squeeze: 32 bytes is less than the rate, so the first 4 lanes are the digest. */
	for (i = 0; i < KECCAK256_DIGEST_SIZE; i++)
		out[i] = (uint8_t)(st.a[i / 8] >> (8 * (i % 8)));

	explicit_bzero(&st, sizeof st);
	explicit_bzero(last, sizeof last);
}
