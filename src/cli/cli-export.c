/* cli-export.c: loading the export module. Linked into the program, cairo and pango (with
 * fontconfig, freetype, harfbuzz, X11 and the rest under them, and GIO for writing the file) made
 * it load 46 shared objects instead of 13, and mapping and relocating those took about 5 ms of
 * every run (`--version` took 8.4 ms, now 3.3); only --export uses them. */
#include "config.h"

#include <gmodule.h>
#include <string.h>

#include "cli.h"
#include "lens-error.h"
#include "lens-paint.h"

#define MODULE_FILE "logit-lens-export." G_MODULE_SUFFIX

/* Where the module may be, in the order tried. */
static GPtrArray *
module_dirs (void)
{
  GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe != NULL)
    {
      g_autofree char *exe_dir = g_path_get_dirname (exe);
      /* uninstalled: the build tree has the module beside the program */
      g_ptr_array_add (dirs, g_strdup (exe_dir));
      /* installed under another root (a DESTDIR, say): the same root above EXPORT_MODULE_DIR */
      size_t n = strlen (exe_dir), b = strlen (BINDIR);
      if (n > b && g_str_has_suffix (exe_dir, BINDIR))
        {
          g_autofree char *root = g_strndup (exe_dir, n - b);
          g_ptr_array_add (dirs, g_strconcat (root, EXPORT_MODULE_DIR, NULL));
        }
    }
  g_ptr_array_add (dirs, g_strdup (EXPORT_MODULE_DIR));
  return dirs;
}

const CliExportFuncs *
cli_export_funcs (GError **error)
{
  g_autoptr (GPtrArray) dirs = module_dirs ();
  for (guint i = 0; i < dirs->len; i++)
    {
      g_autofree char *path = g_build_filename (dirs->pdata[i], MODULE_FILE, NULL);
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      /* not lazy: a function the program does not export fails here, with its name, rather than
       * killing the process at its first call */
      GModule *module = g_module_open (path, G_MODULE_BIND_LOCAL);
      gpointer symbol = NULL;
      if (module == NULL || !g_module_symbol (module, "cli_export_module_funcs", &symbol))
        {
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "cannot load the export module %s: %s",
                       path, g_module_error ());
          if (module != NULL)
            g_module_close (module);
          return NULL;
        }
      const CliExportFuncs *funcs = symbol;
      if (g_strcmp0 (funcs->version, PACKAGE_VERSION) != 0
          || funcs->paint_state_size != sizeof (LensPaintState))
        {
          /* another build's module calls this program's engine with other layouts */
          g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
                       "the export module %s belongs to another build of Logit Lens (version %s, "
                       "this program %s): reinstall Logit Lens",
                       path, funcs->version != NULL ? funcs->version : "unknown", PACKAGE_VERSION);
          g_module_close (module);
          return NULL;
        }
      /* a run writes one figure; the module stays until the program exits */
      g_module_make_resident (module);
      return funcs;
    }
  g_autofree char *looked = NULL;
  g_ptr_array_add (dirs, NULL);
  looked = g_strjoinv (", ", (char **) dirs->pdata);
  g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
               "cannot write figures: the export module %s is not installed (looked in %s)",
               MODULE_FILE, looked);
  return NULL;
}
