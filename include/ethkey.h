/*
 * ethkey.h: the Ethereum address of a private key (secp256k1 public key, Keccak-256, the
 * last 20 bytes, EIP-55 case), so the wallet the operator names and the key that signs can
 * be compared before any gas is spent.
 */
#ifndef DW_ETHKEY_H
#define DW_ETHKEY_H

/*
 * The EIP-55 address of key (0x and 64 hex digits, either case; the bare 64 digits too) into
 * out (43 bytes). -1 with a cause that never quotes the key when it is malformed or not a
 * valid secp256k1 secret (zero, or not below the group order).
 */
int ethkey_address(const char *key, char out[43], char **cause);

#endif
