/* ll-worker.c: model loading, lens runs, comparisons and results files read on GTask threads; the
 * finished results go to an LRU cache (ll-result-cache.c). */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lens-compare.h"
#include "lens-error.h"
#include "lens-results-io.h"
#include "lens-threads.h"
#include "ll-result-cache.h"
#include "ll-worker.h"

/* Partial results of a progressive run reach the main thread at most this often (the newest one
 * wins), so a fast series of passes never floods the main loop with repaints. */
#define PARTIAL_MIN_INTERVAL_US (100 * 1000)

struct _LlWorker
{
  GObject parent_instance;

  GMainContext *main_context;
  LensModel *model;

  guint run_generation;  /* main thread only */
  guint load_generation; /* main thread only */
  GCancellable *run_cancellable;
  GCancellable *load_cancellable;
  int n_pending; /* runs and loads not yet completed (main thread only) */

  /* One dedicated thread does all loads and runs, in order: one request at a time. */
  GThreadPool *pool;
  /* The last run's keys, values and cells, for the next prompt that shares its beginning
   * (typing computes only the new positions). The pool thread alone uses it. */
  LensRunCache *run_cache;
  LlResultCache *cache; /* finished results, by model, rows and ids */
  guint n_forward;      /* atomic */
  int threads;          /* atomic: what each job computes with; 0 = every core */
  gboolean sublayers;   /* main thread: what the next runs ask for */

  /* LensRunOptions.progressive for every run: LOGIT_LENS_PROGRESSIVE=always|never (tests force
   * partial results on small models), else automatic. */
  LensProgressive progressive;
  /* The newest partial result not yet delivered, handed from the pool thread to the main one. */
  GMutex partial_lock;
  LensResult *partial;      /* or NULL */
  guint partial_generation; /* the run it belongs to */
  GSource *partial_source;  /* the delivery, while one is scheduled */
  gint64 partial_last_us;   /* when the last one was delivered */
  gboolean run_delivered;   /* main thread: the current run's result has been taken */
};

