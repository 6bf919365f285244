// hardhat.config.ts (dstack-wizard demo copy): networks read RPC_URL and PRIVATE_KEY.
const config = {
  solidity: { version: "0.8.22", settings: { optimizer: { enabled: true, runs: 200 } } },
  networks: {
    test: { url: process.env.RPC_URL, accounts: [process.env.PRIVATE_KEY] },
    custom: { url: process.env.RPC_URL, accounts: [process.env.PRIVATE_KEY] },
  },
};
export default config;
