// SPDX-License-Identifier: Apache-2.0
// DstackKms (dstack-wizard demo copy): the KMS's on-chain allowlists, a UUPS proxy.
pragma solidity ^0.8.22;
contract DstackKms {}
