#!/bin/sh
# rustup-init.sh (dstack-wizard demo): served as https://sh.rustup.rs by the demo server,
# piped to sh like the real one; the work is done by libexec/rustup-install.
exec bash "$DEMO_ASSETS/libexec/rustup-install" "$@"
