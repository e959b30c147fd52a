#!/usr/bin/env python3
"""Validates the Flatpak manifest without building it (that needs the network).

usage: check-flatpak.py MANIFEST.json DESKTOP_FILE METAINFO_FILE

Checks: the manifest is well-formed JSON with the required keys; its id equals the desktop
file's name, the metainfo <id> and the GSettings/desktop icon name; the command is the desktop
file's Exec program; the runtime is a GNOME runtime with a numeric version; every module that
downloads something is pinned (archive/file: an https URL and a 64-hex-digit sha256; git: a
full 40-hex-digit commit); only the app's own module may use a local "dir" source; and the
sandbox permissions are limited to the allowed set.
"""
import configparser
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

ALLOWED_FINISH_ARGS = {
    '--share=ipc',
    '--socket=fallback-x11',
    '--socket=wayland',
    '--device=dri',
    '--filesystem=~/.cache/huggingface:ro',
    '--filesystem=xdg-cache/huggingface:ro',
}
REQUIRED_FINISH_ARGS = {'--share=ipc', '--socket=wayland', '--socket=fallback-x11', '--device=dri'}
SHA256 = re.compile(r'^[0-9a-f]{64}$')
COMMIT = re.compile(r'^[0-9a-f]{40}$')


def check(manifest_path, desktop_path, metainfo_path):
    problems = []

    def bad(msg):
        problems.append('%s: %s' % (os.path.basename(manifest_path), msg))

    try:
        with open(manifest_path, encoding='utf-8') as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        return ['%s: not valid JSON: %s' % (manifest_path, e)]
    if not isinstance(m, dict):
        return ['%s: the top level is not an object' % manifest_path]

    app_id = m.get('id') or m.get('app-id')
    desktop_id = os.path.basename(desktop_path)
    for suffix in ('.in', '.desktop'):
        if desktop_id.endswith(suffix):
            desktop_id = desktop_id[:-len(suffix)]
    if app_id != desktop_id:
        bad('id %r does not match the desktop file %r' % (app_id, desktop_id))

    desktop = configparser.ConfigParser(interpolation=None, strict=False)
    desktop.optionxform = str
    desktop.read(desktop_path, encoding='utf-8')
    entry = desktop['Desktop Entry'] if desktop.has_section('Desktop Entry') else {}
    if entry.get('Icon') != app_id:
        bad('desktop file Icon=%r is not the app id' % entry.get('Icon'))
    exec_prog = (entry.get('Exec') or '').split(' ')[0]
    if m.get('command') != exec_prog:
        bad('command %r is not the desktop file Exec program %r' % (m.get('command'), exec_prog))

    try:
        meta_id = ET.parse(metainfo_path).getroot().findtext('id')
    except (OSError, ET.ParseError) as e:
        meta_id = None
        bad('cannot read the metainfo file: %s' % e)
    if meta_id != app_id:
        bad('metainfo id %r does not match %r' % (meta_id, app_id))

    if m.get('runtime') != 'org.gnome.Platform' or m.get('sdk') != 'org.gnome.Sdk':
        bad('runtime/sdk must be org.gnome.Platform/org.gnome.Sdk')
    if not re.fullmatch(r'\d+', str(m.get('runtime-version', ''))):
        bad('runtime-version %r is not a GNOME release number' % m.get('runtime-version'))

    finish = m.get('finish-args', [])
    for arg in finish:
        if arg not in ALLOWED_FINISH_ARGS:
            bad('finish-arg %r is not needed by the app' % arg)
    for arg in sorted(REQUIRED_FINISH_ARGS - set(finish)):
        bad('finish-arg %r is missing' % arg)

    modules = m.get('modules')
    if not isinstance(modules, list) or not modules:
        bad('no modules')
        modules = []
    names = []
    for i, mod in enumerate(modules):
        if not isinstance(mod, dict):
            bad('module %d is not an object (external module files are not allowed)' % i)
            continue
        name = mod.get('name', '#%d' % i)
        names.append(name)
        last = i == len(modules) - 1
        sources = mod.get('sources', [])
        if not sources:
            bad('module %s has no sources' % name)
        for src in sources:
            t = src.get('type')
            if t in ('archive', 'file'):
                url = src.get('url', '')
                if not url.startswith('https://'):
                    bad('module %s: source URL %r is not https' % (name, url))
                if not SHA256.match(src.get('sha256', '')):
                    bad('module %s: source %r has no sha256 checksum' % (name, url))
            elif t == 'git':
                if not COMMIT.match(src.get('commit', '')):
                    bad('module %s: git source is not pinned to a commit' % name)
            elif t == 'dir':
                if not last:
                    bad('module %s: only the app itself may be built from a local dir' % name)
            elif t == 'patch':
                if 'path' not in src:
                    bad('module %s: patch source without a path' % name)
            else:
                bad('module %s: source type %r is not allowed' % (name, t))
    for needed in ('openblas', 'json-c'):
        if needed not in names:
            bad('no %s module' % needed)
    if names and names[-1] != 'logit-lens':
        bad('the last module must be logit-lens (the app), not %r' % names[-1])
    return problems


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    problems = check(*sys.argv[1:])
    for p in problems:
        print(p)
    if problems:
        return 1
    print('%s is valid' % sys.argv[1])
    return 0


if __name__ == '__main__':
    sys.exit(main())
