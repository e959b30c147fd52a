/* lens-describe.c: the text of one cell for tooltips and accessible descriptions. */
#include "config.h"

#include <math.h>
#include <glib/gi18n-lib.h>

#include "lens-paint-private.h"

static void
append_escaped (GString *out, const char *text)
{
  g_autofree char *escaped = g_markup_escape_text (text, -1);
  g_string_append (out, escaped);
}

static void
append_token (GString *out, const char *raw)
{
  g_autofree char *shown = lens_token_display (raw);
  g_string_append (out, "<tt>");
  append_escaped (out, shown);
  g_string_append (out, "</tt>");
}

/* "<b>Layer 5</b> · position 3 <tt>␣Paris</tt>" */
static void
append_cell_title (GString *out, const LensResult *r, int row, int pos)
{
  g_autofree char *layer = lens_row_title (r, row);
  g_string_append (out, "<b>");
  append_escaped (out, layer);
  g_string_append (out, "</b> · ");
  g_autofree char *position = g_strdup_printf (_ ("position %d"), r->first_pos + pos);
  append_escaped (out, position);
  g_string_append (out, " ");
  append_token (out, r->token_texts[pos]);
}

char *
lens_describe_cell (const LensResult *r, const LensPaintState *state, int row, int pos)
{
  if (r == NULL || row < 0 || row >= r->n_rows || pos < 0 || pos >= r->n_tokens)
    return g_strdup ("");

  size_t cell = lens_result_cell_index (r, row, pos);
  GString *out = g_string_new (NULL);
  append_cell_title (out, r, row, pos);

  if (!lens_result_pos_ready (r, pos))
    {
      /* nothing else is known yet, and a rank query would compute the cell's logits here */
      g_string_append (out, "\n");
      append_escaped (out, _ ("Computing…"));
      return g_string_free (out, FALSE);
    }

  g_string_append (out, "\n<b>");
  append_escaped (out, _ ("Top tokens"));
  g_string_append (out, "</b>");
  size_t k0 = cell * (size_t) r->top_k;
  int shown = 0, more = 0;
  for (int k = 0; k < r->top_k; k++)
    {
      int32_t id = r->top_ids[k0 + k];
      float p = r->top_probs[k0 + k];
      if (id < 0 || isnan (p))
        continue;
      /* a tooltip that fits on the screen: the rest is in the Top Tokens panel */
      if (shown == LENS_DESCRIBE_MAX_TOP)
        {
          more++;
          continue;
        }
      shown++;
      g_string_append_printf (out, "\n%d. ", k + 1);
      append_token (out, lens_result_token_text (r, id));
      g_autofree char *prob = lens_format_prob (p);
      g_string_append_printf (out, "  %s", prob);
    }
  if (more > 0)
    {
      g_autofree char *rest
          = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "… %d more in the Top Tokens panel",
                                          "… %d more in the Top Tokens panel", more),
                             more);
      g_string_append (out, "\n");
      append_escaped (out, rest);
    }

  if (!isnan (r->entropy[cell]))
    {
      g_autofree char *entropy = g_strdup_printf (_ ("Entropy: %.3f nats"), r->entropy[cell]);
      g_string_append (out, "\n");
      append_escaped (out, entropy);
    }

  /* Metrics, when the run computed them: how far this layer is from the model's own answer and
   * how it rates the token that actually comes next. */
  if (lens_result_has_metrics (r))
    {
      float kl = lens_result_kl_final (r, row, pos);
      if (!isnan (kl))
        {
          g_autofree char *text = g_strdup_printf (_ ("KL from the final layer: %.3f nats"), kl);
          g_string_append (out, "\n");
          append_escaped (out, text);
        }
      int32_t next = lens_result_next_id (r, pos);
      float p = lens_result_next_prob (r, row, pos);
      if (next >= 0 && !isnan (p))
        {
          g_string_append (out, "\n<b>");
          append_escaped (out, _ ("Next token"));
          g_string_append (out, "</b> ");
          /* the input token itself: an imported file's top-k table need not hold it */
          append_token (out, r->token_texts[pos + 1]);
          g_autofree char *prob = lens_format_prob (p);
          g_autofree char *detail = g_strdup_printf (_ ("%s, rank %d, cross-entropy %.3f nats"),
                                                     prob, lens_result_next_rank (r, row, pos),
                                                     lens_result_next_cross_entropy (r, row, pos));
          g_string_append (out, "  ");
          append_escaped (out, detail);
        }
    }

  if (state != NULL && state->targets != NULL && state->n_targets > 0)
    {
      g_string_append (out, "\n<b>");
      append_escaped (out, _ ("Targets"));
      g_string_append (out, "</b>");
      for (int i = 0; i < state->n_targets; i++)
        {
          const LensTarget *target = state->targets[i];
          float p = target->probs != NULL ? target->probs[cell] : NAN;
          int rank = 0;
          if (target->id >= 0 && !state->no_ranks && lens_result_has_model (r))
            {
              float live_p;
              /* A failed rank query (id outside this model's vocabulary) leaves the rank out. */
              if (lens_result_target_rank (r, row, pos, target->id, &live_p, &rank, NULL))
                p = live_p;
              else
                rank = 0;
            }
          g_string_append (out, "\n");
          append_token (out, target->label);
          g_autofree char *prob = lens_format_prob (p);
          g_string_append_printf (out, "  %s", prob);
          if (rank > 0)
            {
              g_autofree char *rank_text = g_strdup_printf (_ ("rank %d"), rank);
              g_string_append (out, " (");
              append_escaped (out, rank_text);
              g_string_append (out, ")");
            }
        }
    }
  if (state != NULL && state->diff_values != NULL)
    {
      /* the difference view: the cell's value against the pinned result */
      float d = state->diff_values[cell];
      g_autofree char *value
          = isnan (d) ? g_strdup (_ ("no partner cell in the pinned result"))
            : state->diff_kind == LENS_DIFF_KL
                ? g_strdup_printf (_ ("KL from the pinned result: %.4g nats"), d)
                /* Translators: a signed probability difference such as +0.0123 */
                : g_strdup_printf (_ ("Target probability, this prompt − pinned: %+.4g"), d);
      g_string_append (out, "\n<b>");
      append_escaped (out, _ ("Compared"));
      g_string_append (out, "</b>  ");
      append_escaped (out, value);
    }
  return g_string_free (out, FALSE);
}

