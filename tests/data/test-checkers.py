#!/usr/bin/env python3
"""Proves that check-potfiles.py and check-flatpak.py catch what they are meant to catch.

usage: test-checkers.py MANIFEST.json DESKTOP_FILE METAINFO_FILE

Runs both checkers on broken inputs built in a temporary directory and requires the exact
problems to be reported (and none on the good inputs).
"""
import copy
import importlib.util
import io
import json
import os
import sys
import tempfile
from contextlib import redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace('-', '_'), os.path.join(HERE, name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def expect(what, got, wanted_substrings):
    """`got` must have exactly one problem per wanted substring, each containing it."""
    ok = len(got) == len(wanted_substrings) and all(
        any(w in g for g in got) for w in wanted_substrings)
    if not ok:
        failures.append('%s: expected problems %r, got %r' % (what, wanted_substrings, got))


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def potfiles_cases():
    potfiles = load('check-potfiles.py')
    with tempfile.TemporaryDirectory() as root:
        write(root, 'po/POTFILES.in', '# comment\nsrc/listed.c\nsrc/gone.c\n')
        write(root, 'src/listed.c', 'const char *a = _("Listed");\n')
        write(root, 'src/unlisted.c', 'static const char *b = N_("Unlisted");\n')
        write(root, 'src/comment-only.c', '/* _("not a mark") */\nconst char *s = "_(";\n')
        write(root, 'src/helper.c', 'int my_(int x);\nint y = my_(3);\n')
        write(root, 'ui/win.ui',
              '<interface><object class="GtkLabel">\n'
              '  <property name="label">Unmarked</property>\n'
              '  <property name="tooltip-text" translatable="yes">Marked</property>\n'
              '  <property name="title" translatable="no">42</property>\n'
              '  <property name="placeholder-text"></property>\n'
              '</object></interface>\n')
        out = io.StringIO()
        sys.argv = ['check-potfiles.py', root]
        with redirect_stdout(out):
            status = potfiles.main()
        got = out.getvalue().splitlines()
        if status != 1:
            failures.append('check-potfiles: exit status %r on a broken tree' % status)
        expect('check-potfiles', got, [
            'src/gone.c does not exist',
            'src/unlisted.c marks strings',
            'ui/win.ui has translatable="yes" but is not listed',
            'ui/win.ui:2: property "label" shows "Unmarked"',
        ])
        # Fixing the list and the label makes it pass.
        write(root, 'po/POTFILES.in', 'src/listed.c\nsrc/unlisted.c\nui/win.ui\n')
        write(root, 'ui/win.ui', '<interface><property name="label" translatable="yes">'
              'Marked</property></interface>\n')
        out = io.StringIO()
        with redirect_stdout(out):
            status = potfiles.main()
        if status != 0:
            failures.append('check-potfiles: fails on a good tree: %r' % out.getvalue())


def flatpak_cases(manifest_path, desktop, metainfo):
    flatpak = load('check-flatpak.py')
    good = json.load(open(manifest_path, encoding='utf-8'))
    with tempfile.TemporaryDirectory() as tmp:
        def run(m):
            p = os.path.join(tmp, 'm.json')
            with open(p, 'w', encoding='utf-8') as f:
                json.dump(m, f)
            return flatpak.check(p, desktop, metainfo)

        expect('flatpak good manifest', run(good), [])

        def mutated(what, fn, wanted):
            m = copy.deepcopy(good)
            fn(m)
            expect('flatpak ' + what, run(m), wanted)

        def mod(m, name):
            return next(x for x in m['modules'] if x['name'] == name)

        mutated('no checksum', lambda m: mod(m, 'openblas')['sources'][0].pop('sha256'),
                ['has no sha256 checksum'])
        mutated('short checksum', lambda m: mod(m, 'json-c')['sources'][0].update(sha256='abc'),
                ['has no sha256 checksum'])
        mutated('http url', lambda m: mod(m, 'json-c')['sources'][0].update(
            url='http://example.org/json-c.tar.gz'), ['is not https'])
        mutated('unpinned git', lambda m: mod(m, 'json-c').update(
            sources=[{'type': 'git', 'url': 'https://github.com/json-c/json-c', 'branch': 'master'}]),
            ['not pinned to a commit'])
        mutated('extra permission', lambda m: m['finish-args'].append('--filesystem=home'),
                ['--filesystem=home'])
        mutated('missing permission', lambda m: m['finish-args'].remove('--device=dri'),
                ['--device=dri'])
        mutated('wrong id', lambda m: m.update(id='org.example.Other'),
                ['does not match the desktop file', 'Icon=', 'metainfo id'])
        mutated('wrong command', lambda m: m.update(command='other'), ['command'])
        mutated('old runtime', lambda m: m.update(runtime='org.freedesktop.Platform'),
                ['runtime/sdk'])
        mutated('no json-c', lambda m: m.update(
            modules=[x for x in m['modules'] if x['name'] != 'json-c']), ['no json-c module'])
        bad_json = os.path.join(tmp, 'bad.json')
        with open(bad_json, 'w') as f:
            f.write('{"id": "io.github.logitlens.LogitLens",')
        expect('flatpak truncated JSON', flatpak.check(bad_json, desktop, metainfo),
               ['not valid JSON'])


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    manifest, desktop, metainfo = sys.argv[1:]
    potfiles_cases()
    flatpak_cases(manifest, desktop, metainfo)
    for f in failures:
        print(f)
    if failures:
        return 1
    print('both checkers catch every broken case')
    return 0


if __name__ == '__main__':
    sys.exit(main())
