#!/bin/sh
# Fails when a C source or header under src/ or tests/ differs from what clang-format (with the
# root .clang-format) makes of it, naming the files; `tools/dev format` fixes them.
#   check-format.sh CLANG_FORMAT SOURCE_ROOT
set -u
clang_format=$1
cd "$2" || exit 1
files=$(find src tests -name node_modules -prune -o \( -name '*.c' -o -name '*.h' \) -print | sort)
[ -n "$files" ] || { echo "no C files found under $2" >&2; exit 1; }
bad=0
for f in $files; do
  if ! "$clang_format" --style=file "$f" | cmp -s - "$f"; then
    echo "not formatted: $f" >&2
    bad=$((bad + 1))
  fi
done
if [ $bad -gt 0 ]; then
  echo "$bad file(s) differ from clang-format's layout; run tools/dev format" >&2
  exit 1
fi
echo "$(echo "$files" | wc -l) files formatted"
