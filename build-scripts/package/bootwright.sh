#!/bin/sh
# /usr/bin/bootwright from the Debian package: the bundled CLI and server (dist/) on the Node runtime the
# package carries (Debian 12's own nodejs is 18; we need 20.19 or later).
exec /usr/lib/bootwright/bin/node /usr/lib/bootwright/dist/cli.mjs "$@"
