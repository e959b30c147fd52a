#!/usr/bin/env python3
"""Checks that po/POTFILES.in is complete and that .ui files mark their visible strings.

usage: check-potfiles.py SOURCE_ROOT

Fails (exit 1, one line per problem) when
  - a file listed in POTFILES.in does not exist;
  - a C file under src/ calls _(), N_(), C_() or NC_(), or a .ui/.xml/.in file has
    translatable="yes", and POTFILES.in does not list it;
  - a desktop/metainfo template under resources/ is not listed (all of their names are
    translatable);
  - a .ui file has a user-visible property (label, title, subtitle, tooltip-text,
    placeholder-text, description) or menu attribute (label) with text and without
    translatable="yes". translatable="no" is accepted as a deliberate exemption (e.g. a label
    that only ever shows a number set from code).
"""
import os
import re
import sys

C_MARK = re.compile(r'(?<![A-Za-z0-9_])(?:_|N_|C_|NC_)\s*\(')
TRANSLATABLE = re.compile(r'translatable\s*=\s*"(?:yes|true|1)"')
VISIBLE = re.compile(
    r'<(property|attribute)\s+name="(label|title|subtitle|tooltip-text|placeholder-text|'
    r'description)"([^>]*)>([^<]*)</\1>', re.S)
SKIP_DIRS = {'.git', 'node_modules', '__pycache__', 'demo-model', 'fixtures'}


def strip_c_comments_and_strings(text):
    """Blank out comments and string literals so a mark inside them is not counted."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(' ' * (j - i))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            out.append(c + ' ' * (min(j, n) - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def main():
    root = os.path.abspath(sys.argv[1])
    potfiles = os.path.join(root, 'po', 'POTFILES.in')
    problems = []
    listed = set()
    with open(potfiles, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            path = line[len('[encoding: UTF-8]'):].strip() if line.startswith('[') else line
            if not os.path.isfile(os.path.join(root, path)):
                problems.append('po/POTFILES.in:%d: %s does not exist' % (lineno, path))
            listed.add(path)

    needed = []
    for top in ('src', 'ui', 'resources'):
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root)
                try:
                    text = open(full, encoding='utf-8').read()
                except (UnicodeDecodeError, OSError):
                    continue
                if name.endswith(('.c', '.h')):
                    if C_MARK.search(strip_c_comments_and_strings(text)):
                        needed.append((rel, 'marks strings with _()'))
                elif name.endswith(('.desktop.in', '.metainfo.xml.in', '.appdata.xml.in')):
                    needed.append((rel, 'is a translatable desktop/metainfo template'))
                elif name.endswith(('.ui', '.xml', '.in')) and TRANSLATABLE.search(text):
                    needed.append((rel, 'has translatable="yes"'))
                if name.endswith('.ui'):
                    for m in VISIBLE.finditer(text):
                        kind, prop, attrs, value = m.groups()
                        if not value.strip() or 'translatable=' in attrs:
                            continue
                        line = text.count('\n', 0, m.start()) + 1
                        problems.append('%s:%d: %s "%s" shows "%s" but is not translatable="yes"'
                                        % (rel, line, kind, prop, value.strip()[:40]))
    for rel, why in needed:
        if rel not in listed:
            problems.append('%s %s but is not listed in po/POTFILES.in' % (rel, why))

    for p in problems:
        print(p)
    if problems:
        return 1
    print('po/POTFILES.in lists all %d files with translatable strings' % len(listed))
    return 0


if __name__ == '__main__':
    sys.exit(main())
