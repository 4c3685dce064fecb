#!/usr/bin/env bash
# Install the CPU build of the pinned torch into a venv before requirements.txt (make install).
#
# On Linux x86-64 the public package index's torch is the CUDA build (a 526 MB wheel plus several
# GB of nvidia-* packages). PyTorch's own CPU wheel index serves `torch==X+cpu`, which satisfies
# the pin `torch==X` in requirements.txt, so pip then keeps it. This is what binder/postBuild does.
#
# Where that index cannot be reached within a few seconds (no network but the package registries,
# as in CI), nothing is installed here and requirements.txt installs the pinned torch from the
# registry (in CI a local mirror serves the CPU build). Elsewhere the registry's build is CPU-only
# already (macOS, Windows, Linux on ARM), so nothing is done.
#
# Usage: tools/install_torch_cpu.sh PYTHON [REQUIREMENTS]
#   TORCH_CPU_INDEX overrides the index URL; TORCH_CPU_INDEX=none skips this step.
set -euo pipefail
python=${1:?usage: $0 PYTHON [REQUIREMENTS]}
requirements=${2:-requirements.txt}
index=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
probe_seconds=${TORCH_CPU_INDEX_TIMEOUT:-5}

version=$(sed -n 's/^torch==\([0-9][0-9a-z.]*\).*/\1/p' "$requirements" | head -n 1)
if [ -z "$version" ]; then
    echo "torch: no torch==VERSION pin in $requirements; leaving torch to pip" >&2
    exit 0
fi
if [ "$index" = none ] || [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
    exit 0
fi
# Already the CPU build of the pinned version (its version carries the local label +cpu): nothing to do.
if "$python" -c "import sys, importlib.metadata as m; sys.exit(0 if m.version('torch') == '$version+cpu' else 1)" 2>/dev/null; then
    echo "torch: $version (CPU build) already installed"
    exit 0
fi
# A few seconds at most, DNS included (a black-holed network must not cost minutes).
if timeout "$probe_seconds" "$python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=$probe_seconds).close()" "$index/torch/" 2>/dev/null; then
    echo "torch: installing the CPU build $version+cpu from $index"
    if "$python" -m pip install --extra-index-url "$index" "torch==$version+cpu"; then
        exit 0
    fi
    echo "torch: the CPU build failed to install; falling back to torch==$version from the package registry" >&2
else
    echo "torch: $index not reachable within ${probe_seconds} s; installing torch==$version from the package registry" \
         "(on Linux x86-64 the public index serves the CUDA build, several GB)" >&2
fi
