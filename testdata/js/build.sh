#!/bin/sh
# Rebuilds the vendored browser bundles (*.iife.js) from package.json's
# exact versions. npm installs into a temporary folder outside the
# repository, so no node_modules (and no lock file) lands here.
# Usage: sh testdata/js/build.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$work/"
cp -r "$here/src" "$work/"
cd "$work"
npm install --no-package-lock --no-audit --no-fund --ignore-scripts >/dev/null
esbuild=node_modules/.bin/esbuild
build() { # entry global
	"$esbuild" "src/$1.js" --bundle --format=iife --global-name="$2" \
		--target=es2020 --charset=utf8 --legal-comments=inline \
		--outfile="$here/$1.iife.js" --log-level=warning
}
build actioncable ActionCable
build turbo-rails TurboRails
build anycable-web AnyCable
ls -l "$here"/*.iife.js
