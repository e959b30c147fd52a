/* test-progressive-window.c: the window shows a progressive run's partial results before the
 * complete one. LOGIT_LENS_PROGRESSIVE=always (set here, before the app starts) makes the small
 * test model's runs progressive, so this does not depend on timing.
 *
 * usage: test-progressive-window --model DIR --artifacts DIR */
#include "config.h"

#include <string.h>

#include "lens-paint.h"
#include "ll-application.h"
#include "ll-window.h"
#include "gui-support.h"

#define PROMPT "The quick brown fox jumps over the lazy dog and runs far away"

static GuiWindowTest test;
static LlWindow *window;
static int failures;

typedef struct
{
  GPtrArray *shown; /* of LensResult: every result the window showed, in order */
} Seen;

static gboolean
model_loaded (gpointer data)
{
  return ll_worker_get_model (ll_window_get_worker (window)) != NULL;
}

static gboolean
complete_result_for (gpointer prompt)
{
  LensResult *r = ll_window_get_result (window);
  return r != NULL && !lens_result_is_partial (r)
         && !ll_worker_get_busy (ll_window_get_worker (window))
         && g_strcmp0 (r->prompt, prompt) == 0;
}

static void
result_changed_cb (LlWindow *win, Seen *seen)
{
  LensResult *r = ll_window_get_result (win);
  if (r != NULL)
    g_ptr_array_add (seen->shown, lens_result_ref (r));
  /* a partial result is on screen as a result, and its pending cells say so */
  if (r != NULL && lens_result_is_partial (r))
    {
      CHECK (g_strcmp0 (ll_window_get_content_state (win), "result") == 0, "state %s",
             ll_window_get_content_state (win));
      g_autofree char *pending = lens_describe_cell (r, NULL, 0, 0);
      CHECK (strstr (pending, "Computing") != NULL, "pending cell described as “%s”", pending);
    }
}

static void
script (void)
{
  CHECK (gui_wait_until (model_loaded, NULL, 60000), "model did not load");
  if (ll_worker_get_model (ll_window_get_worker (window)) == NULL)
    return;
  Seen seen = {g_ptr_array_new_with_free_func ((GDestroyNotify) lens_result_unref)};
  gulong handler
      = g_signal_connect (window, "result-changed", G_CALLBACK (result_changed_cb), &seen);
  gui_text_view_set_text (ll_window_get_prompt_view (window), PROMPT);
  CHECK (gui_wait_until (complete_result_for, PROMPT, 60000), "no complete result");
  gui_spin_ms (300); /* anything late would show up now */
  g_signal_handler_disconnect (window, handler);

  guint n = seen.shown->len;
  CHECK (n >= 2, "%u results shown", n);
  if (n >= 2)
    {
      LensResult *first = g_ptr_array_index (seen.shown, 0);
      LensResult *last = g_ptr_array_index (seen.shown, n - 1);
      int T = last->n_tokens;
      CHECK (lens_result_is_partial (first), "the first result shown is complete");
      CHECK (first->n_ready >= 1 && first->n_ready < T && lens_result_pos_ready (first, T - 1),
             "first partial result: %d of %d ready", first->n_ready, T);
      CHECK (!lens_result_is_partial (last) && last == ll_window_get_result (window),
             "the last result shown is not the complete one");
      int ready = 0;
      gboolean growing = TRUE;
      for (guint i = 0; i + 1 < n; i++)
        {
          LensResult *r = g_ptr_array_index (seen.shown, i);
          growing = growing && lens_result_is_partial (r) && r->n_ready > ready
                    && g_strcmp0 (r->prompt, PROMPT) == 0 && r->n_tokens == T;
          ready = r->n_ready;
        }
      CHECK (growing, "partial results do not grow towards the complete one");
      g_print ("# %u partial result(s) before the complete one\n", n - 1);
    }
  g_ptr_array_unref (seen.shown);
}

static gboolean
run_script (gpointer data)
{
  script ();
  gtk_window_close (GTK_WINDOW (window));
  return G_SOURCE_REMOVE;
}

static void
window_added_cb (GtkApplication *application, GtkWindow *win, gpointer data)
{
  if (window != NULL || !LL_IS_WINDOW (win))
    return;
  window = LL_WINDOW (win);
  g_idle_add (run_script, NULL);
}

int
main (int argc, char **argv)
{
  /* read by the worker when the window makes it */
  g_setenv ("LOGIT_LENS_PROGRESSIVE", "always", TRUE);
  if (!gui_window_test_setup (&test, argc, argv, "test-progressive-window"))
    return 2;
  int status = gui_window_test_run_app (&test, argv[0], G_CALLBACK (window_added_cb));
  return gui_window_test_finish (&test, window != NULL, status, failures);
}
