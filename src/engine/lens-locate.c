/* lens-locate.c: default model resolution (explicit, last used, HF cache, bundled demo). */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "lens-error.h"
#include "lens-locate.h"

/* refs/main holds a commit hash; anything longer or odder is not trusted as a path component. */
#define MAX_REV_LEN 255

void
lens_cached_model_free (LensCachedModel *model)
{
  if (model == NULL)
    return;
  g_free (model->repo_id);
  g_free (model->path);
  g_free (model);
}

static const char *
env_nonempty (const char *name)
{
  const char *v = g_getenv (name);
  return (v != NULL && v[0] != '\0') ? v : NULL;
}

char *
lens_locate_hf_hub_dir (void)
{
  const char *v;

  if ((v = env_nonempty ("HF_HUB_CACHE")) != NULL)
    return g_strdup (v);
  if ((v = env_nonempty ("HF_HOME")) != NULL)
    return g_build_filename (v, "hub", NULL);
  if ((v = env_nonempty ("XDG_CACHE_HOME")) != NULL)
    return g_build_filename (v, "huggingface", "hub", NULL);
  return g_build_filename (g_get_home_dir (), ".cache", "huggingface", "hub", NULL);
}

gboolean
lens_locate_is_model_dir (const char *dir)
{
  if (dir == NULL || !g_file_test (dir, G_FILE_TEST_IS_DIR))
    return FALSE;
  g_autofree char *config = g_build_filename (dir, "config.json", NULL);
  return g_file_test (config, G_FILE_TEST_IS_REGULAR);
}

static gboolean
is_plain_name (const char *s)
{
  size_t n = strlen (s);
  if (n == 0 || n > MAX_REV_LEN || strcmp (s, ".") == 0 || strcmp (s, "..") == 0)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    {
      char c = s[i];
      if (!(g_ascii_isalnum (c) || c == '.' || c == '_' || c == '-'))
        return FALSE;
    }
  return TRUE;
}

/* The snapshot folder of one cache entry ("models--org--name"), or NULL. */
static char *
snapshot_of_entry (const char *hub_dir, const char *entry)
{
  g_autofree char *ref_path = g_build_filename (hub_dir, entry, "refs", "main", NULL);
  g_autofree char *contents = NULL;
  gsize len = 0;

  /* A ref is a 40-character hash; refuse to read anything big before looking at it. */
  GStatBuf st;
  if (g_stat (ref_path, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size > MAX_REV_LEN + 2)
    return NULL;
  if (!g_file_get_contents (ref_path, &contents, &len, NULL))
    return NULL;
  if (strlen (contents) != len)
    return NULL; /* embedded NUL */
  g_strstrip (contents);
  if (!is_plain_name (contents))
    return NULL;

  char *snapshot = g_build_filename (hub_dir, entry, "snapshots", contents, NULL);
  if (!lens_locate_is_model_dir (snapshot))
    {
      g_free (snapshot);
      return NULL;
    }
  return snapshot;
}

char *
lens_locate_hf_snapshot (const char *hub_dir, const char *repo_id)
{
  g_return_val_if_fail (repo_id != NULL, NULL);

  g_autofree char *own_hub = hub_dir == NULL ? lens_locate_hf_hub_dir () : NULL;
  if (hub_dir == NULL)
    hub_dir = own_hub;

  /* HF names cache folders "models--" + repo id with "/" replaced by "--". */
  g_auto (GStrv) parts = g_strsplit (repo_id, "/", -1);
  for (int i = 0; parts[i] != NULL; i++)
    if (!is_plain_name (parts[i]))
      return NULL;
  g_autofree char *joined = g_strjoinv ("--", parts);
  g_autofree char *entry = g_strconcat ("models--", joined, NULL);
  return snapshot_of_entry (hub_dir, entry);
}

char *
lens_locate_hf_gpt2 (const char *hub_dir)
{
  char *dir = lens_locate_hf_snapshot (hub_dir, "openai-community/gpt2");
  if (dir == NULL)
    dir = lens_locate_hf_snapshot (hub_dir, "gpt2");
  return dir;
}

static int
compare_cached (gconstpointer a, gconstpointer b)
{
  const LensCachedModel *ma = *(LensCachedModel *const *) a;
  const LensCachedModel *mb = *(LensCachedModel *const *) b;
  return g_strcmp0 (ma->repo_id, mb->repo_id);
}

GPtrArray *
lens_locate_hf_models (const char *hub_dir)
{
  GPtrArray *models = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_cached_model_free);
  g_autofree char *own_hub = hub_dir == NULL ? lens_locate_hf_hub_dir () : NULL;
  if (hub_dir == NULL)
    hub_dir = own_hub;

  g_autoptr (GDir) d = g_dir_open (hub_dir, 0, NULL);
  if (d == NULL)
    return models;

  const char *name;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_prefix (name, "models--") || name[strlen ("models--")] == '\0')
        continue;
      char *path = snapshot_of_entry (hub_dir, name);
      if (path == NULL)
        continue;
      g_auto (GStrv) parts = g_strsplit (name + strlen ("models--"), "--", -1);
      LensCachedModel *m = g_new0 (LensCachedModel, 1);
      m->repo_id = g_strjoinv ("/", parts);
      m->path = path;
      g_ptr_array_add (models, m);
    }
  g_ptr_array_sort (models, compare_cached);
  return models;
}