G_DEFINE_FINAL_TYPE (LlWorker, ll_worker, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_BUSY,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_MODEL_CHANGED,
  SIGNAL_PROGRESS,
  SIGNAL_PARTIAL_RESULT,
  SIGNAL_PROMPT_TOKENIZED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static void
ll_worker_finalize (GObject *object)
{
  LlWorker *self = LL_WORKER (object);

  /* Queued tasks hold references to the worker, so the queue is empty here. */
  g_thread_pool_free (self->pool, TRUE, TRUE);
  g_clear_pointer (&self->run_cache, lens_run_cache_free);

  g_clear_object (&self->run_cancellable);
  g_clear_object (&self->load_cancellable);
  g_clear_pointer (&self->model, lens_model_unref);
  g_clear_pointer (&self->cache, ll_result_cache_free);
  g_clear_pointer (&self->partial, lens_result_unref);
  g_clear_pointer (&self->partial_source, g_source_unref);
  g_mutex_clear (&self->partial_lock);
  g_main_context_unref (self->main_context);

  G_OBJECT_CLASS (ll_worker_parent_class)->finalize (object);
}

static void
ll_worker_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  LlWorker *self = LL_WORKER (object);

  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, ll_worker_get_busy (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ll_worker_class_init (LlWorkerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ll_worker_finalize;
  object_class->get_property = ll_worker_get_property;

  properties[PROP_BUSY]
      = g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                              G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* Emitted on the main thread when a load succeeded and the current model changed. */
  signals[SIGNAL_MODEL_CHANGED]
      = g_signal_new ("model-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 0);
  /* (done, total) steps of the current run, on the main thread; never for a superseded run. */
  signals[SIGNAL_PROGRESS]
      = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
  /* (LensResult *partial) of the current run, on the main thread, before its result; never for
   * a superseded run. Immutable: keep a reference to use it after the handler returns. */
  signals[SIGNAL_PARTIAL_RESULT]
      = g_signal_new ("partial-result", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  /* (n_tokens, max_tokens) of the current run's prompt as soon as it is tokenized, on the main
   * thread, before its result or its error (a prompt over max_tokens fails); n_tokens is -1 when
   * the text cannot be tokenized. Never for a superseded run. */
  signals[SIGNAL_PROMPT_TOKENIZED]
      = g_signal_new ("prompt-tokenized", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
}

typedef void (*WorkFunc) (GTask *task, LlWorker *self);

/* The threads that compute (this one, the OpenMP threads it starts, which inherit its nice
 * value, and OpenBLAS's threads, which the library starts from the main thread when it is loaded)
 * yield to the UI thread on a busy 2-core machine, so a frame never waits for the lens. Linux lets
 * a process raise the nice value of each of its threads. OpenBLAS leaves its threads unnamed
 * (they carry the program's name), while GLib, GDBus and Mesa name theirs; only unnamed threads
 * other than the main thread are lowered. */
static void
lower_compute_priority (void)
{
#if defined(__linux__) && defined(SYS_gettid)
  setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10);

  g_autofree char *main_comm = NULL;
  g_autofree char *main_path = g_strdup_printf ("/proc/self/task/%d/comm", (int) getpid ());
  if (!g_file_get_contents (main_path, &main_comm, NULL, NULL))
    return;
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  const char *name;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      gint64 tid = g_ascii_strtoll (name, NULL, 10);
      if (tid <= 0 || tid == getpid ())
        continue;
      g_autofree char *path = g_strdup_printf ("/proc/self/task/%s/comm", name);
      g_autofree char *comm = NULL;
      if (g_file_get_contents (path, &comm, NULL, NULL) && g_strcmp0 (comm, main_comm) == 0)
        setpriority (PRIO_PROCESS, (id_t) tid, 10);
    }
#endif
}

static void
pool_func (gpointer data, gpointer user_data)
{
  GTask *task = data;
  static gsize lowered = 0;

  if (g_once_init_enter (&lowered))
    {
      lower_compute_priority ();
      g_once_init_leave (&lowered, 1);
    }
  LlWorker *self = LL_WORKER (g_task_get_source_object (task));
  /* per job: OpenMP keeps the count per thread, and a job must not see it change half-way */
  lens_threads_set (g_atomic_int_get (&self->threads));
  WorkFunc func = g_object_get_data (G_OBJECT (task), "ll-work-func");
  func (task, self);
  g_object_unref (task);
}

static void
queue_work (LlWorker *self, GTask *task, WorkFunc func)
{
  g_object_set_data (G_OBJECT (task), "ll-work-func", (gpointer) func);
  g_thread_pool_push (self->pool, g_object_ref (task), NULL);
}

static void
ll_worker_init (LlWorker *self)
{
  self->main_context = g_main_context_ref_thread_default ();
  self->pool = g_thread_pool_new (pool_func, self, 1, TRUE, NULL);
  self->run_cache = lens_run_cache_new ();
  self->cache = ll_result_cache_new ();
  g_mutex_init (&self->partial_lock);
  const char *progressive = g_getenv ("LOGIT_LENS_PROGRESSIVE");
  if (g_strcmp0 (progressive, "always") == 0)
    self->progressive = LENS_PROGRESSIVE_ALWAYS;
  else if (g_strcmp0 (progressive, "never") == 0)
    self->progressive = LENS_PROGRESSIVE_NEVER;
}

LlWorker *
ll_worker_new (void)
{
  return g_object_new (LL_TYPE_WORKER, NULL);
}

LensModel *
ll_worker_get_model (LlWorker *self)
{
  g_return_val_if_fail (LL_IS_WORKER (self), NULL);
  return self->model;
}

void
ll_worker_set_threads (LlWorker *self, int n_threads)
{
  g_return_if_fail (LL_IS_WORKER (self));
  g_atomic_int_set (&self->threads, CLAMP (n_threads, 0, LENS_THREADS_MAX));
}

void
ll_worker_set_sublayers (LlWorker *self, gboolean sublayers)
{
  g_return_if_fail (LL_IS_WORKER (self));
  self->sublayers = sublayers;
}

gboolean
ll_worker_get_busy (LlWorker *self)
{
  g_return_val_if_fail (LL_IS_WORKER (self), FALSE);
  return self->n_pending > 0;
}

guint
ll_worker_get_n_forward (LlWorker *self)
{
  g_return_val_if_fail (LL_IS_WORKER (self), 0);
  return g_atomic_int_get (&self->n_forward);
}

static void
task_completed_cb (GTask *task, GParamSpec *pspec, LlWorker *self)
{
  g_assert (self->n_pending > 0);
  self->n_pending--;
  if (self->n_pending == 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
track_task (LlWorker *self, GTask *task)
{
  g_signal_connect_object (task, "notify::completed", G_CALLBACK (task_completed_cb), self, 0);
  self->n_pending++;
  if (self->n_pending == 1)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
cancel_request_cb (GCancellable *caller, gpointer request)
{
  g_cancellable_cancel (request);
}

/* A fresh cancellable for a request, also cancelled when the caller's one is. */
static GCancellable *
new_request_cancellable (GCancellable *caller)
{
  GCancellable *c = g_cancellable_new ();
  if (caller != NULL)
    g_cancellable_connect (caller, G_CALLBACK (cancel_request_cb), g_object_ref (c),
                           g_object_unref);
  return c;
}

static void
set_superseded_error (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Superseded by a newer request");
}

/* ---- model loading ---- */

typedef struct
{
  char *dir;
  guint generation;
} LoadData;

static void
load_data_free (LoadData *d)
{
  g_free (d->dir);
  g_free (d);
}

static void
load_thread (GTask *task, LlWorker *self)
{
  LoadData *d = g_task_get_task_data (task);
  GError *error = NULL;

  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
      return;
    }
  /* the cache holds the old model: let it go before a second one is mapped */
  lens_run_cache_free (self->run_cache);
  self->run_cache = lens_run_cache_new ();
  LensModel *model = lens_model_load (d->dir, &error);
  if (model == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, model, (GDestroyNotify) lens_model_unref);
}

void
ll_worker_load_model_async (LlWorker *self, const char *dir, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (LL_IS_WORKER (self));
  g_return_if_fail (dir != NULL);

  if (self->load_cancellable != NULL)
    g_cancellable_cancel (self->load_cancellable);
  g_clear_object (&self->load_cancellable);
  self->load_cancellable = new_request_cancellable (cancellable);

  LoadData *d = g_new0 (LoadData, 1);
  d->dir = g_strdup (dir);
  d->generation = ++self->load_generation;

  g_autoptr (GTask) task = g_task_new (self, self->load_cancellable, callback, user_data);
  g_task_set_source_tag (task, ll_worker_load_model_async);
  g_task_set_task_data (task, d, (GDestroyNotify) load_data_free);
  track_task (self, task);
  /* Whatever runs on the old model is no longer wanted. */
  ll_worker_cancel (self);
  queue_work (self, task, load_thread);
}

gboolean
ll_worker_load_model_finish (LlWorker *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  GTask *task = G_TASK (result);
  LoadData *d = g_task_get_task_data (task);

  gboolean stale = d->generation != self->load_generation;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (LensModel) model = g_task_propagate_pointer (task, &local_error);
  if (stale)
    {
      set_superseded_error (error);
      return FALSE;
    }
  if (model == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  g_clear_pointer (&self->model, lens_model_unref);
  self->model = g_steal_pointer (&model);
  /* Keys name the folder, and a folder's files may have changed since it was last loaded. */
  ll_result_cache_clear (self->cache);

  g_signal_emit (self, signals[SIGNAL_MODEL_CHANGED], 0);
  return TRUE;
}

/* ---- lens runs ---- */

typedef struct
{
  LlWorker *self; /* not owned: the task holds a reference */
  LensModel *model;
  char *prompt;
  int top_k;
  gboolean sublayers; /* an "L.attn" row before each block's */
  guint generation;
  GCancellable *cancellable;
  gboolean from_cache; /* set by the thread before it returns */
} RunData;

static void
run_data_free (RunData *d)
{
  g_clear_pointer (&d->model, lens_model_unref);
  g_free (d->prompt);
  g_clear_object (&d->cancellable);
  g_free (d);
}

/* A signal with two ints ("progress", "prompt-tokenized") on its way from the pool thread. */
typedef struct
{
  LlWorker *self;
  guint generation;
  guint signal;
  int values[2];
} RunSignal;

static void
run_signal_free (RunSignal *p)
{
  g_object_unref (p->self);
  g_free (p);
}

static gboolean
run_signal_main_cb (gpointer user_data)
{
  RunSignal *p = user_data;
  if (p->generation == p->self->run_generation)
    g_signal_emit (p->self, signals[p->signal], 0, p->values[0], p->values[1]);
  return G_SOURCE_REMOVE;
}

/* Pool thread: emits `signal` on the main thread, where it is dropped if the run is stale by
 * then. Sources of one priority run in the order they were attached, so these arrive before the
 * run's result. Always a source, never g_main_context_invoke: that calls the function at once on
 * this thread whenever it can acquire the context (the main thread between two iterations), where
 * the generation check races with the main thread's next request and the handlers would run off
 * the main thread. */
static void
emit_on_main (RunData *d, guint signal, int value0, int value1)
{
  RunSignal *p = g_new0 (RunSignal, 1);
  p->self = g_object_ref (d->self);
  p->generation = d->generation;
  p->signal = signal;
  p->values[0] = value0;
  p->values[1] = value1;
  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, run_signal_main_cb, p, (GDestroyNotify) run_signal_free);
  g_source_set_static_name (source, "[logit-lens] worker signal");
  g_source_attach (source, d->self->main_context);
  g_source_unref (source);
}

static void
run_progress_cb (int done, int total, gpointer user_data)
{
  emit_on_main (user_data, SIGNAL_PROGRESS, done, total);
}

static gboolean
partial_main_cb (gpointer user_data)
{
  LlWorker *self = user_data;
  g_mutex_lock (&self->partial_lock);
  /* A source the pool thread replaced (destroyed while this one waited for the lock) leaves
   * the newer one in place. */
  if (self->partial_source != g_main_current_source ())
    {
      g_mutex_unlock (&self->partial_lock);
      return G_SOURCE_REMOVE;
    }
  g_clear_pointer (&self->partial_source, g_source_unref);
  g_autoptr (LensResult) partial = g_steal_pointer (&self->partial);
  /* Only the current run's partial results count, and only they start the interval: a stale
   * one arriving after run_async must not hold the new run's first one back. */
  gboolean current
      = partial != NULL && self->partial_generation == self->run_generation && !self->run_delivered;
  if (current)
    self->partial_last_us = g_get_monotonic_time ();
  g_mutex_unlock (&self->partial_lock);
  if (current)
    g_signal_emit (self, signals[SIGNAL_PARTIAL_RESULT], 0, partial);
  return G_SOURCE_REMOVE;
}

/* Pool thread: keeps the newest partial result and schedules its delivery, at most every
 * PARTIAL_MIN_INTERVAL_US. */
static void
run_partial_cb (LensResult *partial, gpointer user_data)
{
  RunData *d = user_data;
  LlWorker *self = d->self;
  g_mutex_lock (&self->partial_lock);
  g_clear_pointer (&self->partial, lens_result_unref);
  self->partial = lens_result_ref (partial);
  self->partial_generation = d->generation;
  gint64 now = g_get_monotonic_time ();
  gint64 due = MAX (now, self->partial_last_us + PARTIAL_MIN_INTERVAL_US);
  /* A delivery still waiting on an earlier run's interval (run_async resets partial_last_us)
   * makes way for one at once, so that a new run's first partial result is never held back. */
  if (self->partial_source != NULL && due <= now
      && g_source_get_ready_time (self->partial_source) != 0)
    {
      g_source_destroy (self->partial_source);
      g_clear_pointer (&self->partial_source, g_source_unref);
    }
  if (self->partial_source == NULL)
    {
      /* Due now: an idle source, which is dispatched before the run's result (attached later at
       * the same priority), so the window always gets the partial result first. */
      if (due <= now)
        self->partial_source = g_idle_source_new ();
      else
        {
          self->partial_source = g_timeout_source_new (0);
          g_source_set_ready_time (self->partial_source, due);
        }
      g_source_set_priority (self->partial_source, G_PRIORITY_DEFAULT);
      g_source_set_callback (self->partial_source, partial_main_cb, g_object_ref (self),
                             g_object_unref);
      g_source_attach (self->partial_source, self->main_context);
    }
  g_mutex_unlock (&self->partial_lock);
}

static gboolean
run_cancel_cb (gpointer user_data)
{
  RunData *d = user_data;
  return g_cancellable_is_cancelled (d->cancellable);
}

/* The one limit on a prompt's length in the app: the model's context (prompts are refused
 * above it, and the window shows it next to the prompt's count). */
static int
max_prompt_tokens (LensModel *model)
{
  return lens_model_config (model)->n_positions;
}

int
ll_worker_get_max_prompt_tokens (LlWorker *self)
{
  g_return_val_if_fail (LL_IS_WORKER (self), 0);
  return self->model != NULL ? max_prompt_tokens (self->model) : 0;
}

static void
run_thread (GTask *task, LlWorker *self)
{
  RunData *d = g_task_get_task_data (task);
  GError *error = NULL;

  if (g_cancellable_is_cancelled (d->cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
      return;
    }

  /* With the special tokens the tokenizer adds (Llama's BOS is the first column); an empty
   * prompt stays empty. */
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  int max_tokens = max_prompt_tokens (d->model);
  if (d->prompt[0] != '\0'
      && !lens_tokenizer_encode_with_special (lens_model_tokenizer (d->model), d->prompt, -1, ids,
                                              &error))
    {
      emit_on_main (d, SIGNAL_PROMPT_TOKENIZED, -1, max_tokens);
      g_task_return_error (task, error);
      return;
    }
  /* the count is shown while the lens computes, and also for a prompt refused below */
  emit_on_main (d, SIGNAL_PROMPT_TOKENIZED, (int) ids->len, max_tokens);

  if (ids->len == 0)
    {
      g_task_return_new_error (task, LENS_ERROR, LENS_ERROR_INPUT, _ ("The prompt is empty"));
      return;
    }
  if (ids->len > (guint) max_tokens)
    {
      g_task_return_new_error (task, LENS_ERROR, LENS_ERROR_INPUT,
                               _ ("The prompt is %u tokens long, %u more than the %d this model "
                                  "reads"),
                               ids->len, ids->len - (guint) max_tokens, max_tokens);
      return;
    }

  const int32_t *id_data = (const int32_t *) (void *) ids->data;
  int T = (int) ids->len;
  char *key = ll_result_cache_key (d->model, d->sublayers, id_data, T);
  g_autoptr (LensResult) cached = ll_result_cache_lookup (self->cache, key);
  if (cached != NULL && cached->top_k >= d->top_k)
    {
      d->from_cache = TRUE;
      g_free (key);
      g_task_return_pointer (task, lens_result_with_top_k (cached, d->top_k),
                             (GDestroyNotify) lens_result_unref);
      return;
    }

  LensRunOptions options = {
      .layers = NULL,
      .n_layers = 0,
      .top_k = d->top_k,
      .sublayers = d->sublayers,
      /* KL to the final layer and the next token's probability and rank, for the tooltips and
       * views (a few percent of the lens) */
      .metrics = TRUE,
      .cancel = run_cancel_cb,
      .progress = run_progress_cb,
      .partial = run_partial_cb,
      .progressive = self->progressive,
      .user_data = d,
  };
  LensResult *result
      = lens_run_ids_cached (d->model, self->run_cache, id_data, T, d->prompt, &options, &error);
  if (result == NULL)
    {
      g_free (key);
      if (g_error_matches (error, LENS_ERROR, LENS_ERROR_CANCELLED))
        {
          g_clear_error (&error);
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
        }
      else
        g_task_return_error (task, error);
      return;
    }
  g_atomic_int_inc (&self->n_forward);
  ll_result_cache_insert (self->cache, key, result);
  g_task_return_pointer (task, result, (GDestroyNotify) lens_result_unref);
}

void
ll_worker_cancel (LlWorker *self)
{
  g_return_if_fail (LL_IS_WORKER (self));

  if (self->run_cancellable != NULL)
    g_cancellable_cancel (self->run_cancellable);
  /* Whatever is still running is now stale. */
  self->run_generation++;
}

void
ll_worker_run_async (LlWorker *self, const char *prompt, int top_k, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (LL_IS_WORKER (self));
  g_return_if_fail (prompt != NULL);

  ll_worker_cancel (self);
  g_clear_object (&self->run_cancellable);
  self->run_cancellable = new_request_cancellable (cancellable);
  self->run_delivered = FALSE;
  /* a new run's first partial result goes out at once */
  g_mutex_lock (&self->partial_lock);
  self->partial_last_us = 0;
  g_mutex_unlock (&self->partial_lock);

  g_autoptr (GTask) task = g_task_new (self, self->run_cancellable, callback, user_data);
  g_task_set_source_tag (task, ll_worker_run_async);
  /* The error is reported by _finish, not by GTask's own cancellation check, so that stale and
   * cancelled requests look the same to the caller. */
  g_task_set_check_cancellable (task, FALSE);

  if (self->model == NULL)
    {
      track_task (self, task);
      g_task_return_new_error (task, LENS_ERROR, LENS_ERROR_INPUT, _ ("No model is loaded"));
      return;
    }

  RunData *d = g_new0 (RunData, 1);
  d->self = self;
  d->model = lens_model_ref (self->model);
  d->prompt = g_strdup (prompt);
  d->top_k = CLAMP (top_k, 1, lens_model_config (self->model)->vocab_size);
  d->sublayers = self->sublayers;
  d->generation = self->run_generation;
  d->cancellable = g_object_ref (self->run_cancellable);
  g_task_set_task_data (task, d, (GDestroyNotify) run_data_free);
  track_task (self, task);
  queue_work (self, task, run_thread);
}

LensResult *
ll_worker_run_finish (LlWorker *self, GAsyncResult *result, gboolean *from_cache, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  GTask *task = G_TASK (result);
  RunData *d = g_task_get_task_data (task);

  /* Cancelled or superseded requests never deliver, even if they finished computing. */
  gboolean stale
      = d != NULL
        && (d->generation != self->run_generation || g_cancellable_is_cancelled (d->cancellable));
  g_autoptr (GError) local_error = NULL;
  g_autoptr (LensResult) r = g_task_propagate_pointer (task, &local_error);
  if (d != NULL && d->generation == self->run_generation)
    self->run_delivered = TRUE; /* its partial results, if any are still on their way, are late */
  if (stale)
    {
      set_superseded_error (error);
      return NULL;
    }
  if (r == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (from_cache != NULL)
    *from_cache = d != NULL && d->from_cache;
  return g_steal_pointer (&r);
}

/* ---- comparing two results ---- */

typedef struct
{
  LensResult *pinned, *current;
} CompareData;

static void
compare_data_free (CompareData *d)
{
  lens_result_unref (d->pinned);
  lens_result_unref (d->current);
  g_free (d);
}

static gboolean
compare_cancel_cb (gpointer user_data)
{
  return g_cancellable_is_cancelled (user_data);
}

static void
compare_thread (GTask *task, LlWorker *self)
{
  CompareData *d = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  size_t cells = (size_t) d->current->n_rows * (size_t) d->current->n_tokens;
  g_autofree float *kl = g_try_new (float, cells);
  GError *error = NULL;
  if (kl == NULL)
    g_task_return_new_error (task, LENS_ERROR, LENS_ERROR_IO, "Out of memory for %zu cells", cells);
  else if (!lens_compare_kl (d->pinned, d->current, kl, compare_cancel_cb, cancellable, &error))
    {
      if (g_error_matches (error, LENS_ERROR, LENS_ERROR_CANCELLED))
        {
          g_clear_error (&error);
          g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
        }
      else
        g_task_return_error (task, error);
    }
  else
    g_task_return_pointer (task, g_steal_pointer (&kl), g_free);
}

void
ll_worker_compare_kl_async (LlWorker *self, LensResult *pinned, LensResult *current,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data)
{
  g_return_if_fail (LL_IS_WORKER (self));
  g_return_if_fail (pinned != NULL && current != NULL);
  CompareData *d = g_new0 (CompareData, 1);
  d->pinned = lens_result_ref (pinned);
  d->current = lens_result_ref (current);
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ll_worker_compare_kl_async);
  g_task_set_task_data (task, d, (GDestroyNotify) compare_data_free);
  queue_work (self, task, compare_thread);
}

float *
ll_worker_compare_kl_finish (LlWorker *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- reading a results file ---- */

typedef struct
{
  LensResult *result;
  GPtrArray *targets;
} OpenedFile;

static void
opened_file_free (OpenedFile *f)
{
  g_clear_pointer (&f->result, lens_result_unref);
  g_clear_pointer (&f->targets, g_ptr_array_unref);
  g_free (f);
}

static void
open_results_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  const char *path = task_data;
  g_autoptr (GError) error = NULL;
  OpenedFile *f = g_new0 (OpenedFile, 1);

  /* The parser cannot be interrupted; a cancelled open is dropped when it returns. */
  f->result = lens_results_load_full (path, &f->targets, &error);
  if (f->result == NULL)
    {
      opened_file_free (f);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, f, (GDestroyNotify) opened_file_free);
}

void
ll_worker_open_results_async (LlWorker *self, const char *path, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (LL_IS_WORKER (self));
  g_return_if_fail (path != NULL);

  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ll_worker_open_results_async);
  g_task_set_task_data (task, g_strdup (path), g_free);
  /* Not on the compute thread: a file needs no model, and is shown while one loads or runs. */
  g_task_run_in_thread (task, open_results_thread);
}

LensResult *
ll_worker_open_results_finish (LlWorker *self, GAsyncResult *result, GPtrArray **targets,
                               GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  OpenedFile *f = g_task_propagate_pointer (G_TASK (result), error);
  if (f == NULL)
    return NULL;
  LensResult *r = g_steal_pointer (&f->result);
  if (targets != NULL)
    *targets = g_steal_pointer (&f->targets);
  opened_file_free (f);
  return r;
}
