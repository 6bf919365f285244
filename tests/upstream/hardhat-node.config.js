// The Hardhat config the conformance tests start `hardhat node` with, from upstream's
// kms/auth-eth (its hardhat package) without changing upstream's own config: upstream's
// `hardhat` network has chain id 1337, and the chain's checks want Sepolia's, 11155111.
module.exports = {
  networks: {
    hardhat: { chainId: 11155111 },
  },
};
