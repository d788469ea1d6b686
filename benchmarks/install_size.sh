#!/usr/bin/env bash
# What `pip install ragkit` (the core, no extras) costs on a fresh virtual environment with an empty pip cache, for
# each git revision given (default: HEAD): seconds, size of the environment, whether torch came along.
#
#     python benchmarks/record.py results/install-size.json -- bash benchmarks/install_size.sh a6d703b HEAD
#
# Prints one JSON object per revision. Downloads come from the package index, so the seconds depend on the network.
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
for revision in "${@:-HEAD}"; do
  scratch=$(mktemp -d)
  git -C "$repo" archive "$revision" | tar -x -C "$scratch" --one-top-level=src
  python3 -m venv "$scratch/venv"
  start=$(date +%s.%N)
  PIP_CACHE_DIR="$scratch/cache" "$scratch/venv/bin/pip" install -q "$scratch/src" > "$scratch/log" 2>&1 \
    || { tail -20 "$scratch/log" >&2; exit 1; }
  end=$(date +%s.%N)
  commit=$(git -C "$repo" rev-parse --short "$revision")
  "$scratch/venv/bin/python" - "$revision" "$commit" "$start" "$end" "$scratch/venv" <<'PY'
import importlib.metadata as metadata, importlib.util, json, os, sys
revision, commit, start, end, venv = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
size = sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(venv) for name in names
           if not os.path.islink(os.path.join(root, name)))
print(json.dumps({"revision": revision, "commit": commit, "install_s": round(end - start, 1),
                  "environment_mb": round(size / 2**20), "distributions": len(list(metadata.distributions())),
                  "torch": importlib.util.find_spec("torch") is not None,
                  "sentence_transformers": importlib.util.find_spec("sentence_transformers") is not None}))
PY
  rm -rf "$scratch"
done
