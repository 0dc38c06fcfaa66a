#!/bin/bash
# check_layers.sh - libsqueeze's include layering (docs/architecture.md, "Layers").
#
# Each folder of pipeline/core sits on one layer; a file may include headers
# from its own folder and from folders on LOWER layers only, never from its own
# layer's other folders or from above.  A folder that is not in the table is an
# error too: a new folder must be given its layer here and in the docs.
#
#   bash tests/check_layers.sh [CORE_DIR]       (default: pipeline/core next to this script)
#   bash tests/check_layers.sh --self-test      (plants a violation in a copy; must be caught)
#
# Exit 0 when the tree follows the rule, 1 with one line per offending include.
set -u

# layer: folders (lowest first).  Keep in step with docs/architecture.md.
LAYERS=(
    "util"
    "tensor config artifact cli"
    "checkpoint quant tokenize"
    "kernels"
    "models precision gguf"
    "modelio"
    "calib advice"
    "compress metrics inspect report export"
    "stage"
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

layer_of() {
    local i
    for i in "${!LAYERS[@]}"; do
        for f in ${LAYERS[$i]}; do
            [ "$f" = "$1" ] && { echo "$i"; return 0; }
        done
    done
    echo ""
}

check_tree() {
    local core=$1 bad=0 file folder target line mine theirs
    [ -d "$core" ] || { echo "check_layers: no folder $core" >&2; return 2; }
    while IFS= read -r file; do
        folder=${file#"$core"/}
        folder=${folder%%/*}
        mine=$(layer_of "$folder")
        if [ -z "$mine" ]; then
            echo "$file: folder '$folder' has no layer in tests/check_layers.sh (and docs/architecture.md)"
            bad=1
            continue
        fi
        while IFS= read -r line; do
            target=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"/]*\)\/.*".*/\1/p' <<<"${line#*:}")
            [ -n "$target" ] || continue
            [ "$target" = "$folder" ] && continue
            theirs=$(layer_of "$target")
            if [ -z "$theirs" ]; then
                echo "$file:${line%%:*}: includes '$target/', which is not a folder of libsqueeze's layers"
                bad=1
            elif [ "$theirs" -ge "$mine" ]; then
                echo "$file:${line%%:*}: '$folder/' (layer $mine) includes '$target/' (layer $theirs): a folder includes only folders on layers below its own"
                bad=1
            fi
        done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file")
    done < <(find "$core" -name '*.[ch]' | sort)
    return $bad
}

if [ "${1:-}" = "--self-test" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/core/util" "$tmp/core/quant" "$tmp/core/config" "$tmp/core/nowhere"
    printf '#include "util/status.h"\n' > "$tmp/core/quant/ok.c"
    check_tree "$tmp/core" >/dev/null || { echo "self-test: a clean tree was refused"; exit 1; }
    printf '#include "modelio/loader.h"\n' > "$tmp/core/quant/up.c"
    out=$(check_tree "$tmp/core") && { echo "self-test: an include of a higher layer passed"; exit 1; }
    grep -q "quant/up.c:1: 'quant/' (layer $(layer_of quant)) includes 'modelio/' (layer $(layer_of modelio))" <<<"$out" ||
        { echo "self-test: unexpected message: $out"; exit 1; }
    rm "$tmp/core/quant/up.c"
    mkdir -p "$tmp/core/artifact"
    printf '#include "config/yaml_tree.h"\n' > "$tmp/core/artifact/same.c"
    check_tree "$tmp/core" >/dev/null && { echo "self-test: an include within one layer passed"; exit 1; }
    rm -r "$tmp/core/artifact"
    printf 'int x;\n' > "$tmp/core/nowhere/x.c"
    check_tree "$tmp/core" >/dev/null && { echo "self-test: a folder without a layer passed"; exit 1; }
    echo "check_layers self-test: violations are caught"
    exit 0
fi

core=${1:-$(cd "$here/../pipeline/core" && pwd)}
if check_tree "$core"; then
    echo "check_layers: every include in $core goes to a lower layer"
    exit 0
fi
exit 1