/* The demo model counts only once its weights exist (its folder also holds the training script). */
static gboolean
is_demo_dir (const char *dir)
{
  if (!lens_locate_is_model_dir (dir))
    return FALSE;
  g_autofree char *weights = g_build_filename (dir, "model.safetensors", NULL);
  return g_file_test (weights, G_FILE_TEST_IS_REGULAR);
}

/* Is `path` inside `dir` (both absolute)? */
static gboolean
path_is_inside (const char *path, const char *dir)
{
  size_t n = strlen (dir);
  return n > 0 && strncmp (path, dir, n) == 0 && (path[n] == '/' || dir[n - 1] == '/');
}

char *
lens_locate_demo_model (const char *exe_path)
{
  g_autofree char *own_exe = NULL;
  if (exe_path == NULL)
    exe_path = own_exe = g_file_read_link ("/proc/self/exe", NULL);

  /* A program inside the source tree (build folders live there) is running uninstalled; any
   * other is installed and prefers the copy under its own prefix. */
  g_autofree char *resources = g_path_get_dirname (SOURCE_DEMO_MODEL_DIR);
  g_autofree char *source_root = g_path_get_dirname (resources);
  gboolean installed = exe_path == NULL || !path_is_inside (exe_path, source_root);

  /* Relocated installs (e.g. a different prefix than configured): <exe>/../share/<package>. */
  if (installed && exe_path != NULL)
    {
      g_autofree char *bindir = g_path_get_dirname (exe_path);
      g_autofree char *rel
          = g_build_filename (bindir, "..", "share", GETTEXT_PACKAGE, "demo-model", NULL);
      g_autofree char *canon = g_canonicalize_filename (rel, NULL);
      if (is_demo_dir (canon))
        return g_steal_pointer (&canon);
    }

  const char *first = installed ? PKGDATADIR "/demo-model" : SOURCE_DEMO_MODEL_DIR;
  const char *second = installed ? SOURCE_DEMO_MODEL_DIR : PKGDATADIR "/demo-model";
  if (is_demo_dir (first))
    return g_strdup (first);
  if (is_demo_dir (second))
    return g_strdup (second);
  return NULL;
}

char *
lens_locate_default_model (const char *explicit_dir, const char *last_used, LensModelSource *source,
                           GError **error)
{
  LensModelSource dummy;
  if (source == NULL)
    source = &dummy;

  if (explicit_dir != NULL && explicit_dir[0] != '\0')
    {
      *source = LENS_MODEL_SOURCE_EXPLICIT;
      return g_strdup (explicit_dir);
    }
  if (last_used != NULL && last_used[0] != '\0' && lens_locate_is_model_dir (last_used))
    {
      *source = LENS_MODEL_SOURCE_LAST_USED;
      return g_strdup (last_used);
    }

  char *dir = lens_locate_hf_gpt2 (NULL);
  if (dir != NULL)
    {
      *source = LENS_MODEL_SOURCE_HF_CACHE;
      return dir;
    }
  dir = lens_locate_demo_model (NULL);
  if (dir != NULL)
    {
      *source = LENS_MODEL_SOURCE_DEMO;
      return dir;
    }

  g_autofree char *hub = lens_locate_hf_hub_dir ();
  g_set_error (error, LENS_ERROR, LENS_ERROR_IO,
               "No model found: GPT-2 is not in the Hugging Face cache (%s) and the demo model "
               "is missing (%s, %s); pass a model folder",
               hub, SOURCE_DEMO_MODEL_DIR, PKGDATADIR "/demo-model");
  return NULL;
}
