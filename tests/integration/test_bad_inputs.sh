#!/usr/bin/env bash
# test_bad_inputs.sh - walks the catalogue of docs/bad-inputs.md: for each row, runs its
# command on its generated bad input and checks the exit code, that the output holds the
# row's message, and that no temporary or partial artifact is left behind.  The doc is the
# test's table, so the two cannot drift; at least 60 rows are required.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DOC="$SRC/docs/bad-inputs.md"
D=$(cd "$DATA" && pwd)

# the inputs: an inspect artifact of the bundled model, then the generated files
"$BUILD/squeeze-inspect" "$D/bundled/itera_tiny_bytes.pt" --out "$WORK/base-inspect.h5" > /dev/null 2> "$WORK/inspect.log" \
  || { cat "$WORK/inspect.log"; echo "FAIL: cannot make the base inspect artifact"; exit 1; }
/usr/bin/python3 "$SRC/tests/integration/bad_inputs_make.py" "$WORK" "$D"

rows=0
declare -A seen=()
while IFS= read -r line; do
  # | `id` | what | `command` | exit | `message` |
  [[ "$line" =~ ^\|\ \`([a-z0-9-]+)\`\ \|[^|]*\|\ \`([^\`]+)\`\ \|\ ([0-9]+)\ \|\ \`([^\`]+)\`\ \|$ ]] || continue
  id=${BASH_REMATCH[1]}
  command=${BASH_REMATCH[2]}
  want_exit=${BASH_REMATCH[3]}
  want_message=${BASH_REMATCH[4]}
  rows=$((rows + 1))
  [ -z "${seen[$id]:-}" ] || bad "$id appears twice in the catalogue"
  seen[$id]=1
  # the program is the first word; $W (the work folder) and $D are expanded, nothing else is
  program=${command%% *}
  args=${command#"$program"}
  args=${args//\$W/$WORK}
  args=${args//\$D/$D}
  read -r -a argv <<< "$args"
  rm -f "$WORK/out.h5"
  set +e
  timeout 60 "$BUILD/$program" "${argv[@]}" > "$WORK/row.out" 2>&1
  code=$?
  set -e
  if [ "$code" != "$want_exit" ]; then
    bad "$id: exit $code, the catalogue says $want_exit"
    sed -n 1,12p "$WORK/row.out"
  elif ! grep -qF -- "$want_message" "$WORK/row.out"; then
    bad "$id: the output lacks '$want_message'"
    sed -n 1,12p "$WORK/row.out"
  fi
  # nothing half-written: no temporary file, no output artifact from a failed command
  if [ -n "$(find "$WORK" -name '*.tmp.*' -print -quit)" ] || [ -e "$WORK/out.h5" ]; then
    bad "$id: left a temporary or partial artifact: $(find "$WORK" -name '*.tmp.*' -o -name out.h5 | head -3)"
    find "$WORK" -name '*.tmp.*' -delete
  fi
  printf '%-26s exit %s  %s\n' "$id" "$code" "$(grep -m1 -F -- "$want_message" "$WORK/row.out" | cut -c1-110)"
done < "$DOC"

[ "$rows" -ge 60 ] || bad "docs/bad-inputs.md has $rows rows; the catalogue must list at least 60"
[ -e "$WORK/PWNED" ] || [ -e PWNED ] && bad "a pickle ran a command (PWNED exists)"
# every broken config of tests/data/broken-configs has its row
for f in "$D"/broken-configs/[0-9][0-9]-*.yaml; do
  grep -qF -- "\$D/broken-configs/$(basename "$f")" "$DOC" \
    || bad "tests/data/broken-configs/$(basename "$f") has no row in docs/bad-inputs.md (add one: its id, exit 2, its '# expect:' text)"
done
# every generated file is used by a row
for f in "$WORK"/*; do
  name=$(basename "$f")
  case "$name" in row.out | inspect.log | base-inspect.h5 | good.yaml | good.pt | tok-*.json | text-*.txt | tokens-*.u16 | h5-plain-float.h5) continue ;; esac
  grep -qF -- "\$W/$name" "$DOC" || bad "generated input $name is not in the catalogue"
done
sq_finish "PASS: $rows bad inputs, each with its exit code and message"
