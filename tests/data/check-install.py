#!/usr/bin/env python3
"""`meson install` into a scratch DESTDIR, then run what was installed from another directory.

usage: check-install.py BUILD_ROOT PREFIX BINDIR DATADIR LOCALEDIR APP_ID GUI(true|false)

Checks that the install has the executables, the demo model, the desktop file, metainfo,
icons, GSettings schema and the German catalogue; that the installed CLI, started from an
unrelated directory with an empty Hugging Face cache, runs the lens on the *installed* demo
model and writes a figure through its installed export module; and (with the GUI) that the installed app starts under Xvfb with LANGUAGE=de and shows
its translated window title.
"""
import gettext
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

PROMPT = 'The Eiffel Tower is in the city of'
problems = []


def rel(path):
    return path.lstrip('/')


def main():
    build, prefix, bindir, datadir, localedir, app_id, gui = sys.argv[1:8]
    gui = gui == 'true'
    bindir = os.path.join(prefix, bindir)
    datadir = os.path.join(prefix, datadir)
    localedir = os.path.join(prefix, localedir)
    with tempfile.TemporaryDirectory() as tmp:
        dest = os.path.join(tmp, 'dest')
        r = subprocess.run(['meson', 'install', '-C', build, '--no-rebuild', '--quiet',
                            '--destdir', dest], capture_output=True, text=True)
        if r.returncode != 0:
            print('meson install failed:\n' + r.stdout + r.stderr)
            return 1

        def d(path):
            return os.path.join(dest, rel(path))

        expected = [
            os.path.join(bindir, 'logit-lens-cli'),
            os.path.join(datadir, 'applications', app_id + '.desktop'),
            os.path.join(datadir, 'metainfo', app_id + '.metainfo.xml'),
            os.path.join(datadir, 'icons/hicolor/scalable/apps', app_id + '.svg'),
            os.path.join(datadir, 'icons/hicolor/symbolic/apps', app_id + '-symbolic.svg'),
            os.path.join(datadir, 'glib-2.0/schemas', app_id + '.gschema.xml'),
            os.path.join(localedir, 'de/LC_MESSAGES/logit-lens.mo'),
        ] + [os.path.join(datadir, 'logit-lens/demo-model', f) for f in
             ('config.json', 'model.safetensors', 'vocab.json', 'merges.txt', 'README.md')]
        if gui:
            expected.append(os.path.join(bindir, 'logit-lens'))
        for path in expected:
            if not os.path.isfile(d(path)):
                problems.append('not installed: ' + path)
        if problems:
            return report()

        # An empty Hugging Face cache, so the default model is the bundled one; a working
        # directory that has nothing to do with the source or build tree.
        home = os.path.join(tmp, 'home')
        hub = os.path.join(home, 'hf-hub')
        os.makedirs(hub)
        env = dict(os.environ, HOME=home, HF_HUB_CACHE=hub, XDG_CACHE_HOME=os.path.join(home, 'cache'))
        r = subprocess.run([d(os.path.join(bindir, 'logit-lens-cli')), '--json', '--prompt', PROMPT],
                           cwd=home, env=env, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            problems.append('installed logit-lens-cli failed (%d): %s' % (r.returncode, r.stderr.strip()))
        else:
            out = json.loads(r.stdout)
            used = os.path.realpath(out['model']['path'])
            want = os.path.realpath(d(os.path.join(datadir, 'logit-lens/demo-model')))
            if used != want:
                problems.append('installed CLI used the model in %s, not the installed demo model %s'
                                % (used, want))
            elif not out.get('cells'):
                problems.append('installed CLI printed no cells')
            else:
                print('installed CLI ran the installed demo model from %s' % home)

        # Figures are written by a module the CLI loads only then (cli-export.c): under the
        # DESTDIR it must find the installed one.
        figure = os.path.join(home, 'figure.svg')
        r = subprocess.run([d(os.path.join(bindir, 'logit-lens-cli')), '--prompt', PROMPT,
                            '--export', figure], cwd=home, env=env, capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            problems.append('installed logit-lens-cli --export failed (%d): %s'
                            % (r.returncode, r.stderr.strip()))
        elif not os.path.isfile(figure) or b'<svg' not in open(figure, 'rb').read(4096):
            problems.append('installed logit-lens-cli --export wrote no SVG to %s' % figure)
        else:
            print('installed CLI wrote a figure through its installed export module')

        if gui:
            check_gui(d, bindir, datadir, localedir, app_id, env, home)
    return report()


def check_gui(d, bindir, datadir, localedir, app_id, env, home):
    schemas = d(os.path.join(datadir, 'glib-2.0/schemas'))
    subprocess.run(['glib-compile-schemas', '--strict', schemas], check=True)
    de = gettext.translation('logit-lens', localedir=d(localedir), languages=['de'])
    title = de.gettext('Logit Lens')
    if title == 'Logit Lens':
        problems.append('the German catalogue does not translate the window title "Logit Lens"')
        return
    # Under a DESTDIR the compiled-in LOCALEDIR does not exist yet: point the app at the
    # installed catalogues, as `meson devenv` points it at the build tree's.
    env = dict(env, GSETTINGS_SCHEMA_DIR=schemas, GSETTINGS_BACKEND='memory', GSK_RENDERER='cairo',
               LOGIT_LENS_LOCALEDIR=d(localedir),
               LANGUAGE='de', LANG='de_DE.UTF-8', LC_ALL='de_DE.UTF-8', NO_AT_BRIDGE='1')
    app = d(os.path.join(bindir, 'logit-lens'))
    # Polls the X server's window list for the translated title, then stops the app.
    script = r'''
"$1" & pid=$!
found=1
for i in $(seq 1 150); do
  if xwininfo -root -tree | grep -qF "\"$2\""; then found=0; break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.2
done
xwininfo -root -tree | grep -E '^ +0x[0-9a-f]+ "' | head -n 5
kill $pid 2>/dev/null; wait $pid 2>/dev/null
exit $found
'''
    cmd = ['xvfb-run', '-a', '-s', '-screen 0 1280x900x24', 'sh', '-c', script, 'sh', app, title]
    if shutil.which('dbus-run-session'):
        cmd = ['dbus-run-session', '--'] + cmd
    r = subprocess.run(cmd, cwd=home, env=env, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        problems.append('the installed app did not show a window titled "%s" with LANGUAGE=de; '
                        'windows seen:\n%s\n%s' % (title, r.stdout.strip(), r.stderr.strip()[-2000:]))
    else:
        print('installed app shows the German window title "%s"' % title)


def report():
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
