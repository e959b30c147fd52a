/* lens-locate.h: where the default model is, the same for the app and the CLI.
 *
 * Order: an explicit folder; else the last folder used (the app passes it, the CLI passes NULL);
 * else GPT-2 from the user's Hugging Face cache; else the bundled demo model (build tree or
 * installed data directory, never relative to the current directory). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  LENS_MODEL_SOURCE_EXPLICIT,
  LENS_MODEL_SOURCE_LAST_USED,
  LENS_MODEL_SOURCE_HF_CACHE,
  LENS_MODEL_SOURCE_DEMO,
} LensModelSource;

/* A model folder found in the Hugging Face cache. */
typedef struct
{
  char *repo_id; /* e.g. "openai-community/gpt2" */
  char *path;    /* the snapshot folder refs/main points to; has config.json */
} LensCachedModel;

void lens_cached_model_free (LensCachedModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LensCachedModel, lens_cached_model_free)

/* The hub folder: $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 * ~/.cache/huggingface/hub (empty variables count as unset). Never NULL; may not exist. */
char *lens_locate_hf_hub_dir (void);

/* The snapshot folder of `repo_id` ("org/name") in `hub_dir` (NULL = lens_locate_hf_hub_dir()),
 * following refs/main; NULL unless the revision is a plain name and the snapshot has
 * config.json. */
char *lens_locate_hf_snapshot (const char *hub_dir, const char *repo_id);

/* GPT-2 in the cache (openai-community/gpt2, then gpt2), or NULL. */
char *lens_locate_hf_gpt2 (const char *hub_dir);

/* Every cached model whose snapshot has config.json, sorted by repo id. Never NULL. */
GPtrArray *lens_locate_hf_models (const char *hub_dir);

/* The bundled demo model folder, or NULL when neither copy exists. `exe_path` is the running
 * program (NULL = /proc/self/exe): when it runs installed, the installed copy is preferred. */
char *lens_locate_demo_model (const char *exe_path);

/* Does `dir` look like a model folder (a directory with config.json)? */
gboolean lens_locate_is_model_dir (const char *dir);

/* The folder to open by default. `explicit_dir` and `last_used` may be NULL; an explicit folder
 * is returned as given (loading reports its errors), a last-used folder only if it still looks
 * like a model folder. Fails (LENS_ERROR_IO) only when no model can be found at all. */
char *lens_locate_default_model (const char *explicit_dir, const char *last_used,
                                 LensModelSource *source, GError **error);

G_END_DECLS
