#!/usr/bin/env python3
"""Checks that every translation in po/LINGUAS is complete and loads.

usage: check-translations.py SOURCE_ROOT BUILD_PO_DIR

For each language: the .po file passes `msgfmt --check`; it has a translation, neither fuzzy
nor empty, for every message extracted now from the files in POTFILES.in (so a string added
to the code without a translation fails); and the .mo file the build made from it is found
by gettext under BUILD_PO_DIR and translates the app's name-independent strings.
"""
import gettext
import os
import re
import subprocess
import sys
import tempfile

# The same extraction rules as meson's i18n `glib` preset.
XGETTEXT_ARGS = [
    '--from-code=UTF-8', '--add-comments',
    '--keyword=_', '--keyword=N_', '--keyword=C_:1c,2', '--keyword=NC_:1c,2',
    '--keyword=g_dcgettext:2', '--keyword=g_dngettext:2,3', '--keyword=g_dpgettext2:2c,3',
    '--flag=N_:1:pass-c-format', '--flag=C_:2:pass-c-format', '--flag=NC_:2:pass-c-format',
    '--flag=g_dngettext:2:pass-c-format', '--flag=g_strdup_printf:1:c-format',
    '--flag=g_string_printf:2:c-format', '--flag=g_string_append_printf:2:c-format',
    '--flag=g_error_new:3:c-format', '--flag=g_set_error:4:c-format',
]


def main():
    root, build_po = sys.argv[1], sys.argv[2]
    po_dir = os.path.join(root, 'po')
    problems = []
    langs = []
    with open(os.path.join(po_dir, 'LINGUAS'), encoding='utf-8') as f:
        for line in f:
            langs += line.split('#')[0].split()
    if not langs:
        problems.append('po/LINGUAS lists no language')

    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, 'logit-lens.pot')
        r = subprocess.run(['xgettext', '--package-name=logit-lens', '-D', root,
                            '-f', os.path.join(po_dir, 'POTFILES.in'), '-o', pot]
                           + XGETTEXT_ARGS, capture_output=True, text=True)
        if r.returncode != 0:
            problems.append('xgettext failed: ' + r.stderr.strip())
        for lang in langs:
            po = os.path.join(po_dir, lang + '.po')
            r = subprocess.run(['msgfmt', '--check', '--statistics', '-o', os.devnull, po],
                               capture_output=True, text=True)
            stats = r.stderr.strip()
            if r.returncode != 0:
                problems.append('%s.po: msgfmt --check failed: %s' % (lang, stats))
            elif re.search(r'fuzzy|untranslated', stats):
                problems.append('%s.po: incomplete: %s' % (lang, stats))
            if os.path.exists(pot):
                r = subprocess.run(['msgcmp', po, pot], capture_output=True, text=True)
                if r.returncode != 0:
                    missing = [l for l in r.stderr.splitlines() if 'this message' in l]
                    problems.append('%s.po lacks translations for %d current messages; run '
                                    '`meson compile logit-lens-update-po` and translate:\n%s'
                                    % (lang, max(len(missing), 1), r.stderr.strip()[:2000]))
            # The built catalogue must be where gettext looks for it, and translate.
            try:
                t = gettext.translation('logit-lens', localedir=build_po, languages=[lang])
            except OSError as e:
                problems.append('%s: the built catalogue is not found under %s: %s'
                                % (lang, build_po, e))
                continue
            catalog = getattr(t, '_catalog', {})
            real = {k: v for k, v in catalog.items() if isinstance(k, str) and k and k != v}
            if not real:
                problems.append('%s: the built catalogue translates nothing' % lang)
            else:
                print('%s: %d messages translated, e.g. %r -> %r'
                      % (lang, len(catalog) - 1, *next(iter(sorted(real.items())))))

    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
