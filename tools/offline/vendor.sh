#!/usr/bin/env bash
# Install MathJax 3, the ipywidgets HTML manager and require.js from the npm registry
# (versions pinned in package.json / package-lock.json) and copy the files the book
# serves into _vendor/static (listed in html_static_path; never committed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if ! command -v npm >/dev/null; then
    echo "make vendor needs npm (Node.js): e.g. 'apt-get install -y nodejs npm'" >&2
    exit 1
fi
cd "$here"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
dest="$root/_vendor/static"
rm -rf "$root/_vendor"
mkdir -p "$dest/mathjax" "$dest/html-manager" "$dest/requirejs" "$dest/widgets-cdn"
cp -r node_modules/mathjax/es5/. "$dest/mathjax/"
find node_modules/@jupyter-widgets/html-manager/dist -maxdepth 1 -type f ! -name '*.map' -exec cp {} "$dest/html-manager/" \;
cp node_modules/requirejs/require.js "$dest/requirejs/require.js"
# The widget manager resolves its icon fonts relative to the page (webpack public path
# from the AMD module id), i.e. <page dir>/@jupyter-widgets/html-manager/dist/<hash>.woff2.
# Chapter pages live in book/, so html_extra_path puts a copy of the fonts there.
fonts="$root/_vendor/extra/book/@jupyter-widgets/html-manager/dist"
mkdir -p "$fonts"
find node_modules/@jupyter-widgets/html-manager/dist -maxdepth 1 -type f \( -name '*.woff*' -o -name '*.ttf' -o -name '*.eot' -o -name '*.svg' \) -exec cp {} "$fonts/" \;
# widgets-cdn/ is where the widget manager would look for third-party widget modules;
# the course uses only the core widgets bundled in embed-amd.js, so it stays empty and
# the browser test fails if any page asks for something there.
echo "vendored into $dest: $(du -sh "$dest" | cut -f1)"
