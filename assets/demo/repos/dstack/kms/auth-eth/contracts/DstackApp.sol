// SPDX-License-Identifier: Apache-2.0
// DstackApp (dstack-wizard demo copy): an app's allowed compose hashes and devices.
pragma solidity ^0.8.22;
contract DstackApp {}
