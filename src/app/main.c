/* main.c: the logit-lens desktop app. */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "lens-blas.h"
#include "ll-application.h"

int
main (int argc, char **argv)
{
  /* before anything touches OpenBLAS's kernels (they were chosen when it loaded) */
  lens_blas_prefer_native_kernels (argv);
  setlocale (LC_ALL, "");
  /* `meson devenv` and the install test run the app from where its translations are not at
   * LOCALEDIR yet (build tree, DESTDIR); they say where with LOGIT_LENS_LOCALEDIR. */
  const char *localedir = g_getenv ("LOGIT_LENS_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir != NULL && *localedir != '\0' ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_autoptr (LlApplication) app = ll_application_new (G_APPLICATION_DEFAULT_FLAGS);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
