/* test-locate.c: default model resolution against a fake Hugging Face cache in a temp folder. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "lens-error.h"
#include "lens-locate.h"

static char *tmp_root;

static void
write_file (const char *path, const char *contents)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
}

/* models--<entry>/refs/main = rev, and (if with_config) snapshots/<rev>/config.json. */
static char *
make_cache_entry (const char *hub, const char *entry, const char *rev_file_text, const char *rev,
                  gboolean with_config)
{
  g_autofree char *ref = g_build_filename (hub, entry, "refs", "main", NULL);
  write_file (ref, rev_file_text);
  char *snapshot = g_build_filename (hub, entry, "snapshots", rev, NULL);
  g_assert_cmpint (g_mkdir_with_parents (snapshot, 0755), ==, 0);
  if (with_config)
    {
      g_autofree char *config = g_build_filename (snapshot, "config.json", NULL);
      write_file (config, "{\"model_type\": \"gpt2\"}");
    }
  return snapshot;
}

static char *
new_dir (const char *name)
{
  char *dir = g_build_filename (tmp_root, name, NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return dir;
}

static void
clear_env (void)
{
  g_unsetenv ("HF_HUB_CACHE");
  g_unsetenv ("HF_HOME");
  g_unsetenv ("XDG_CACHE_HOME");
}

static void
test_hub_dir_precedence (void)
{
  clear_env ();
  g_autofree char *home_default
      = g_build_filename (g_get_home_dir (), ".cache", "huggingface", "hub", NULL);
  g_autofree char *d0 = lens_locate_hf_hub_dir ();
  g_assert_cmpstr (d0, ==, home_default);

  g_setenv ("XDG_CACHE_HOME", "/x/cache", TRUE);
  g_autofree char *d1 = lens_locate_hf_hub_dir ();
  g_assert_cmpstr (d1, ==, "/x/cache/huggingface/hub");

  g_setenv ("HF_HOME", "/x/hf", TRUE);
  g_autofree char *d2 = lens_locate_hf_hub_dir ();
  g_assert_cmpstr (d2, ==, "/x/hf/hub");

  g_setenv ("HF_HUB_CACHE", "/x/hub", TRUE);
  g_autofree char *d3 = lens_locate_hf_hub_dir ();
  g_assert_cmpstr (d3, ==, "/x/hub");

  /* An empty variable counts as unset. */
  g_setenv ("HF_HUB_CACHE", "", TRUE);
  g_autofree char *d4 = lens_locate_hf_hub_dir ();
  g_assert_cmpstr (d4, ==, "/x/hf/hub");
  clear_env ();
}

static void
test_gpt2_snapshot (void)
{
  g_autofree char *hub = new_dir ("hub-gpt2");
  g_assert_null (lens_locate_hf_gpt2 (hub));

  /* The legacy name alone is found... */
  g_autofree char *legacy
      = make_cache_entry (hub, "models--gpt2", "1111111111\n", "1111111111", TRUE);
  g_autofree char *found1 = lens_locate_hf_gpt2 (hub);
  g_assert_cmpstr (found1, ==, legacy);

  /* ...but the current name wins when both are there. */
  g_autofree char *current = make_cache_entry (hub, "models--openai-community--gpt2",
                                               "607a30d783dfa663caf39e06633721c8d4cfcd7e",
                                               "607a30d783dfa663caf39e06633721c8d4cfcd7e", TRUE);
  g_autofree char *found2 = lens_locate_hf_gpt2 (hub);
  g_assert_cmpstr (found2, ==, current);
  g_autofree char *found3 = lens_locate_hf_snapshot (hub, "openai-community/gpt2");
  g_assert_cmpstr (found3, ==, current);
}

static void
test_rejects_bad_entries (void)
{
  g_autofree char *hub = new_dir ("hub-bad");

  /* A snapshot without config.json. */
  g_autofree char *s1 = make_cache_entry (hub, "models--gpt2", "abc", "abc", FALSE);
  g_assert_null (lens_locate_hf_gpt2 (hub));

  /* A ref that tries to leave the snapshots folder, even though the target has config.json. */
  g_autofree char *outside = g_build_filename (hub, "models--evil--x", "escape", NULL);
  g_autofree char *outside_config = g_build_filename (outside, "config.json", NULL);
  write_file (outside_config, "{}");
  g_autofree char *ref = g_build_filename (hub, "models--evil--x", "refs", "main", NULL);
  write_file (ref, "../escape");
  g_assert_null (lens_locate_hf_snapshot (hub, "evil/x"));

  /* A ref with a slash, an empty ref, a huge ref, a ref with a NUL byte. */
  g_autofree char *s2 = make_cache_entry (hub, "models--a--slash", "x/y", "x/y", TRUE);
  g_assert_null (lens_locate_hf_snapshot (hub, "a/slash"));
  g_autofree char *s3 = make_cache_entry (hub, "models--a--empty", "\n", "e", TRUE);
  g_assert_null (lens_locate_hf_snapshot (hub, "a/empty"));
  g_autofree char *big = g_strnfill (1000, 'a');
  g_autofree char *s4 = make_cache_entry (hub, "models--a--big", big, "b", TRUE);
  g_assert_null (lens_locate_hf_snapshot (hub, "a/big"));
  g_autofree char *s5 = make_cache_entry (hub, "models--a--nul", "ab", "ab", TRUE);
  g_autofree char *s5_found = lens_locate_hf_snapshot (hub, "a/nul");
  g_assert_cmpstr (s5_found, ==, s5);
  g_autofree char *nulref = g_build_filename (hub, "models--a--nul", "refs", "main", NULL);
  g_assert_true (g_file_set_contents (nulref, "ab\0cd", 5, NULL));
  g_assert_null (lens_locate_hf_snapshot (hub, "a/nul"));

  /* Repo ids that are not plain names are never turned into paths. */
  g_assert_null (lens_locate_hf_snapshot (hub, "../hub-gpt2/models--gpt2"));
  g_assert_null (lens_locate_hf_snapshot (hub, ""));

  /* A missing hub folder is simply empty. */
  g_autofree char *missing = g_build_filename (tmp_root, "no-such-hub", NULL);
  g_assert_null (lens_locate_hf_gpt2 (missing));
  g_autoptr (GPtrArray) none = lens_locate_hf_models (missing);
  g_assert_cmpuint (none->len, ==, 0);
}

static void
test_list_models (void)
{
  g_autofree char *hub = new_dir ("hub-list");
  g_autofree char *a = make_cache_entry (hub, "models--openai-community--gpt2", "r1", "r1", TRUE);
  g_autofree char *b = make_cache_entry (hub, "models--EleutherAI--pythia-70m", "r2\n", "r2", TRUE);
  g_autofree char *c = make_cache_entry (hub, "models--distilgpt2", "r3", "r3", TRUE);
  g_autofree char *d = make_cache_entry (hub, "models--broken--one", "r4", "r4", FALSE);
  g_autofree char *e = make_cache_entry (hub, "datasets--x--y", "r5", "r5", TRUE);
  g_autofree char *junk = g_build_filename (hub, "models--", NULL);
  g_assert_cmpint (g_mkdir_with_parents (junk, 0755), ==, 0);

  g_autoptr (GPtrArray) models = lens_locate_hf_models (hub);
  g_assert_cmpuint (models->len, ==, 3);
  LensCachedModel *m0 = g_ptr_array_index (models, 0);
  LensCachedModel *m1 = g_ptr_array_index (models, 1);
  LensCachedModel *m2 = g_ptr_array_index (models, 2);
  g_assert_cmpstr (m0->repo_id, ==, "EleutherAI/pythia-70m");
  g_assert_cmpstr (m0->path, ==, b);
  g_assert_cmpstr (m1->repo_id, ==, "distilgpt2");
  g_assert_cmpstr (m1->path, ==, c);
  g_assert_cmpstr (m2->repo_id, ==, "openai-community/gpt2");
  g_assert_cmpstr (m2->path, ==, a);
}

static void
test_default_order (void)
{
  g_autofree char *hub = new_dir ("hub-default");
  g_autofree char *last = new_dir ("last-used");
  g_autofree char *last_config = g_build_filename (last, "config.json", NULL);
  write_file (last_config, "{}");
  g_autofree char *gone = g_build_filename (tmp_root, "deleted-model", NULL);
  clear_env ();
  g_setenv ("HF_HUB_CACHE", hub, TRUE);

  LensModelSource source;
  g_autoptr (GError) error = NULL;

  /* Explicit wins, even over a valid last-used folder, and is returned as given. */
  g_autofree char *p1 = lens_locate_default_model ("/some/explicit", last, &source, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p1, ==, "/some/explicit");
  g_assert_cmpint (source, ==, LENS_MODEL_SOURCE_EXPLICIT);

  g_autofree char *p2 = lens_locate_default_model (NULL, last, &source, &error);
  g_assert_cmpstr (p2, ==, last);
  g_assert_cmpint (source, ==, LENS_MODEL_SOURCE_LAST_USED);

  /* With GPT-2 in the cache, a vanished last-used folder falls through to it. */
  g_autofree char *gpt2 = make_cache_entry (hub, "models--gpt2", "r", "r", TRUE);
  g_autofree char *p3 = lens_locate_default_model (NULL, gone, &source, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p3, ==, gpt2);
  g_assert_cmpint (source, ==, LENS_MODEL_SOURCE_HF_CACHE);

  /* With an empty cache: the demo model if it is built, else a clear error. */
  g_autofree char *empty_hub = new_dir ("hub-empty");
  g_setenv ("HF_HUB_CACHE", empty_hub, TRUE);
  g_autofree char *p4 = lens_locate_default_model ("", NULL, &source, &error);
  g_autofree char *demo = lens_locate_demo_model (NULL);
  if (demo != NULL)
    {
      g_assert_no_error (error);
      g_assert_cmpstr (p4, ==, demo);
      g_assert_cmpint (source, ==, LENS_MODEL_SOURCE_DEMO);
    }
  else
    {
      g_assert_null (p4);
      g_assert_error (error, LENS_ERROR, LENS_ERROR_IO);
      g_assert_nonnull (strstr (error->message, "No model found"));
    }
  clear_env ();
}

static void
test_demo_model (void)
{
  /* Uninstalled (a program inside the source tree): the source copy, if its weights exist. */
  g_autofree char *resources = g_path_get_dirname (SOURCE_DEMO_MODEL_DIR);
  g_autofree char *source_root = g_path_get_dirname (resources);
  g_autofree char *in_tree_exe = g_build_filename (source_root, "_build", "src", "app", "x", NULL);
  g_autofree char *d1 = lens_locate_demo_model (in_tree_exe);
  g_autofree char *weights = g_build_filename (SOURCE_DEMO_MODEL_DIR, "model.safetensors", NULL);
  g_autofree char *config = g_build_filename (SOURCE_DEMO_MODEL_DIR, "config.json", NULL);
  if (g_file_test (weights, G_FILE_TEST_EXISTS) && g_file_test (config, G_FILE_TEST_EXISTS))
    g_assert_cmpstr (d1, ==, SOURCE_DEMO_MODEL_DIR);
  else if (d1 != NULL)
    g_assert_cmpstr (d1, ==, PKGDATADIR "/demo-model");

  /* Installed under some prefix: the copy beside the program wins over the source tree. */
  g_autofree char *prefix = new_dir ("prefix");
  g_autofree char *exe = g_build_filename (prefix, "bin", "logit-lens", NULL);
  g_autofree char *installed
      = g_build_filename (prefix, "share", GETTEXT_PACKAGE, "demo-model", NULL);
  g_autofree char *i_config = g_build_filename (installed, "config.json", NULL);
  g_autofree char *i_weights = g_build_filename (installed, "model.safetensors", NULL);
  write_file (i_config, "{}");
  /* Without weights it is not a demo model yet. */
  g_autofree char *d2 = lens_locate_demo_model (exe);
  g_assert_cmpstr (d2, !=, installed);
  write_file (i_weights, "x");
  g_autofree char *d3 = lens_locate_demo_model (exe);
  g_assert_cmpstr (d3, ==, installed);
}

static gboolean
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
      const char *name;
      while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      return g_rmdir (path) == 0;
    }
  return g_unlink (path) == 0;
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr (GError) error = NULL;
  tmp_root = g_dir_make_tmp ("test-locate-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/locate/hub-dir-precedence", test_hub_dir_precedence);
  g_test_add_func ("/locate/gpt2-snapshot", test_gpt2_snapshot);
  g_test_add_func ("/locate/rejects-bad-entries", test_rejects_bad_entries);
  g_test_add_func ("/locate/list-models", test_list_models);
  g_test_add_func ("/locate/default-order", test_default_order);
  g_test_add_func ("/locate/demo-model", test_demo_model);
  int ret = g_test_run ();
  rm_rf (tmp_root);
  g_free (tmp_root);
  return ret;
}
