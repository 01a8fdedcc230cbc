#!/usr/bin/env bash
# Builds the Dockerfile's base image (node:20-bookworm-slim) locally, for machines that reach Debian's mirror and the
# npm registry but not Docker Hub: a debootstrap'd Debian bookworm (minbase) with this machine's own Node 20 and npm
# copied in, a `node` user (uid 1000) as in the official image, tagged docker.io/library/node:20-bookworm-slim in
# buildah's vfs storage. Then the real Dockerfile builds unchanged, daemonless and without privileges beyond root:
#
#   apt-get install -y buildah debootstrap
#   bash deploy/buildah-local-base.sh
#   buildah --storage-driver vfs bud --isolation chroot --pull=never --format docker -t ganforge .
#   c=$(buildah --storage-driver vfs from ganforge)
#   buildah --storage-driver vfs run --isolation chroot "$c" -- node dist/cli/main.js serve --models /models --host 127.0.0.1
#
# `--format docker` keeps the HEALTHCHECK (OCI images drop it). chroot isolation shares the host's network, so the
# server listens on the host's loopback. Not part of CI: it needs root, ~250 MB and several minutes.
set -euo pipefail

TAG=docker.io/library/node:20-bookworm-slim
ROOTFS=${ROOTFS:-$(mktemp -d /tmp/ganforge-base.XXXXXX)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
NODE_BIN=$(command -v node)
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")

case "$("$NODE_BIN" -v)" in v20.*) ;; *) echo "buildah-local-base: node on PATH is $("$NODE_BIN" -v), the image needs Node 20" >&2; exit 1 ;; esac
command -v debootstrap >/dev/null && command -v buildah >/dev/null || { echo 'buildah-local-base: apt-get install -y buildah debootstrap' >&2; exit 1; }

[ -x "$ROOTFS/bin/sh" ] || timeout 1200 debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR"
install -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
mkdir -p "$ROOTFS/usr/local/lib/node_modules"
rm -rf "$ROOTFS/usr/local/lib/node_modules/npm"
cp -a "$NPM_DIR" "$ROOTFS/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
chroot "$ROOTFS" /bin/sh -c 'getent passwd node >/dev/null || { groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node; }'
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*

env_args=(--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
# Where this machine reaches the npm registry through a TLS-inspecting proxy, `npm ci` in the build needs its CA too.
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  mkdir -p "$ROOTFS/etc/ssl/certs"
  cp "$NODE_EXTRA_CA_CERTS" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  env_args+=(--env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
fi

container=$(buildah --storage-driver vfs from scratch)
buildah --storage-driver vfs copy "$container" "$ROOTFS" / >/dev/null
buildah --storage-driver vfs config "${env_args[@]}" --cmd node "$container"
buildah --storage-driver vfs commit --rm "$container" "$TAG"
echo "buildah-local-base: $TAG from $ROOTFS (Debian bookworm minbase, node $("$NODE_BIN" -v))"