char *
lens_describe_topk_item (const LensResult *r, const LensPaintState *state, int rank)
{
  if (r == NULL || r->n_rows <= 0 || r->n_tokens <= 0 || rank < 0 || rank >= r->top_k)
    return g_strdup ("");
  int row, pos;
  lens_effective_cell (r, state, &row, &pos);
  size_t k0 = lens_result_cell_index (r, row, pos) * (size_t) r->top_k;
  int32_t id = r->top_ids[k0 + rank];
  float p = r->top_probs[k0 + rank];
  if (id < 0 || isnan (p))
    return g_strdup ("");

  GString *out = g_string_new (NULL);
  append_cell_title (out, r, row, pos);
  /* the whole token, which the bar's label may have cut */
  g_string_append_printf (out, "\n%d. ", rank + 1);
  append_token (out, lens_result_token_text (r, id));
  g_autofree char *prob = lens_format_prob (p);
  g_string_append_printf (out, "  %s\n", prob);
  double together = 0.0;
  for (int k = 0; k <= rank; k++)
    if (r->top_ids[k0 + k] >= 0 && isfinite (r->top_probs[k0 + k]))
      together += r->top_probs[k0 + k];
  g_autofree char *sum = lens_format_prob (together);
  /* Translators: the token's id in the vocabulary, then how many tokens from the best one down
   * to this one and their probabilities' sum */
  g_autofree char *facts
      = g_strdup_printf (_ ("Token id %d · top %d together %s"), id, rank + 1, sum);
  append_escaped (out, facts);
  return g_string_free (out, FALSE);
}
