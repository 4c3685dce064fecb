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
# widgets-cdn/ is where the widget manager would look for third-party widget modules;
# the course uses only the core widgets bundled in embed-amd.js, so it stays empty and
# the browser test fails if any page asks for something there.
echo "vendored into $dest: $(du -sh "$dest" | cut -f1)"
