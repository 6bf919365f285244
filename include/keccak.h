/*
 * keccak.h: Keccak-256 as Ethereum uses it (original Keccak padding 0x01, not SHA-3's 0x06),
 * a sponge built on nettle's Keccak-f[1600] permutation (sha3_permute).
 */
#ifndef DW_KECCAK_H
#define DW_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define KECCAK256_DIGEST_SIZE 32

void keccak256(const void *data, size_t len, uint8_t out[KECCAK256_DIGEST_SIZE]);

#endif
