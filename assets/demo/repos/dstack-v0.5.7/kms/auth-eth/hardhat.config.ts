// hardhat.config.ts (dstack-wizard demo copy, v0.5.7 and later): the networks of upstream's config. The
// one that reads RPC_URL and PRIVATE_KEY is "custom" from v0.5.7 ("test" up to v0.5.6).
const PRIVATE_KEY = process.env.PRIVATE_KEY || "0x0000000000000000000000000000000000000000000000000000000000000001";
const config = {
  solidity: { version: "0.8.22", settings: { optimizer: { enabled: true, runs: 200 } } },
  networks: {
    hardhat: { chainId: 1337 },
    phala: { url: "https://rpc.phala.network", accounts: [PRIVATE_KEY] },
    sepolia: { url: `https://eth-sepolia.g.alchemy.com/v2/${process.env.ALCHEMY_API_KEY}`, accounts: [PRIVATE_KEY] },
    base: { url: "https://mainnet.base.org", accounts: [PRIVATE_KEY] },
    custom: { url: process.env.RPC_URL || "http://127.0.0.1:8545/", accounts: [PRIVATE_KEY] },
  },
};
export default config;
