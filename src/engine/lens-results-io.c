/* lens-results-io.c: results files (our JSON, logitlenskit v1/v2) in and out.
 *
 * Reading: json-c builds one heap object per number (about 800 MB and 6 s for a 60 MB logitlenskit
 * file of 1000 tokens x 80 layers), so untrusted results files are read by a small strict pull
 * parser instead. A first pass validates the whole document and notes where each top-level member
 * starts; the members are then read in dependency order (layers and tokens before the tables
 * whose lengths they fix), since writers emit keys in any order (logitlenskit puts "topk" before
 * "tracked", whose probabilities it needs). */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "lens-error.h"
#include "lens-head.h"
#include "lens-results-io.h"
#include "lens-file.h"
#include "lens-json.h"

#define J_MAX_DEPTH 64
/* Probabilities computed in float may exceed 1 by a few ulps; anything further is an error. */
#define PROB_SLACK 1e-6

/* ------------------------------------------------------------------------------------------ */
/* Strict JSON pull reader (RFC 8259)                                                          */

typedef struct
{
  const char *base; /* start of the document, for line/column in messages */
  const char *p;
  const char *end;
  const char *name; /* prefix of every message */
  GError **error;
  gboolean failed;  /* the first error wins */
  GString *scratch; /* strings whose value the caller does not keep */
  char *desc;       /* see describe_tmp */
} JReader;

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static gboolean G_GNUC_PRINTF (2, 3) j_fail (JReader *j, const char *fmt, ...)
{
  if (j->failed)
    return FALSE;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (j->error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: %s", j->name, msg);
  j->failed = TRUE;
  return FALSE;
}

static void
j_position (const JReader *j, const char *at, size_t *line, size_t *col)
{
  size_t l = 1;
  const char *line_start = j->base;
  for (const char *q = j->base; q < at; q++)
    if (*q == '\n')
      {
        l++;
        line_start = q + 1;
      }
  *line = l;
  *col = (size_t) (at - line_start) + 1;
}

static gboolean
j_syntax_at (JReader *j, const char *at, const char *what)
{
  if (at >= j->end)
    return j_fail (j, "the file ends in the middle of the JSON (truncated?): %s", what);
  size_t line, col;
  j_position (j, at, &line, &col);
  return j_fail (j, "invalid JSON at line %zu, column %zu: %s", line, col, what);
}

static gboolean
j_syntax (JReader *j, const char *what)
{
  return j_syntax_at (j, j->p, what);
}

static inline int
j_peek (JReader *j)
{
  const char *p = j->p, *end = j->end;
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  j->p = p;
  return p < end ? (unsigned char) *p : -1;
}

/* What kind of value starts at the cursor, for "X is a string, not a number" messages. */
static const char *
j_kind (JReader *j)
{
  switch (j_peek (j))
    {
    case '{':
      return "an object";
    case '[':
      return "an array";
    case '"':
      return "a string";
    case 't':
    case 'f':
      return "a boolean";
    case 'n':
      return "null";
    case '-':
    case '0' ... '9':
      return "a number";
    default:
      return "not a JSON value";
    }
}

/* Length of the valid UTF-8 sequence at s (no overlongs, surrogates or code points past
 * U+10FFFF), or 0. */
static int
utf8_sequence (const unsigned char *s, const unsigned char *end)
{
  unsigned c = s[0], cp, min;
  int n;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0)
    n = 3, cp = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, cp = c & 0x07, min = 0x10000;
  else
    return 0;
  if (end - s < n)
    return 0;
  for (int i = 1; i < n; i++)
    {
      if ((s[i] & 0xC0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i] & 0x3F);
    }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

/* Reads a string into `out` (decoded, valid UTF-8; NULL only validates). U+0000 cannot live in a C
 * string; it becomes the text "\x00", the way token displays show raw bytes. */
static gboolean
j_string (JReader *j, GString *out)
{
  if (j_peek (j) != '"')
    return j_syntax (j, "expected a string");
  const char *p = j->p + 1, *end = j->end;
  if (out != NULL)
    g_string_truncate (out, 0);
  for (;;)
    {
      const char *run = p;
      while (p < end && (unsigned char) *p >= 0x20 && (unsigned char) *p < 0x80 && *p != '"'
             && *p != '\\')
        p++;
      if (p > run && out != NULL)
        g_string_append_len (out, run, p - run);
      if (p >= end)
        return j_syntax_at (j, p, "unterminated string");
      unsigned char c = (unsigned char) *p;
      if (c == '"')
        {
          j->p = p + 1;
          return TRUE;
        }
      if (c < 0x20)
        return j_syntax_at (j, p, "control character in a string (it must be escaped)");
      if (c >= 0x80)
        {
          int n = utf8_sequence ((const unsigned char *) p, (const unsigned char *) end);
          if (n == 0 && c >= 0xC2 && c <= 0xF4)
            {
              /* A sequence cut by the end of the file is a truncation, not bad UTF-8. */
              ptrdiff_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2, have = end - p;
              gboolean prefix = have < need;
              for (ptrdiff_t i = 1; prefix && i < have; i++)
                prefix = ((unsigned char) p[i] & 0xC0) == 0x80;
              if (prefix)
                return j_syntax_at (j, end, "a string cut short");
            }
          if (n == 0)
            return j_syntax_at (j, p, "invalid UTF-8 in a string");
          if (out != NULL)
            g_string_append_len (out, p, n);
          p += n;
          continue;
        }
      /* backslash */
      if (end - p < 2)
        return j_syntax_at (j, end, "unterminated string");
      const char *esc = p;
      char simple = lens_json_simple_escape (esc[1]);
      p += 2;
      if (simple == 0)
        switch (esc[1])
          {
          case 'u':
            {
              if (end - p < 4)
                return j_syntax_at (j, end, "unterminated \\u escape");
              int u = lens_json_hex4 (p);
              if (u < 0)
                return j_syntax_at (j, esc, "invalid \\u escape");
              p += 4;
              gunichar cp = (gunichar) u;
              if (u >= 0xD800 && u <= 0xDBFF)
                {
                  int lo
                      = (end - p >= 6 && p[0] == '\\' && p[1] == 'u') ? lens_json_hex4 (p + 2) : -1;
                  if (lo < 0xDC00 || lo > 0xDFFF)
                    return j_syntax_at (j, esc, "unpaired UTF-16 surrogate in a \\u escape");
                  cp = 0x10000 + (((gunichar) u - 0xD800) << 10) + ((gunichar) lo - 0xDC00);
                  p += 6;
                }
              else if (u >= 0xDC00 && u <= 0xDFFF)
                return j_syntax_at (j, esc, "unpaired UTF-16 surrogate in a \\u escape");
              if (out == NULL)
                break;
              if (cp == 0)
                g_string_append (out, "\\x00");
              else
                g_string_append_unichar (out, cp);
              break;
            }
          default:
            return j_syntax_at (j, esc, "invalid escape in a string");
          }
      if (simple != 0 && out != NULL)
        g_string_append_c (out, simple);
    }
}

/* Reads a number. Short decimals (every probability in these files) take Clinger's fast path: a
 * mantissa below 2^53 times an exact power of ten up to 1e22 is correctly rounded by a single
 * multiplication or division. Everything else goes to g_ascii_strtod (locale-independent). */
static gboolean
j_number (JReader *j, double *out, gboolean *is_int)
{
  j_peek (j);
  const char *p = j->p, *end = j->end, *start = p;
  gboolean neg = FALSE, integral = TRUE, exact = TRUE;
  uint64_t m = 0;
  int digits = 0; /* significant digits in m */
  long e10 = 0;

  if (p < end && *p == '-')
    neg = TRUE, p++;
  if (p < end && (*p == 'N' || *p == 'I'))
    return j_syntax_at (j, start, "NaN and Infinity are not JSON numbers");
  if (p >= end || !g_ascii_isdigit (*p))
    return j_syntax_at (j, p, p >= end ? "number cut short" : "expected a value");
  if (*p == '0')
    {
      p++;
      if (p < end && g_ascii_isdigit (*p))
        return j_syntax_at (j, p, "a number with a leading zero");
    }
  else
    for (; p < end && g_ascii_isdigit (*p); p++)
      {
        if (digits < 19)
          m = m * 10 + (uint64_t) (*p - '0'), digits++;
        else
          e10++, exact &= *p == '0';
      }
  if (p < end && *p == '.')
    {
      integral = FALSE;
      p++;
      if (p >= end || !g_ascii_isdigit (*p))
        return j_syntax_at (j, p, "a number needs digits after '.'");
      for (; p < end && g_ascii_isdigit (*p); p++)
        {
          if (digits < 19)
            {
              m = m * 10 + (uint64_t) (*p - '0'), e10--;
              digits += m != 0;
            }
          else
            exact &= *p == '0';
        }
    }
  if (p < end && (*p == 'e' || *p == 'E'))
    {
      integral = FALSE;
      p++;
      gboolean eneg = FALSE;
      if (p < end && (*p == '+' || *p == '-'))
        eneg = *p == '-', p++;
      if (p >= end || !g_ascii_isdigit (*p))
        return j_syntax_at (j, p, "a number needs digits in its exponent");
      long ex = 0;
      for (; p < end && g_ascii_isdigit (*p); p++)
        if (ex < 100000)
          ex = ex * 10 + (*p - '0');
      e10 += eneg ? -ex : ex;
    }

  double v;
  if (m == 0)
    v = 0.0;
  else if (exact && m <= ((uint64_t) 1 << 53) && e10 >= -22 && e10 <= 22)
    v = e10 < 0 ? (double) m / pow10_exact[-e10] : (double) m * pow10_exact[e10];
  else
    {
      char buf[128];
      size_t n = (size_t) (p - start);
      g_autofree char *big = n < sizeof buf ? NULL : g_strndup (start, n);
      if (big == NULL)
        {
          memcpy (buf, start, n);
          buf[n] = '\0';
        }
      v = fabs (g_ascii_strtod (big != NULL ? big : buf, NULL));
      if (isinf (v))
        return j_syntax_at (j, start, "a number too large for a double");
    }
  *out = neg ? -v : v;
  if (is_int != NULL)
    *is_int = integral;
  j->p = p;
  return TRUE;
}

static gboolean
j_literal (JReader *j, const char *word)
{
  size_t n = strlen (word), left = (size_t) (j->end - j->p);
  if (left < n && memcmp (j->p, word, left) == 0)
    return j_syntax_at (j, j->end, "a literal cut short");
  if (left < n || memcmp (j->p, word, n) != 0)
    return j_syntax (j, "expected a value");
  j->p += n;
  return TRUE;
}

/* Consumes null if it is next. */
static gboolean
j_is_null (JReader *j)
{
  if (j_peek (j) != 'n')
    return FALSE;
  return j_literal (j, "null");
}

/* Consumes NaN if it is next. Not JSON, but what Python's json.dump writes (by default) for a
 * value a model could not compute, so logitlenskit files carry it: read as unknown, like null. */
static gboolean
j_is_nan (JReader *j)
{
  if (j_peek (j) != 'N')
    return FALSE;
  return j_literal (j, "NaN");
}

static gboolean
j_expect (JReader *j, char c, const char *what)
{
  if (j_peek (j) != (unsigned char) c)
    return j_syntax (j, what);
  j->p++;
  return TRUE;
}

/* Container iteration: `while (j_next (j, ']', &n)) { element n - 1 }`, then check j->failed.
 * The opening bracket must already be consumed. */
static gboolean
j_next (JReader *j, char close, int *count)
{
  int c = j_peek (j);
  if (c == close)
    {
      j->p++;
      return FALSE;
    }
  if (*count > 0)
    {
      if (c != ',')
        return j_syntax (j, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
      j->p++;
      if (j_peek (j) == close)
        return j_syntax (j, "a trailing comma");
    }
  (*count)++;
  return TRUE;
}

/* Reads an object key and the colon after it. */
static gboolean
j_key (JReader *j, GString *key)
{
  if (j_peek (j) != '"')
    return j_syntax (j, "expected a key string");
  return j_string (j, key) && j_expect (j, ':', "expected ':'");
}

static gboolean j_skip (JReader *j, int depth);

static gboolean
j_skip_container (JReader *j, int depth)
{
  gboolean object = *j->p == '{';
  if (depth >= J_MAX_DEPTH)
    return j_syntax (j, "nested more than 64 levels deep");
  j->p++;
  g_autoptr (GHashTable) keys = NULL;
  int n = 0;
  while (j_next (j, object ? '}' : ']', &n))
    {
      if (object)
        {
          const char *at = j->p;
          if (!j_key (j, j->scratch))
            return FALSE;
          if (keys == NULL)
            keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          if (!g_hash_table_add (keys, g_strdup (j->scratch->str)))
            return j_syntax_at (j, at, "a duplicate key in an object");
        }
      if (!j_skip (j, depth + 1))
        return FALSE;
    }
  return !j->failed;
}

/* Validates and skips one value of any kind. */
static gboolean
j_skip (JReader *j, int depth)
{
  switch (j_peek (j))
    {
    case '{':
    case '[':
      return j_skip_container (j, depth);
    case '"':
      return j_string (j, NULL);
    case 't':
      return j_literal (j, "true");
    case 'f':
      return j_literal (j, "false");
    case 'n':
      return j_literal (j, "null");
    case 'N':
      /* Python's json.dump spelling of a value that could not be computed (see j_is_nan);
       * Infinity stays an error: no probability or entropy is infinite */
      return j_literal (j, "NaN");
    case -1:
      return j_syntax (j, "expected a value");
    default:
      {
        double v;
        return j_number (j, &v, NULL);
      }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Typed values with messages naming where they are                                           */

/* `s` quoted and escaped for a message, cut after 40 characters. */
static char *
describe (const char *s)
{
  GString *out = g_string_new ("\"");
  int n = 0;
  for (const char *p = s; *p != '\0' && n < 40; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);
      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", (char) c);
      else if (c < 0x20 || c == 0x7F)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_unichar (out, c);
      if (n == 39 && p[1] != '\0' && *g_utf8_next_char (p) != '\0')
        g_string_append (out, "...");
    }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

/* describe() valid until the next call, for arguments of messages that are usually not made. */
static const char *
describe_tmp (JReader *j, const char *s)
{
  g_free (j->desc);
  j->desc = describe (s);
  return j->desc;
}

static gboolean G_GNUC_PRINTF (3, 4)
    j_type_error (JReader *j, const char *expected, const char *path_fmt, ...)
{
  if (j->failed)
    return FALSE;
  va_list ap;
  va_start (ap, path_fmt);
  g_autofree char *path = g_strdup_vprintf (path_fmt, ap);
  va_end (ap);
  return j_fail (j, "%s is %s, expected %s", path, j_kind (j), expected);
}

/* Reading a number: callers format the path for the message only on failure. */
typedef enum
{
  VAL_OK,
  VAL_TYPE,   /* not a number (or null when not allowed) */
  VAL_RANGE,  /* outside the allowed range */
  VAL_SYNTAX, /* j->failed is set */
} ValStatus;

/* A probability in [0, 1 + PROB_SLACK] (stored clamped to 1); null gives NAN when allowed, and
 * NaN (Python's spelling of a value that could not be computed) always does. */
static ValStatus
j_prob (JReader *j, gboolean allow_null, float *out, double *raw)
{
  int c = j_peek (j);
  if (c == 'n' && allow_null)
    {
      if (!j_literal (j, "null"))
        return VAL_SYNTAX;
      *out = NAN;
      return VAL_OK;
    }
  if (c == 'N')
    {
      if (!j_is_nan (j))
        return VAL_SYNTAX;
      *out = NAN;
      return VAL_OK;
    }
  if (c == 'I' || (c == '-' && j->p + 1 < j->end && j->p[1] == 'I'))
    {
      /* Python's Infinity: named in the message as a number out of range */
      *raw = c == '-' ? -INFINITY : INFINITY;
      j->p += c == '-';
      return j_literal (j, "Infinity") ? VAL_RANGE : VAL_SYNTAX;
    }
  if (c != '-' && !(c >= '0' && c <= '9'))
    return VAL_TYPE;
  if (!j_number (j, raw, NULL))
    return VAL_SYNTAX;
  if (!(*raw >= 0.0 && *raw <= 1.0 + PROB_SLACK))
    return VAL_RANGE;
  *out = *raw > 1.0 ? 1.0f : (float) *raw;
  return VAL_OK;
}

static gboolean G_GNUC_PRINTF (4, 5)
    j_prob_error (JReader *j, ValStatus st, double raw, const char *path_fmt, ...)
{
  if (j->failed || st == VAL_SYNTAX)
    return FALSE;
  va_list ap;
  va_start (ap, path_fmt);
  g_autofree char *path = g_strdup_vprintf (path_fmt, ap);
  va_end (ap);
  if (st == VAL_TYPE)
    return j_fail (j, "%s is %s, not a probability", path, j_kind (j));
  char num[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (num, sizeof num, "%.9g", raw);
  return j_fail (j, "%s is %s, outside [0, 1]", path, num);
}

/* An integer in [lo, hi]. */
static ValStatus
j_int (JReader *j, long lo, long hi, long *out, double *raw)
{
  int c = j_peek (j);
  if (c != '-' && !(c >= '0' && c <= '9'))
    return VAL_TYPE;
  gboolean is_int;
  if (!j_number (j, raw, &is_int))
    return VAL_SYNTAX;
  if (!is_int || *raw < (double) lo || *raw > (double) hi)
    return VAL_RANGE;
  *out = (long) *raw;
  return VAL_OK;
}

static gboolean G_GNUC_PRINTF (6, 7)
    j_int_error (JReader *j, ValStatus st, double raw, long lo, long hi, const char *path_fmt, ...)
{
  if (j->failed || st == VAL_SYNTAX)
    return FALSE;
  va_list ap;
  va_start (ap, path_fmt);
  g_autofree char *path = g_strdup_vprintf (path_fmt, ap);
  va_end (ap);
  if (st == VAL_TYPE)
    return j_fail (j, "%s is %s, expected an integer", path, j_kind (j));
  char num[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (num, sizeof num, "%.17g", raw);
  return j_fail (j, "%s is %s, expected an integer from %ld to %ld", path, num, lo, hi);
}

/* Reads a string or null (NULL); other kinds are an error naming `path`. */
static gboolean
j_opt_string (JReader *j, char **out, const char *path)
{
  *out = NULL;
  if (j_is_null (j))
    return TRUE;
  if (j->failed)
    return FALSE;
  if (j_peek (j) != '"')
    return j_type_error (j, "a string", "%s", path);
  if (!j_string (j, j->scratch))
    return FALSE;
  *out = g_strdup (j->scratch->str);
  return TRUE;
}

/* ------------------------------------------------------------------------------------------ */
/* Building an imported result                                                                 */

/* Top-level members we know, located by the validating first pass. */
typedef struct
{
  const char *format, *version, *model, *prompt, *tokens, *layers, *cells, *targets;
  const char *first_pos; /* "first_position" */
  const char *meta, *input, *tracked, *topk, *entropy;
} Members;

static const struct
{
  const char *key;
  size_t offset;
} member_table[] = {
    {"format", offsetof (Members, format)},   {"version", offsetof (Members, version)},
    {"model", offsetof (Members, model)},     {"prompt", offsetof (Members, prompt)},
    {"tokens", offsetof (Members, tokens)},   {"layers", offsetof (Members, layers)},
    {"cells", offsetof (Members, cells)},     {"targets", offsetof (Members, targets)},
    {"meta", offsetof (Members, meta)},       {"input", offsetof (Members, input)},
    {"tracked", offsetof (Members, tracked)}, {"topk", offsetof (Members, topk)},
    {"entropy", offsetof (Members, entropy)}, {"first_position", offsetof (Members, first_pos)},
};

/* Token strings -> ids of a table local to the result (logitlenskit files have no ids). */
typedef struct
{
  GHashTable *index; /* text (owned by texts) -> GINT_TO_POINTER (id) */
  GPtrArray *texts;  /* id -> text */
} Vocab;

static void
vocab_init (Vocab *v)
{
  v->index = g_hash_table_new (g_str_hash, g_str_equal);
  v->texts = g_ptr_array_new_with_free_func (g_free);
}

static void
vocab_clear (Vocab *v)
{
  g_clear_pointer (&v->index, g_hash_table_unref);
  g_clear_pointer (&v->texts, g_ptr_array_unref);
}

static int32_t
vocab_intern (Vocab *v, const char *s)
{
  gpointer id;
  if (g_hash_table_lookup_extended (v->index, s, NULL, &id))
    return GPOINTER_TO_INT (id);
  char *copy = g_strdup (s);
  int32_t n = (int32_t) v->texts->len;
  g_ptr_array_add (v->texts, copy);
  g_hash_table_insert (v->index, copy, GINT_TO_POINTER (n));
  return n;
}

static void
vocab_move_to (Vocab *v, LensResult *r)
{
  gsize n = 0;
  r->vocab_texts = (char **) g_ptr_array_steal (v->texts, &n);
  r->n_vocab_texts = (int) n;
}

/* Top-k entries gathered cell by cell before K (the longest list) is known. */
typedef struct
{
  int R, T;
  size_t *start; /* (R, T) first entry of the cell */
  int *count;    /* (R, T) */
  GArray *ids;   /* int32_t */
  GArray *probs; /* float */
} TopBuilder;

static void
top_init (TopBuilder *b, int R, int T)
{
  size_t cells = (size_t) R * (size_t) T;
  b->R = R;
  b->T = T;
  b->start = g_new0 (size_t, cells);
  b->count = g_new0 (int, cells);
  b->ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  b->probs = g_array_new (FALSE, FALSE, sizeof (float));
}

static void
top_clear (TopBuilder *b)
{
  g_clear_pointer (&b->start, g_free);
  g_clear_pointer (&b->count, g_free);
  if (b->ids != NULL)
    g_array_unref (b->ids);
  if (b->probs != NULL)
    g_array_unref (b->probs);
  b->ids = b->probs = NULL;
}

static void
top_begin_cell (TopBuilder *b, int row, int pos)
{
  size_t cell = (size_t) row * b->T + pos;
  b->start[cell] = b->ids->len;
  b->count[cell] = 0;
}

static void
top_add (TopBuilder *b, int row, int pos, int32_t id, float prob)
{
  g_array_append_val (b->ids, id);
  g_array_append_val (b->probs, prob);
  b->count[(size_t) row * b->T + pos]++;
}

/* Allocates the result with K = the longest top-k list and copies the entries in. */
static LensResult *
top_finish (TopBuilder *b, JReader *j)
{
  size_t cells = (size_t) b->R * b->T;
  int K = 0;
  for (size_t c = 0; c < cells; c++)
    K = MAX (K, b->count[c]);
  if (K == 0)
    {
      j_fail (j, "no cell has any top-k tokens");
      return NULL;
    }
  if (cells * (size_t) K > LENS_RESULTS_MAX_ENTRIES)
    {
      j_fail (j, "%d layers x %d tokens x top-%d is more than the %zu entries supported", b->R,
              b->T, K, (size_t) LENS_RESULTS_MAX_ENTRIES);
      return NULL;
    }
  LensResult *r = lens_result_new_empty (b->R, b->T, K);
  const int32_t *ids = (const int32_t *) b->ids->data;
  const float *probs = (const float *) b->probs->data;
  for (size_t c = 0; c < cells; c++)
    {
      memcpy (r->top_ids + c * K, ids + b->start[c], (size_t) b->count[c] * sizeof (int32_t));
      memcpy (r->top_probs + c * K, probs + b->start[c], (size_t) b->count[c] * sizeof (float));
    }
  return r;
}

static GHashTable *
tracked_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* Reads an array of `n` probabilities into `out` (NULL: validate only). A wrong count is
 * reported as "PATH has N values, N_WHAT has n". The path is formatted only on failure, since
 * this runs for every trajectory of a large file. */
static gboolean G_GNUC_PRINTF (6, 7)
    j_prob_array (JReader *j, int n, float *out, gboolean allow_null, const char *n_what,
                  const char *path_fmt, ...)
{
  ValStatus st = VAL_OK;
  double raw = 0;
  int count = 0;
  gboolean not_array = j_peek (j) != '[';
  if (!not_array)
    {
      j->p++;
      while (j_next (j, ']', &count))
        {
          float v;
          st = j_prob (j, allow_null, &v, &raw);
          if (st != VAL_OK)
            break;
          if (out != NULL && count <= n)
            out[count - 1] = v;
        }
    }
  if (j->failed || st == VAL_SYNTAX)
    return FALSE;
  if (!not_array && st == VAL_OK && count == n)
    return TRUE;

  va_list ap;
  va_start (ap, path_fmt);
  g_autofree char *path = g_strdup_vprintf (path_fmt, ap);
  va_end (ap);
  if (not_array)
    return j_type_error (j, "an array of probabilities", "%s", path);
  if (st != VAL_OK)
    return j_prob_error (j, st, raw, "%s[%d]", path, count - 1);
  return j_fail (j, "%s has %d values, %s has %d", path, count, n_what, n);
}

/* "layers": block indices; "embed" (ours) or -1 (logitlenskit export) is the embedding row;
 * "L.attn" (ours, when `kinds` is not NULL: it receives each row's LensRowKind) is the residual
 * after block L's attention sub-layer. */
static gboolean
parse_layers (JReader *j, const char *at, GArray *rows, GArray *kinds)
{
  j->p = at;
  if (j_peek (j) != '[')
    return j_type_error (j, "an array of layer indices", "layers");
  j->p++;
  int n = 0;
  while (j_next (j, ']', &n))
    {
      int layer;
      LensRowKind kind = LENS_ROW_OUTPUT;
      if (j_peek (j) == '"')
        {
          if (!j_string (j, j->scratch))
            return FALSE;
          const char *str = j->scratch->str;
          char *end = NULL;
          gint64 attn = -1;
          if (kinds != NULL && g_ascii_isdigit (str[0]))
            attn = g_ascii_strtoll (str, &end, 10);
          if (attn >= 0 && attn <= 1000000 && end != NULL && strcmp (end, ".attn") == 0)
            {
              layer = (int) attn;
              kind = LENS_ROW_ATTN;
            }
          else if (strcmp (str, "embed") == 0)
            layer = LENS_ROW_EMBEDDINGS;
          else
            {
              g_autofree char *d = describe (str);
              return j_fail (j, "layers[%d] is %s, expected a layer index%s or \"embed\"", n - 1, d,
                             kinds != NULL ? ", \"L.attn\"" : "");
            }
        }
      else
        {
          long v;
          double raw = 0;
          ValStatus st = j_int (j, -1, 1000000, &v, &raw);
          if (st != VAL_OK)
            return j_int_error (j, st, raw, -1, 1000000, "layers[%d]", n - 1);
          layer = (int) v;
        }
      if (n > LENS_RESULTS_MAX_ROWS)
        return j_fail (j, "layers has more than %d entries", LENS_RESULTS_MAX_ROWS);
      g_array_append_val (rows, layer);
      if (kinds != NULL)
        g_array_append_val (kinds, kind);
    }
  if (j->failed)
    return FALSE;
  if (n == 0)
    return j_fail (j, "layers is empty");
  return TRUE;
}

/* Token strings ("input" of v2, "tokens" of v1). */
static gboolean
parse_token_strings (JReader *j, const char *at, const char *key, GPtrArray *texts)
{
  j->p = at;
  if (j_peek (j) != '[')
    return j_type_error (j, "an array of token strings", "%s", key);
  j->p++;
  int n = 0;
  while (j_next (j, ']', &n))
    {
      if (j_peek (j) != '"')
        return j_type_error (j, "a string", "%s[%d]", key, n - 1);
      if (!j_string (j, j->scratch))
        return FALSE;
      if (n > LENS_RESULTS_MAX_TOKENS)
        return j_fail (j, "%s has more than %d tokens", key, LENS_RESULTS_MAX_TOKENS);
      g_ptr_array_add (texts, g_strdup (j->scratch->str));
    }
  if (j->failed)
    return FALSE;
  if (n == 0)
    return j_fail (j, "%s is empty", key);
  return TRUE;
}

static gboolean
check_cells_budget (JReader *j, int R, int T)
{
  if ((size_t) R * (size_t) T > LENS_RESULTS_MAX_ENTRIES)
    return j_fail (j, "%d layers x %d tokens is more than the %zu cells supported", R, T,
                   (size_t) LENS_RESULTS_MAX_ENTRIES);
  return TRUE;
}

/* Fills the parts every format shares. Takes the strings of `texts`. kinds: NULL when every row
 * is a block's output. */
static void
fill_rows_and_tokens (LensResult *r, const GArray *rows, const GArray *kinds, GPtrArray *texts)
{
  for (int i = 0; i < r->n_rows; i++)
    {
      int layer = g_array_index (rows, int, i);
      r->row_layers[i] = layer;
      r->row_kinds[i] = kinds != NULL ? g_array_index (kinds, LensRowKind, i) : LENS_ROW_OUTPUT;
      g_free (r->row_labels[i]);
      r->row_labels[i] = lens_row_label (layer, r->row_kinds[i]);
    }
  for (int t = 0; t < r->n_tokens; t++)
    {
      g_free (r->token_texts[t]);
      r->token_texts[t] = g_ptr_array_index (texts, t);
      texts->pdata[t] = NULL;
    }
}

/* "meta" of logitlenskit v2: version (must be 2), timestamp (string), model (string). */
static gboolean
parse_meta (JReader *j, const char *at, int want_version, char **model)
{
  j->p = at;
  if (j_peek (j) != '{')
    return j_type_error (j, "an object", "meta");
  j->p++;
  gboolean have_version = FALSE;
  int n = 0;
  while (j_next (j, '}', &n))
    {
      if (!j_key (j, j->scratch))
        return FALSE;
      if (strcmp (j->scratch->str, "version") == 0)
        {
          long v;
          double raw = 0;
          if (j_peek (j) != '-' && !g_ascii_isdigit (j_peek (j)))
            return j_type_error (j, "a version number", "meta.version");
          ValStatus st = j_int (j, 0, 1000000, &v, &raw);
          if (st == VAL_SYNTAX)
            return FALSE;
          if (st != VAL_OK || v != want_version)
            {
              char num[G_ASCII_DTOSTR_BUF_SIZE];
              g_ascii_formatd (num, sizeof num, "%.17g", raw);
              return j_fail (j,
                             "meta.version is %s, expected %d (logitlenskit widget JSON "
                             "versions 1 and 2 can be read)",
                             num, want_version);
            }
          have_version = TRUE;
        }
      else if (strcmp (j->scratch->str, "timestamp") == 0)
        {
          g_autofree char *ts = NULL;
          if (!j_opt_string (j, &ts, "meta.timestamp"))
            return FALSE;
        }
      else if (strcmp (j->scratch->str, "model") == 0)
        {
          g_clear_pointer (model, g_free);
          if (!j_opt_string (j, model, "meta.model"))
            return FALSE;
        }
      else if (!j_skip (j, 1))
        return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (!have_version)
    return j_fail (j, "meta has no \"version\"");
  return TRUE;
}

/* "tracked" of v2: one object per position, token string -> R probabilities. */
static gboolean
parse_tracked_v2 (JReader *j, const char *at, int R, int T, GHashTable **tracked)
{
  j->p = at;
  if (j_peek (j) != '[')
    return j_type_error (j, "an array with one object per input token", "tracked");
  j->p++;
  int n = 0;
  g_autoptr (GString) key = g_string_new (NULL);
  while (j_next (j, ']', &n))
    {
      int t = n - 1;
      if (t >= T)
        {
          /* Count the rest for the message. */
          if (!j_skip (j, 1))
            return FALSE;
          continue;
        }
      if (j_peek (j) != '{')
        return j_type_error (j, "an object of token -> probabilities", "tracked[%d]", t);
      j->p++;
      GHashTable *table = tracked_table_new ();
      tracked[t] = table;
      int m = 0;
      while (j_next (j, '}', &m))
        {
          const char *key_at = j->p;
          if (!j_key (j, key))
            return FALSE;
          if (g_hash_table_contains (table, key->str))
            return j_syntax_at (j, key_at, "a duplicate key in an object");
          float *probs = g_new (float, R);
          g_hash_table_insert (table, g_strdup (key->str), probs);
          if (!j_prob_array (j, R, probs, FALSE, "layers", "tracked[%d][%s]", t,
                             describe_tmp (j, key->str)))
            return FALSE;
        }
      if (j->failed)
        return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (n != T)
    return j_fail (j, "tracked has %d entries, input has %d tokens", n, T);
  return TRUE;
}

/* Optional "entropy" of v2 exports: [layer][position] in nats, null where unknown. */
static gboolean
parse_entropy_v2 (JReader *j, const char *at, int R, int T, float *entropy)
{
  j->p = at;
  if (j_peek (j) != '[')
    return j_type_error (j, "an array with one array per layer", "entropy");
  j->p++;
  int n = 0;
  while (j_next (j, ']', &n))
    {
      int row = n - 1;
      if (j_peek (j) != '[')
        return j_type_error (j, "an array with one number per input token", "entropy[%d]", row);
      j->p++;
      int m = 0;
      while (j_next (j, ']', &m))
        {
          int t = m - 1;
          if (j_is_null (j) || j_is_nan (j))
            continue;
          if (j->failed)
            return FALSE;
          int c = j_peek (j);
          double v;
          if (c != '-' && !(c >= '0' && c <= '9'))
            return j_type_error (j, "a number", "entropy[%d][%d]", row, t);
          if (!j_number (j, &v, NULL))
            return FALSE;
          if (v < -1e-6)
            return j_fail (j, "entropy[%d][%d] is negative", row, t);
          if (row < R && t < T)
            entropy[(size_t) row * T + t] = v < 0 ? 0.0f : (float) v;
        }
      if (j->failed)
        return FALSE;
      if (m != T)
        return j_fail (j, "entropy[%d] has %d values, input has %d tokens", row, m, T);
    }
  if (j->failed)
    return FALSE;
  if (n != R)
    return j_fail (j, "entropy has %d entries, layers has %d", n, R);
  return TRUE;
}

static gboolean
require (JReader *j, const char *at, const char *key, const char *format)
{
  if (at == NULL)
    return j_fail (j, "there is no \"%s\" (required in %s)", key, format);
  return TRUE;
}

static void
tracked_free (GHashTable **tracked, int T)
{
  if (tracked == NULL)
    return;
  for (int t = 0; t < T; t++)
    g_clear_pointer (&tracked[t], g_hash_table_unref);
  g_free (tracked);
}

static LensResult *
parse_v2 (JReader *j, const Members *m)
{
  const char *fmt = "logitlenskit JSON version 2";
  g_autofree char *model = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GPtrArray) input = g_ptr_array_new_with_free_func (g_free);
  GHashTable **tracked = NULL;
  TopBuilder b = {0};
  Vocab vocab = {0};
  LensResult *r = NULL;
  int R = 0, T = 0;

  if (!parse_meta (j, m->meta, 2, &model))
    goto out;
  if (!require (j, m->layers, "layers", fmt) || !require (j, m->input, "input", fmt)
      || !require (j, m->tracked, "tracked", fmt) || !require (j, m->topk, "topk", fmt))
    goto out;
  if (!parse_layers (j, m->layers, rows, NULL)
      || !parse_token_strings (j, m->input, "input", input))
    goto out;
  R = (int) rows->len;
  T = (int) input->len;
  if (!check_cells_budget (j, R, T))
    goto out;
  tracked = g_new0 (GHashTable *, T);
  if (!parse_tracked_v2 (j, m->tracked, R, T, tracked))
    goto out;

  /* topk[layer][position] -> token strings, best first; probabilities from tracked. */
  top_init (&b, R, T);
  vocab_init (&vocab);
  j->p = m->topk;
  if (j_peek (j) != '[')
    {
      j_type_error (j, "an array with one array per layer", "topk");
      goto out;
    }
  j->p++;
  int n = 0;
  while (j_next (j, ']', &n))
    {
      int row = n - 1;
      if (row >= R)
        {
          if (!j_skip (j, 1))
            goto out;
          continue;
        }
      if (j_peek (j) != '[')
        {
          j_type_error (j, "an array with one list per input token", "topk[%d]", row);
          goto out;
        }
      j->p++;
      int np = 0;
      while (j_next (j, ']', &np))
        {
          int t = np - 1;
          if (t >= T)
            {
              if (!j_skip (j, 1))
                goto out;
              continue;
            }
          if (j_peek (j) != '[')
            {
              j_type_error (j, "a list of token strings", "topk[%d][%d]", row, t);
              goto out;
            }
          j->p++;
          top_begin_cell (&b, row, t);
          int nk = 0;
          while (j_next (j, ']', &nk))
            {
              if (j_peek (j) != '"')
                {
                  j_type_error (j, "a token string", "topk[%d][%d][%d]", row, t, nk - 1);
                  goto out;
                }
              if (!j_string (j, j->scratch))
                goto out;
              const float *traj = g_hash_table_lookup (tracked[t], j->scratch->str);
              if (traj == NULL)
                {
                  g_autofree char *d = describe (j->scratch->str);
                  j_fail (j, "topk[%d][%d][%d] is %s, which is not in tracked[%d]", row, t, nk - 1,
                          d, t);
                  goto out;
                }
              top_add (&b, row, t, vocab_intern (&vocab, j->scratch->str), traj[row]);
            }
          if (j->failed)
            goto out;
        }
      if (j->failed)
        goto out;
      if (np != T)
        {
          j_fail (j, "topk[%d] has %d entries, input has %d tokens", row, np, T);
          goto out;
        }
    }
  if (j->failed)
    goto out;
  if (n != R)
    {
      j_fail (j, "topk has %d entries, layers has %d", n, R);
      goto out;
    }

  r = top_finish (&b, j);
  if (r == NULL)
    goto out;
  if (m->entropy != NULL && !parse_entropy_v2 (j, m->entropy, R, T, r->entropy))
    {
      g_clear_pointer (&r, lens_result_unref);
      goto out;
    }
  fill_rows_and_tokens (r, rows, NULL, input);
  vocab_move_to (&vocab, r);
  r->tracked = tracked;
  tracked = NULL;
  r->model_info.name = g_steal_pointer (&model);

out:
  tracked_free (tracked, T);
  top_clear (&b);
  vocab_clear (&vocab);
  return r;
}

/* Records the trajectory of `token` at position t (v1), or checks it equals the one recorded. */
static gboolean
v1_track (JReader *j, GHashTable *table, const char *token, const float *traj, int R, int t,
          int row, const char *where)
{
  const float *old = g_hash_table_lookup (table, token);
  if (old == NULL)
    {
      g_hash_table_insert (table, g_strdup (token), g_memdup2 (traj, (size_t) R * sizeof (float)));
      return TRUE;
    }
  if (memcmp (old, traj, (size_t) R * sizeof (float)) != 0)
    {
      g_autofree char *d = describe (token);
      return j_fail (j,
                     "cells[%d][%d]%s: the trajectory of %s differs from the one given "
                     "earlier for position %d",
                     t, row, where, d, t);
    }
  return TRUE;
}

/* One v1 top-k entry or cell: {"token", "prob", "trajectory", ...}. `topk` (cells only) is
 * read into `entries` as (token, prob, trajectory) triples. */
typedef struct
{
  char *token;
  float prob;
  gboolean has_traj;
  float *traj; /* (R) */
} V1Entry;

static void
v1_entry_clear (gpointer p)
{
  V1Entry *e = p;
  g_free (e->token);
  g_free (e->traj);
}

static gboolean
parse_v1_object (JReader *j, int R, V1Entry *e, GArray *entries, const char *path)
{
  if (j_peek (j) != '{')
    return j_type_error (j, "an object", "%s", path);
  j->p++;
  gboolean have_prob = FALSE;
  int n = 0;
  g_autoptr (GString) key = g_string_new (NULL);
  while (j_next (j, '}', &n))
    {
      if (!j_key (j, key))
        return FALSE;
      if (strcmp (key->str, "token") == 0)
        {
          if (j_peek (j) != '"')
            return j_type_error (j, "a string", "%s.token", path);
          if (!j_string (j, j->scratch))
            return FALSE;
          g_free (e->token);
          e->token = g_strdup (j->scratch->str);
        }
      else if (strcmp (key->str, "prob") == 0)
        {
          double raw = 0;
          ValStatus st = j_prob (j, FALSE, &e->prob, &raw);
          if (st != VAL_OK)
            return j_prob_error (j, st, raw, "%s.prob", path);
          have_prob = TRUE;
        }
      else if (strcmp (key->str, "trajectory") == 0)
        {
          if (e->traj == NULL)
            e->traj = g_new (float, R);
          if (!j_prob_array (j, R, e->traj, FALSE, "layers", "%s.trajectory", path))
            return FALSE;
          e->has_traj = TRUE;
        }
      else if (entries != NULL && strcmp (key->str, "topk") == 0)
        {
          if (j_peek (j) != '[')
            return j_type_error (j, "an array", "%s.topk", path);
          j->p++;
          int k = 0;
          while (j_next (j, ']', &k))
            {
              V1Entry sub = {0};
              g_autofree char *sub_path = g_strdup_printf ("%s.topk[%d]", path, k - 1);
              gboolean ok = parse_v1_object (j, R, &sub, NULL, sub_path);
              g_array_append_val (entries, sub);
              if (!ok)
                return FALSE;
            }
          if (j->failed)
            return FALSE;
        }
      else if (!j_skip (j, 1))
        return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (e->token == NULL)
    return j_fail (j, "%s has no \"token\"", path);
  if (!have_prob)
    return j_fail (j, "%s has no \"prob\"", path);
  return TRUE;
}

static LensResult *
parse_v1 (JReader *j, const Members *m)
{
  const char *fmt = "logitlenskit JSON version 1";
  g_autofree char *model = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  GHashTable **tracked = NULL;
  TopBuilder b = {0};
  Vocab vocab = {0};
  LensResult *r = NULL;
  int R = 0, T = 0;

  if (m->meta != NULL && !parse_meta (j, m->meta, 1, &model))
    goto out;
  if (!require (j, m->layers, "layers", fmt) || !require (j, m->tokens, "tokens", fmt)
      || !require (j, m->cells, "cells", fmt))
    goto out;
  if (!parse_layers (j, m->layers, rows, NULL)
      || !parse_token_strings (j, m->tokens, "tokens", tokens))
    goto out;
  R = (int) rows->len;
  T = (int) tokens->len;
  if (!check_cells_budget (j, R, T))
    goto out;
  tracked = g_new0 (GHashTable *, T);
  top_init (&b, R, T);
  vocab_init (&vocab);

  /* cells[position][layer] */
  j->p = m->cells;
  if (j_peek (j) != '[')
    {
      j_type_error (j, "an array with one array per input token", "cells");
      goto out;
    }
  j->p++;
  int n = 0;
  while (j_next (j, ']', &n))
    {
      int t = n - 1;
      if (t >= T)
        {
          if (!j_skip (j, 1))
            goto out;
          continue;
        }
      tracked[t] = tracked_table_new ();
      if (j_peek (j) != '[')
        {
          j_type_error (j, "an array with one cell per layer", "cells[%d]", t);
          goto out;
        }
      j->p++;
      int nr = 0;
      while (j_next (j, ']', &nr))
        {
          int row = nr - 1;
          if (row >= R)
            {
              if (!j_skip (j, 1))
                goto out;
              continue;
            }
          g_autofree char *path = g_strdup_printf ("cells[%d][%d]", t, row);
          g_autoptr (GArray) entries = g_array_new (FALSE, TRUE, sizeof (V1Entry));
          g_array_set_clear_func (entries, v1_entry_clear);
          V1Entry cell = {0};
          gboolean ok = parse_v1_object (j, R, &cell, entries, path);
          if (ok && cell.has_traj)
            ok = v1_track (j, tracked[t], cell.token, cell.traj, R, t, row, "");
          top_begin_cell (&b, row, t);
          if (ok && entries->len == 0)
            top_add (&b, row, t, vocab_intern (&vocab, cell.token), cell.prob);
          for (guint k = 0; ok && k < entries->len; k++)
            {
              V1Entry *e = &g_array_index (entries, V1Entry, k);
              if (e->has_traj)
                {
                  g_autofree char *where = g_strdup_printf (".topk[%u]", k);
                  ok = v1_track (j, tracked[t], e->token, e->traj, R, t, row, where);
                }
              if (ok)
                top_add (&b, row, t, vocab_intern (&vocab, e->token), e->prob);
            }
          v1_entry_clear (&cell);
          if (!ok)
            goto out;
        }
      if (j->failed)
        goto out;
      if (nr != R)
        {
          j_fail (j, "cells[%d] has %d entries, layers has %d", t, nr, R);
          goto out;
        }
    }
  if (j->failed)
    goto out;
  if (n != T)
    {
      j_fail (j, "cells has %d entries, tokens has %d", n, T);
      goto out;
    }

  r = top_finish (&b, j);
  if (r == NULL)
    goto out;
  fill_rows_and_tokens (r, rows, NULL, tokens);
  vocab_move_to (&vocab, r);
  r->tracked = tracked;
  tracked = NULL;
  r->model_info.name = g_steal_pointer (&model);

out:
  tracked_free (tracked, T);
  top_clear (&b);
  vocab_clear (&vocab);
  return r;
}

/* ------------------------------------------------------------------------------------------ */
/* Our own format                                                                              */

static gboolean
parse_own_model (JReader *j, const char *at, LensModelInfo *info)
{
  j->p = at;
  if (j_is_null (j))
    return TRUE;
  if (j->failed)
    return FALSE;
  if (j_peek (j) != '{')
    return j_type_error (j, "an object", "model");
  j->p++;
  int n = 0;
  g_autoptr (GString) key = g_string_new (NULL);
  while (j_next (j, '}', &n))
    {
      if (!j_key (j, key))
        return FALSE;
      char **str = NULL;
      int *num = NULL;
      long hi = G_MAXINT;
      if (strcmp (key->str, "name") == 0)
        str = &info->name;
      else if (strcmp (key->str, "path") == 0)
        str = &info->path;
      else if (strcmp (key->str, "architecture") == 0)
        str = &info->architecture;
      else if (strcmp (key->str, "n_layer") == 0)
        num = &info->n_layer;
      else if (strcmp (key->str, "d_model") == 0)
        num = &info->d_model;
      else if (strcmp (key->str, "n_head") == 0)
        num = &info->n_head;
      else if (strcmp (key->str, "vocab_size") == 0)
        num = &info->vocab_size, hi = LENS_RESULTS_MAX_VOCAB;
      else if (strcmp (key->str, "n_kv_head") == 0)
        num = &info->n_kv_head;
      else if (strcmp (key->str, "context_length") == 0)
        num = &info->context_length;
      else if (strcmp (key->str, "dtype") == 0)
        str = &info->dtype;

      g_autofree char *path = g_strdup_printf ("model.%s", key->str);
      if (strcmp (key->str, "n_params") == 0)
        {
          /* Beyond int: read as a double, exact up to 2^53, far above any model. */
          info->n_params = 0;
          if (j_is_null (j))
            continue;
          if (j->failed)
            return FALSE;
          double raw = 0;
          gboolean is_int;
          if (j_peek (j) != '-' && !g_ascii_isdigit (j_peek (j)))
            return j_type_error (j, "an integer", "%s", path);
          if (!j_number (j, &raw, &is_int))
            return FALSE;
          if (!is_int || raw < 0 || raw > LENS_RESULTS_MAX_PARAMS)
            {
              char num_text[G_ASCII_DTOSTR_BUF_SIZE];
              g_ascii_formatd (num_text, sizeof num_text, "%.17g", raw);
              return j_fail (j, "%s is %s, expected an integer from 0 to %.0f", path, num_text,
                             LENS_RESULTS_MAX_PARAMS);
            }
          info->n_params = (int64_t) raw;
        }
      else if (str != NULL)
        {
          g_clear_pointer (str, g_free);
          if (!j_opt_string (j, str, path))
            return FALSE;
        }
      else if (num != NULL)
        {
          *num = 0;
          if (j_is_null (j))
            continue;
          if (j->failed)
            return FALSE;
          long v;
          double raw = 0;
          ValStatus st = j_int (j, 0, hi, &v, &raw);
          if (st != VAL_OK)
            return j_int_error (j, st, raw, 0, hi, "%s", path);
          *num = (int) v;
        }
      else if (!j_skip (j, 1))
        return FALSE;
    }
  return !j->failed;
}

/* "tokens": [{"id": int|null, "text": string}] */
static gboolean
parse_own_tokens (JReader *j, const char *at, GArray *ids, GPtrArray *texts, int vocab_size)
{
  j->p = at;
  if (j_peek (j) != '[')
    return j_type_error (j, "an array of {\"id\", \"text\"} objects", "tokens");
  j->p++;
  int n = 0;
  g_autoptr (GString) key = g_string_new (NULL);
  long id_hi = vocab_size > 0 ? vocab_size - 1 : G_MAXINT32;
  while (j_next (j, ']', &n))
    {
      int t = n - 1;
      if (t >= LENS_RESULTS_MAX_TOKENS)
        return j_fail (j, "tokens has more than %d tokens", LENS_RESULTS_MAX_TOKENS);
      if (j_peek (j) != '{')
        return j_type_error (j, "an object", "tokens[%d]", t);
      j->p++;
      int32_t id = -1;
      char *text = NULL;
      int m = 0;
      while (j_next (j, '}', &m))
        {
          if (!j_key (j, key))
            goto fail;
          if (strcmp (key->str, "id") == 0)
            {
              if (j_is_null (j))
                continue;
              if (j->failed)
                goto fail;
              long v;
              double raw = 0;
              ValStatus st = j_int (j, 0, id_hi, &v, &raw);
              if (st != VAL_OK)
                {
                  j_int_error (j, st, raw, 0, id_hi, "tokens[%d].id", t);
                  goto fail;
                }
              id = (int32_t) v;
            }
          else if (strcmp (key->str, "text") == 0)
            {
              if (j_peek (j) != '"')
                {
                  j_type_error (j, "a string", "tokens[%d].text", t);
                  goto fail;
                }
              if (!j_string (j, j->scratch))
                goto fail;
              g_free (text);
              text = g_strdup (j->scratch->str);
            }
          else if (!j_skip (j, 1))
            goto fail;
        }
      if (j->failed)
        goto fail;
      if (text == NULL)
        {
          j_fail (j, "tokens[%d] has no \"text\"", t);
          goto fail;
        }
      g_array_append_val (ids, id);
      g_ptr_array_add (texts, text);
      continue;
    fail:
      g_free (text);
      return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (n == 0)
    return j_fail (j, "tokens is empty");
  return TRUE;
}

/* Ids of our own format: the model's token ids when the vocabulary size is known, so that a
 * re-saved file keeps them; otherwise texts are interned into a local table. */
typedef struct
{
  int vocab_size; /* > 0: vocab_texts is indexed by real ids */
  char **by_id;   /* (vocab_size) */
  Vocab local;
} OwnVocab;

static gboolean
own_vocab_add (JReader *j, OwnVocab *v, long id, const char *text, int32_t *out, const char *path)
{
  if (v->vocab_size <= 0)
    {
      *out = vocab_intern (&v->local, text);
      return TRUE;
    }
  if (id < 0)
    return j_fail (j, "%s.id is missing or null, but model.vocab_size is given", path);
  if (v->by_id[id] == NULL)
    v->by_id[id] = g_strdup (text);
  else if (strcmp (v->by_id[id], text) != 0)
    {
      g_autofree char *a = describe (text);
      g_autofree char *b = describe (v->by_id[id]);
      return j_fail (j, "%s: token %ld is %s here but %s elsewhere", path, id, a, b);
    }
  *out = (int32_t) id;
  return TRUE;
}

/* A cell's metrics as read: kl_final, next log-probability and rank ((R, T) each, NAN / 0 where
 * absent); `any` is set once a cell has either key. */
typedef struct
{
  float *kl_final;
  float *next_logprob;
  int32_t *next_rank;
  gboolean any;
  const int32_t *token_ids; /* (T) -1 where the file gives none */
  int n_tokens;
  int vocab_size; /* > 0 when known */
} OwnMetrics;

/* A non-negative number (nats; a rounding hair below 0 is read as 0) or null (NAN). */
static gboolean
j_nats (JReader *j, float *out, const char *path, const char *key)
{
  *out = NAN;
  if (j_is_null (j))
    return TRUE;
  if (j->failed)
    return FALSE;
  int c = j_peek (j);
  double x;
  if (c != '-' && !(c >= '0' && c <= '9'))
    return j_type_error (j, "a number", "%s.%s", path, key);
  if (!j_number (j, &x, NULL))
    return FALSE;
  if (x < -1e-6)
    return j_fail (j, "%s.%s is negative", path, key);
  /* checked as stored: a float that rounds above the limit would not read back */
  float f = x < 0 ? 0.0f : (float) x;
  if (!(f <= 1e30f))
    return j_fail (j, "%s.%s is too large", path, key);
  *out = f;
  return TRUE;
}

/* "next": null, or {"id", "prob", "rank", "cross_entropy"} about the token after position t. */
static gboolean
parse_own_next (JReader *j, OwnMetrics *mx, size_t cell, int t, const char *path)
{
  if (j_is_null (j))
    return TRUE;
  if (j->failed)
    return FALSE;
  if (j_peek (j) != '{')
    return j_type_error (j, "an object or null", "%s.next", path);
  if (t + 1 >= mx->n_tokens)
    return j_fail (j, "%s.next is given, but no token follows the last position", path);
  j->p++;
  g_autoptr (GString) key = g_string_new (NULL);
  long id = -1, rank = 0;
  float prob = NAN, xent = NAN;
  int n = 0;
  while (j_next (j, '}', &n))
    {
      if (!j_key (j, key))
        return FALSE;
      double raw = 0;
      if (strcmp (key->str, "id") == 0)
        {
          long hi = mx->vocab_size > 0 ? mx->vocab_size - 1 : G_MAXINT32;
          ValStatus st = j_int (j, 0, hi, &id, &raw);
          if (st != VAL_OK)
            return j_int_error (j, st, raw, 0, hi, "%s.next.id", path);
        }
      else if (strcmp (key->str, "rank") == 0)
        {
          long hi = mx->vocab_size > 0 ? mx->vocab_size : G_MAXINT32;
          ValStatus st = j_int (j, 1, hi, &rank, &raw);
          if (st != VAL_OK)
            return j_int_error (j, st, raw, 1, hi, "%s.next.rank", path);
        }
      else if (strcmp (key->str, "prob") == 0)
        {
          ValStatus st = j_prob (j, FALSE, &prob, &raw);
          if (st != VAL_OK)
            return j_prob_error (j, st, raw, "%s.next.prob", path);
        }
      else if (strcmp (key->str, "cross_entropy") == 0)
        {
          if (!j_nats (j, &xent, path, "next.cross_entropy"))
            return FALSE;
        }
      else if (!j_skip (j, 1))
        return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (id < 0 || rank < 1 || isnan (prob))
    return j_fail (j, "%s.next needs \"id\", \"prob\" and \"rank\"", path);
  int32_t want = mx->token_ids[t + 1];
  if (want < 0)
    return j_fail (j, "%s.next.id is %ld, but the next token (tokens[%d]) has no id", path, id,
                   t + 1);
  if (id != want)
    return j_fail (j, "%s.next.id is %ld, but the next token (tokens[%d]) is %d", path, id, t + 1,
                   want);
  /* both are written from one log-probability: they agree unless the file was edited */
  if (!isnan (xent) && fabs (exp (-(double) xent) - prob) > 1e-4 + 1e-3 * prob)
    return j_fail (j, "%s.next.prob and next.cross_entropy disagree", path);
  mx->next_logprob[cell] = !isnan (xent) ? -xent : logf (prob);
  mx->next_rank[cell] = (int32_t) rank;
  return TRUE;
}

/* One cell: {"top": [{"id", "text", "prob"}], "entropy", "log_z"}, and with metrics "kl_final"
 * and "next" */
static gboolean
parse_own_cell (JReader *j, TopBuilder *b, OwnVocab *v, int row, int t, float *entropy,
                float *log_z, OwnMetrics *mx)
{
  g_autofree char *path = g_strdup_printf ("cells[%d][%d]", row, t);
  if (j_peek (j) != '{')
    return j_type_error (j, "an object", "%s", path);
  j->p++;
  g_autoptr (GString) key = g_string_new (NULL);
  gboolean have_top = FALSE;
  top_begin_cell (b, row, t);
  int n = 0;
  while (j_next (j, '}', &n))
    {
      if (!j_key (j, key))
        return FALSE;
      if (strcmp (key->str, "top") == 0)
        {
          if (have_top)
            return j_fail (j, "%s has \"top\" twice", path);
          have_top = TRUE;
          if (j_peek (j) != '[')
            return j_type_error (j, "an array", "%s.top", path);
          j->p++;
          int k = 0;
          while (j_next (j, ']', &k))
            {
              g_autofree char *epath = g_strdup_printf ("%s.top[%d]", path, k - 1);
              if (j_peek (j) != '{')
                return j_type_error (j, "an object", "%s", epath);
              j->p++;
              long id = -1;
              float prob = NAN;
              gboolean have_prob = FALSE;
              g_autofree char *text = NULL;
              int m = 0;
              while (j_next (j, '}', &m))
                {
                  if (!j_key (j, key))
                    return FALSE;
                  if (strcmp (key->str, "id") == 0)
                    {
                      id = -1;
                      if (j_is_null (j))
                        continue;
                      if (j->failed)
                        return FALSE;
                      double raw = 0;
                      long hi = v->vocab_size > 0 ? v->vocab_size - 1 : G_MAXINT32;
                      ValStatus st = j_int (j, 0, hi, &id, &raw);
                      if (st != VAL_OK)
                        return j_int_error (j, st, raw, 0, hi, "%s.id", epath);
                    }
                  else if (strcmp (key->str, "text") == 0)
                    {
                      if (j_peek (j) != '"')
                        return j_type_error (j, "a string", "%s.text", epath);
                      if (!j_string (j, j->scratch))
                        return FALSE;
                      g_free (text);
                      text = g_strdup (j->scratch->str);
                    }
                  else if (strcmp (key->str, "prob") == 0)
                    {
                      double raw = 0;
                      /* null: the model gave no finite value there (written so by us) */
                      ValStatus st = j_prob (j, TRUE, &prob, &raw);
                      if (st != VAL_OK)
                        return j_prob_error (j, st, raw, "%s.prob", epath);
                      have_prob = TRUE;
                    }
                  else if (!j_skip (j, 1))
                    return FALSE;
                }
              if (j->failed)
                return FALSE;
              if (text == NULL)
                return j_fail (j, "%s has no \"text\"", epath);
              if (!have_prob)
                return j_fail (j, "%s has no \"prob\"", epath);
              int32_t vid = -1;
              if (!own_vocab_add (j, v, id, text, &vid, epath))
                return FALSE;
              top_add (b, row, t, vid, prob);
            }
          if (j->failed)
            return FALSE;
        }
      else if (strcmp (key->str, "entropy") == 0 || strcmp (key->str, "log_z") == 0)
        {
          gboolean is_entropy = key->str[0] == 'e';
          float *dst = is_entropy ? entropy : log_z;
          *dst = NAN;
          if (j_is_null (j) || j_is_nan (j))
            continue;
          if (j->failed)
            return FALSE;
          int c = j_peek (j);
          double x;
          if (c != '-' && !(c >= '0' && c <= '9'))
            return j_type_error (j, "a number", "%s.%s", path, key->str);
          if (!j_number (j, &x, NULL))
            return FALSE;
          if (is_entropy && x < -1e-6)
            return j_fail (j, "%s.entropy is negative", path);
          *dst = is_entropy && x < 0 ? 0.0f : (float) x;
        }
      else if (strcmp (key->str, "kl_final") == 0)
        {
          mx->any = TRUE;
          if (!j_nats (j, &mx->kl_final[(size_t) row * mx->n_tokens + t], path, "kl_final"))
            return FALSE;
        }
      else if (strcmp (key->str, "next") == 0)
        {
          mx->any = TRUE;
          if (!parse_own_next (j, mx, (size_t) row * mx->n_tokens + t, t, path))
            return FALSE;
        }
      else if (!j_skip (j, 1))
        return FALSE;
    }
  if (j->failed)
    return FALSE;
  if (!have_top)
    return j_fail (j, "%s has no \"top\"", path);
  return TRUE;
}

void
lens_file_target_free (LensFileTarget *target)
{
  if (target == NULL)
    return;
  g_free (target->text);
  g_free (target->ids);
  g_free (target);
}

/* "targets": [{"text", "ids", "prob": [[per token] per layer]}] -> tracked + the list. */
static gboolean
parse_own_targets (JReader *j, const char *at, LensResult *r, GPtrArray *list)
{
  int R = r->n_rows, T = r->n_tokens;
  j->p = at;
  if (j_is_null (j))
    return TRUE;
  if (j->failed)
    return FALSE;
  if (j_peek (j) != '[')
    return j_type_error (j, "an array", "targets");
  j->p++;
  g_autoptr (GString) key = g_string_new (NULL);
  g_autofree float *probs = g_new (float, ((size_t) R * T)); /* (R, T) */
  int n = 0;
  while (j_next (j, ']', &n))
    {
      int i = n - 1;
      if (j_peek (j) != '{')
        return j_type_error (j, "an object", "targets[%d]", i);
      j->p++;
      g_autofree char *text = NULL;
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
      gboolean have_prob = FALSE;
      int m = 0;
      while (j_next (j, '}', &m))
        {
          if (!j_key (j, key))
            return FALSE;
          if (strcmp (key->str, "text") == 0)
            {
              if (j_peek (j) != '"')
                return j_type_error (j, "a string", "targets[%d].text", i);
              if (!j_string (j, j->scratch))
                return FALSE;
              g_free (text);
              text = g_strdup (j->scratch->str);
            }
          else if (strcmp (key->str, "ids") == 0)
            {
              if (j_is_null (j))
                continue;
              if (j->failed)
                return FALSE;
              if (j_peek (j) != '[')
                return j_type_error (j, "an array of token ids", "targets[%d].ids", i);
              j->p++;
              g_array_set_size (ids, 0);
              long hi = r->model_info.vocab_size > 0 ? r->model_info.vocab_size - 1 : G_MAXINT32;
              int k = 0;
              while (j_next (j, ']', &k))
                {
                  long v;
                  double raw = 0;
                  ValStatus st = j_int (j, 0, hi, &v, &raw);
                  if (st != VAL_OK)
                    return j_int_error (j, st, raw, 0, hi, "targets[%d].ids[%d]", i, k - 1);
                  if (k > LENS_RESULTS_MAX_TOKENS)
                    return j_fail (j, "targets[%d].ids has more than %d ids", i,
                                   LENS_RESULTS_MAX_TOKENS);
                  int32_t id = (int32_t) v;
                  g_array_append_val (ids, id);
                }
              if (j->failed)
                return FALSE;
            }
          else if (strcmp (key->str, "prob") == 0)
            {
              if (j_peek (j) != '[')
                return j_type_error (j, "an array with one array per layer", "targets[%d].prob", i);
              j->p++;
              int nr = 0;
              while (j_next (j, ']', &nr))
                {
                  int row = nr - 1;
                  if (!j_prob_array (j, T, row < R ? probs + (size_t) row * T : NULL, TRUE,
                                     "tokens", "targets[%d].prob[%d]", i, row))
                    return FALSE;
                }
              if (j->failed)
                return FALSE;
              if (nr != R)
                return j_fail (j, "targets[%d].prob has %d entries, layers has %d", i, nr, R);
              have_prob = TRUE;
            }
          else if (!j_skip (j, 1))
            return FALSE;
        }
      if (j->failed)
        return FALSE;
      if (text == NULL)
        return j_fail (j, "targets[%d] has no \"text\"", i);
      if (!have_prob)
        return j_fail (j, "targets[%d] has no \"prob\"", i);
      /* The same text twice tracks the same token: keep the first. */
      if (g_hash_table_contains (r->tracked[0], text))
        continue;
      for (int t = 0; t < T; t++)
        {
          float *traj = g_new (float, R);
          for (int row = 0; row < R; row++)
            traj[row] = probs[(size_t) row * T + t];
          g_hash_table_insert (r->tracked[t], g_strdup (text), traj);
        }
      LensFileTarget *ft = g_new0 (LensFileTarget, 1);
      ft->text = g_steal_pointer (&text);
      ft->n_ids = (int) ids->len;
      ft->ids = ft->n_ids > 0 ? (int32_t *) g_array_free (g_steal_pointer (&ids), FALSE) : NULL;
      g_ptr_array_add (list, ft);
    }
  return !j->failed;
}

static LensResult *
parse_own (JReader *j, const Members *m, GPtrArray *target_names)
{
  const char *fmt = "logit-lens-results";
  LensModelInfo info = {0};
  g_autofree char *prompt = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) kinds = g_array_new (FALSE, FALSE, sizeof (LensRowKind));
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  TopBuilder b = {0};
  OwnVocab v = {0};
  float *entropy = NULL, *log_z = NULL;
  OwnMetrics mx = {0};
  LensResult *r = NULL;
  int R = 0, T = 0;

  if (m->version != NULL)
    {
      j->p = m->version;
      long ver;
      double raw = 0;
      ValStatus st = j_int (j, 0, G_MAXINT, &ver, &raw);
      if (st != VAL_OK)
        {
          j_int_error (j, st, raw, 0, G_MAXINT, "version");
          goto out;
        }
      if (ver != LENS_RESULTS_FORMAT_VERSION)
        {
          j_fail (j,
                  "version %ld of the logit-lens-results format is not supported (this "
                  "program reads version %d)",
                  ver, LENS_RESULTS_FORMAT_VERSION);
          goto out;
        }
    }
  if (!require (j, m->tokens, "tokens", fmt) || !require (j, m->layers, "layers", fmt)
      || !require (j, m->cells, "cells", fmt))
    goto out;
  if (m->model != NULL && !parse_own_model (j, m->model, &info))
    goto out;
  if (m->prompt != NULL)
    {
      j->p = m->prompt;
      if (!j_opt_string (j, &prompt, "prompt"))
        goto out;
    }
  if (!parse_own_tokens (j, m->tokens, ids, texts, info.vocab_size)
      || !parse_layers (j, m->layers, rows, kinds))
    goto out;
  R = (int) rows->len;
  T = (int) texts->len;
  if (!check_cells_budget (j, R, T))
    goto out;
  /* a range of a longer prompt (--positions): the prompt's number of its first token */
  long first_pos = 0;
  if (m->first_pos != NULL)
    {
      j->p = m->first_pos;
      double raw = 0;
      ValStatus st = j_int (j, 0, G_MAXINT - T, &first_pos, &raw);
      if (st != VAL_OK)
        {
          j_int_error (j, st, raw, 0, G_MAXINT - T, "first_position");
          goto out;
        }
    }

  v.vocab_size = info.vocab_size;
  if (v.vocab_size > 0)
    v.by_id = g_new0 (char *, v.vocab_size);
  else
    vocab_init (&v.local);
  top_init (&b, R, T);
  entropy = g_new (float, ((size_t) R * T));
  log_z = g_new (float, ((size_t) R * T));
  for (size_t c = 0; c < (size_t) R * T; c++)
    entropy[c] = log_z[c] = NAN;
  mx.kl_final = g_new (float, ((size_t) R * T));
  mx.next_logprob = g_new (float, ((size_t) R * T));
  mx.next_rank = g_new0 (int32_t, ((size_t) R * T));
  for (size_t c = 0; c < (size_t) R * T; c++)
    mx.kl_final[c] = mx.next_logprob[c] = NAN;
  mx.token_ids = (const int32_t *) ids->data;
  mx.n_tokens = T;
  mx.vocab_size = info.vocab_size;

  /* cells[layer][token] */
  j->p = m->cells;
  if (j_peek (j) != '[')
    {
      j_type_error (j, "an array with one array per layer", "cells");
      goto out;
    }
  j->p++;
  int n = 0;
  while (j_next (j, ']', &n))
    {
      int row = n - 1;
      if (row >= R)
        {
          if (!j_skip (j, 1))
            goto out;
          continue;
        }
      if (j_peek (j) != '[')
        {
          j_type_error (j, "an array with one cell per token", "cells[%d]", row);
          goto out;
        }
      j->p++;
      int nt = 0;
      while (j_next (j, ']', &nt))
        {
          int t = nt - 1;
          if (t >= T)
            {
              if (!j_skip (j, 1))
                goto out;
              continue;
            }
          size_t c = (size_t) row * T + t;
          if (!parse_own_cell (j, &b, &v, row, t, entropy + c, log_z + c, &mx))
            goto out;
        }
      if (j->failed)
        goto out;
      if (nt != T)
        {
          j_fail (j, "cells[%d] has %d entries, tokens has %d", row, nt, T);
          goto out;
        }
    }
  if (j->failed)
    goto out;
  if (n != R)
    {
      j_fail (j, "cells has %d entries, layers has %d", n, R);
      goto out;
    }

  r = top_finish (&b, j);
  if (r == NULL)
    goto out;
  fill_rows_and_tokens (r, rows, kinds, texts);
  r->first_pos = (int) first_pos;
  memcpy (r->token_ids, ids->data, (size_t) T * sizeof (int32_t));
  memcpy (r->entropy, entropy, (size_t) R * T * sizeof (float));
  memcpy (r->log_z, log_z, (size_t) R * T * sizeof (float));
  if (mx.any)
    {
      r->kl_final = g_steal_pointer (&mx.kl_final);
      r->next_logprob = g_steal_pointer (&mx.next_logprob);
      r->next_rank = g_steal_pointer (&mx.next_rank);
    }
  r->model_info = info;
  memset (&info, 0, sizeof info);
  r->tracked = g_new0 (GHashTable *, T);
  for (int t = 0; t < T; t++)
    r->tracked[t] = tracked_table_new ();
  if (m->targets != NULL && !parse_own_targets (j, m->targets, r, target_names))
    {
      g_clear_pointer (&r, lens_result_unref);
      goto out;
    }
  if (v.vocab_size > 0)
    {
      r->vocab_texts = g_steal_pointer (&v.by_id);
      r->n_vocab_texts = v.vocab_size;
    }
  else
    vocab_move_to (&v.local, r);
  r->prompt = g_steal_pointer (&prompt);
  if (r->model_info.name == NULL && r->model_info.path != NULL)
    r->model_info.name = g_path_get_basename (r->model_info.path);

out:
  g_free (info.name);
  g_free (info.path);
  g_free (info.architecture);
  g_free (info.dtype);
  if (v.by_id != NULL)
    {
      for (int i = 0; i < v.vocab_size; i++)
        g_free (v.by_id[i]);
      g_free (v.by_id);
    }
  vocab_clear (&v.local);
  top_clear (&b);
  g_free (entropy);
  g_free (log_z);
  g_free (mx.kl_final);
  g_free (mx.next_logprob);
  g_free (mx.next_rank);
  return r;
}

/* ------------------------------------------------------------------------------------------ */
/* Writing                                                                                     */

/* A JSON string; bytes that are not valid UTF-8 (never produced by the tokenizer's display
 * form, but an imported text could be anything) become U+FFFD rather than invalid JSON. */
static void
json_string (GString *out, const char *s)
{
  if (s == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append_c (out, '"');
  const char *p = s;
  for (;;)
    {
      const char *run = p;
      while ((unsigned char) *p >= 0x20 && (unsigned char) *p < 0x80 && *p != '"' && *p != '\\')
        p++;
      g_string_append_len (out, run, p - run);
      unsigned char c = (unsigned char) *p;
      if (c == '\0')
        break;
      if (c == '"' || c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) c);
          p++;
        }
      else if (c < 0x20)
        {
          switch (c)
            {
            case '\n':
              g_string_append (out, "\\n");
              break;
            case '\r':
              g_string_append (out, "\\r");
              break;
            case '\t':
              g_string_append (out, "\\t");
              break;
            case '\b':
              g_string_append (out, "\\b");
              break;
            case '\f':
              g_string_append (out, "\\f");
              break;
            default:
              g_string_append_printf (out, "\\u%04x", c);
              break;
            }
          p++;
        }
      else
        {
          /* The NUL terminator stops the continuation check before any read past the end. */
          int n = utf8_sequence ((const unsigned char *) p, (const unsigned char *) p + 4);
          if (n == 0)
            {
              g_string_append (out, "\xEF\xBF\xBD");
              p++;
            }
          else
            {
              g_string_append_len (out, p, n);
              p += n;
            }
        }
    }
  g_string_append_c (out, '"');
}

/* %.9g round-trips a float exactly; NAN/inf (unknown) is null. */
static void
json_float (GString *out, double v)
{
  if (!isfinite (v))
    {
      g_string_append (out, "null");
      return;
    }
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.9g", v));
}

static void
json_int_or_null (GString *out, int64_t v, gboolean known)
{
  if (known)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, v);
  else
    g_string_append (out, "null");
}

/* round(v, 5) as Python does it (correctly rounded from the exact binary value, ties to even),
 * printed without trailing zeros. v * 1e5 is within 1e-10 of the exact product for the values
 * written here, so only near-ties need printf's exact decimal conversion. */
static void
json_round5 (GString *out, double v)
{
  if (!isfinite (v))
    {
      g_string_append (out, "null");
      return;
    }
  char buf[64];
  double x = v * 1e5, f = floor (x);
  if (v >= 0.0 && v < 1e3 && fabs (x - f - 0.5) > 1e-6)
    {
      /* Digits by hand: this runs for every value of a large export. */
      long n = (long) f + (x - f > 0.5), ip = n / 100000, fp = n % 100000;
      char *q = buf;
      if (ip >= 100)
        *q++ = (char) ('0' + ip / 100);
      if (ip >= 10)
        *q++ = (char) ('0' + ip / 10 % 10);
      *q++ = (char) ('0' + ip % 10);
      *q++ = '.';
      for (long d = 10000; d > 0; d /= 10)
        *q++ = (char) ('0' + fp / d % 10);
      *q = '\0';
    }
  else
    g_ascii_formatd (buf, sizeof buf, "%.5f", v);
  size_t len = strlen (buf);
  char *dot = strchr (buf, '.');
  if (dot != NULL)
    {
      while (len > (size_t) (dot - buf) + 2 && buf[len - 1] == '0')
        len--;
    }
  g_string_append_len (out, buf, len);
}

static void
json_key (GString *out, const char *key, gboolean pretty)
{
  json_string (out, key);
  g_string_append (out, pretty ? ": " : ":");
}

/* Model description of a result, from model_info or (live results) the model itself. */
typedef struct
{
  const char *name, *path, *architecture, *dtype;
  int n_layer, d_model, n_head, vocab_size, n_kv_head, context_length;
  int64_t n_params;
} ModelDesc;

static void
model_desc (const LensResult *r, ModelDesc *d)
{
  const LensModelInfo *mi = &r->model_info;
  *d = (ModelDesc){
      .name = mi->name,
      .path = mi->path,
      .architecture = mi->architecture,
      .dtype = mi->dtype,
      .n_layer = mi->n_layer,
      .d_model = mi->d_model,
      .n_head = mi->n_head,
      .vocab_size = mi->vocab_size,
      .n_kv_head = mi->n_kv_head,
      .context_length = mi->context_length,
      .n_params = mi->n_params,
  };
  if (r->model != NULL)
    {
      const LensConfig *c = lens_model_config (r->model);
      if (d->name == NULL)
        d->name = lens_model_name (r->model);
      if (d->path == NULL)
        d->path = lens_model_path (r->model);
      if (d->architecture == NULL)
        d->architecture = lens_config_architecture (c);
      if (d->n_layer <= 0)
        d->n_layer = c->n_layer;
      if (d->d_model <= 0)
        d->d_model = c->n_embd;
      if (d->n_head <= 0)
        d->n_head = c->n_head;
      if (d->vocab_size <= 0)
        d->vocab_size = c->vocab_size;
      if (d->n_kv_head <= 0)
        d->n_kv_head = c->n_kv_head;
      if (d->context_length <= 0)
        d->context_length = c->n_positions;
      if (d->n_params <= 0)
        d->n_params = (int64_t) lens_model_n_params (r->model);
      if (d->dtype == NULL && lens_model_dtype (r->model)[0] != '\0')
        d->dtype = lens_model_dtype (r->model);
    }
}

/* A cell's metrics: "kl_final", then "next": {"id", "prob", "rank", "cross_entropy"}, null at the
 * last position (no token follows) or where unknown. */
static void
append_cell_metrics (GString *o, const LensResult *r, int row, int t, const char *comma,
                     gboolean pretty)
{
  g_string_append (o, comma);
  json_key (o, "kl_final", pretty);
  json_float (o, lens_result_kl_final (r, row, t));
  g_string_append (o, comma);
  json_key (o, "next", pretty);
  /* every "next" is about a token of the document: the last position of a range (whose next
   * token was left out) is null too */
  int32_t id = t + 1 < r->n_tokens ? lens_result_next_id (r, t) : -1;
  int rank = lens_result_next_rank (r, row, t);
  float xent = lens_result_next_cross_entropy (r, row, t);
  if (id < 0 || rank < 1 || isnan (xent))
    {
      g_string_append (o, "null");
      return;
    }
  g_string_append_c (o, '{');
  json_key (o, "id", pretty);
  g_string_append_printf (o, "%d", id);
  g_string_append (o, comma);
  json_key (o, "prob", pretty);
  /* what the reader accepts, whatever the result holds: a probability, a cross-entropy >= 0 */
  xent = xent < 0.0f ? 0.0f : xent;
  json_float (o, exp (-(double) xent));
  g_string_append (o, comma);
  json_key (o, "rank", pretty);
  g_string_append_printf (o, "%d", rank);
  g_string_append (o, comma);
  json_key (o, "cross_entropy", pretty);
  json_float (o, xent);
  g_string_append_c (o, '}');
}

char *
lens_result_to_json (const LensResult *r, const LensJsonTarget *targets, int n_targets,
                     gboolean pretty)
{
  g_return_val_if_fail (r != NULL, NULL);
  g_return_val_if_fail (n_targets == 0 || targets != NULL, NULL);

  int R = r->n_rows, T = r->n_tokens, K = r->top_k;
  const char *comma = pretty ? ", " : ",";
  const char *nl = pretty ? "\n" : "";
  const char *in1 = pretty ? "  " : "", *in2 = pretty ? "    " : "", *in3 = pretty ? "      " : "";
  ModelDesc md;
  model_desc (r, &md);
  /* Ids are the model's own when there is a model or the file gave a vocabulary; otherwise they
   * index a table made up while importing, meaningless outside this process. */
  gboolean real_ids = r->model != NULL || md.vocab_size > 0;

  GString *o = g_string_sized_new (256 + (size_t) R * T * (40 + (size_t) K * 48));
  g_string_append_printf (o, "{%s%s", nl, in1);
  json_key (o, "format", pretty);
  json_string (o, LENS_RESULTS_FORMAT_NAME);
  g_string_append_printf (o, ",%s%s", nl, in1);
  json_key (o, "version", pretty);
  g_string_append_printf (o, "%d,%s%s", LENS_RESULTS_FORMAT_VERSION, nl, in1);

  json_key (o, "model", pretty);
  g_string_append_c (o, '{');
  json_key (o, "path", pretty);
  json_string (o, md.path);
  g_string_append (o, comma);
  json_key (o, "architecture", pretty);
  json_string (o, md.architecture);
  g_string_append (o, comma);
  json_key (o, "n_layer", pretty);
  json_int_or_null (o, md.n_layer, md.n_layer > 0);
  g_string_append (o, comma);
  json_key (o, "d_model", pretty);
  json_int_or_null (o, md.d_model, md.d_model > 0);
  g_string_append (o, comma);
  json_key (o, "n_head", pretty);
  json_int_or_null (o, md.n_head, md.n_head > 0);
  g_string_append (o, comma);
  json_key (o, "vocab_size", pretty);
  json_int_or_null (o, md.vocab_size, md.vocab_size > 0);
  g_string_append (o, comma);
  json_key (o, "name", pretty);
  json_string (o, md.name);
  /* Added after the first release: new keys go last, older readers skip them. */
  g_string_append (o, comma);
  json_key (o, "n_kv_head", pretty);
  json_int_or_null (o, md.n_kv_head, md.n_kv_head > 0);
  g_string_append (o, comma);
  json_key (o, "context_length", pretty);
  json_int_or_null (o, md.context_length, md.context_length > 0);
  g_string_append (o, comma);
  json_key (o, "n_params", pretty);
  json_int_or_null (o, md.n_params, md.n_params > 0);
  g_string_append (o, comma);
  json_key (o, "dtype", pretty);
  json_string (o, md.dtype);
  g_string_append_printf (o, "},%s%s", nl, in1);

  json_key (o, "prompt", pretty);
  json_string (o, r->prompt);
  g_string_append_printf (o, ",%s%s", nl, in1);

  json_key (o, "tokens", pretty);
  g_string_append_printf (o, "[%s", nl);
  for (int t = 0; t < T; t++)
    {
      g_string_append_printf (o, "%s{", in2);
      json_key (o, "id", pretty);
      json_int_or_null (o, r->token_ids[t], r->token_ids[t] >= 0);
      g_string_append (o, comma);
      json_key (o, "text", pretty);
      json_string (o, r->token_texts[t]);
      g_string_append_printf (o, "}%s%s", t + 1 < T ? "," : "", nl);
    }
  g_string_append_printf (o, "%s],%s%s", in1, nl, in1);

  json_key (o, "layers", pretty);
  g_string_append_c (o, '[');
  for (int row = 0; row < R; row++)
    {
      if (row > 0)
        g_string_append (o, comma);
      if (r->row_layers[row] == LENS_ROW_EMBEDDINGS)
        json_string (o, "embed");
      else if (r->row_kinds[row] == LENS_ROW_ATTN)
        {
          g_autofree char *label = lens_row_label (r->row_layers[row], LENS_ROW_ATTN);
          json_string (o, label);
        }
      else
        g_string_append_printf (o, "%d", r->row_layers[row]);
    }
  g_string_append_printf (o, "],%s%s", nl, in1);

  /* cells[layer][token] = {"top": [{"id", "text", "prob"}], "entropy", "log_z"} */
  json_key (o, "cells", pretty);
  g_string_append_printf (o, "[%s", nl);
  for (int row = 0; row < R; row++)
    {
      g_string_append_printf (o, "%s[%s", in2, nl);
      for (int t = 0; t < T; t++)
        {
          size_t cell = lens_result_cell_index (r, row, t);
          g_string_append_printf (o, "%s{", in3);
          json_key (o, "top", pretty);
          g_string_append_c (o, '[');
          gboolean first = TRUE;
          for (int k = 0; k < K; k++)
            {
              int32_t id = r->top_ids[cell * K + k];
              if (id < 0)
                continue;
              if (!first)
                g_string_append (o, comma);
              first = FALSE;
              g_string_append_c (o, '{');
              json_key (o, "id", pretty);
              json_int_or_null (o, id, real_ids);
              g_string_append (o, comma);
              json_key (o, "text", pretty);
              json_string (o, lens_result_token_text (r, id));
              g_string_append (o, comma);
              json_key (o, "prob", pretty);
              json_float (o, r->top_probs[cell * K + k]);
              g_string_append_c (o, '}');
            }
          g_string_append_printf (o, "]%s", comma);
          json_key (o, "entropy", pretty);
          json_float (o, r->entropy[cell]);
          g_string_append (o, comma);
          json_key (o, "log_z", pretty);
          json_float (o, r->log_z[cell]);
          if (lens_result_has_metrics (r))
            append_cell_metrics (o, r, row, t, comma, pretty);
          g_string_append_printf (o, "}%s%s", t + 1 < T ? "," : "", nl);
        }
      g_string_append_printf (o, "%s]%s%s", in2, row + 1 < R ? "," : "", nl);
    }
  g_string_append_printf (o, "%s],%s%s", in1, nl, in1);

  json_key (o, "targets", pretty);
  g_string_append_printf (o, "[%s", n_targets > 0 ? nl : "");
  for (int i = 0; i < n_targets; i++)
    {
      const LensJsonTarget *tg = &targets[i];
      g_string_append_printf (o, "%s{", in2);
      json_key (o, "text", pretty);
      json_string (o, tg->text);
      g_string_append (o, comma);
      json_key (o, "ids", pretty);
      g_string_append_c (o, '[');
      for (int k = 0; k < tg->n_ids; k++)
        g_string_append_printf (o, "%s%d", k > 0 ? comma : "", tg->ids[k]);
      g_string_append_printf (o, "]%s", comma);
      json_key (o, "prob", pretty);
      g_string_append_c (o, '[');
      for (int row = 0; row < R; row++)
        {
          g_string_append_printf (o, "%s[", row > 0 ? comma : "");
          for (int t = 0; t < T; t++)
            {
              if (t > 0)
                g_string_append (o, comma);
              json_float (o, tg->probs[lens_result_cell_index (r, row, t)]);
            }
          g_string_append_c (o, ']');
        }
      g_string_append_printf (o, "]}%s%s", i + 1 < n_targets ? "," : "", nl);
    }
  /* Added later, so last: positions keep the prompt's numbers in a range of it. */
  g_string_append_printf (o, "%s],%s%s", n_targets > 0 ? in1 : "", nl, in1);
  json_key (o, "first_position", pretty);
  g_string_append_printf (o, "%d%s}%s", r->first_pos, nl, pretty ? "\n" : "");
  return g_string_free (o, FALSE);
}

/* One position's tracked tokens for the logitlenskit export: texts in order of first appearance
 * and their probability at every row. */
typedef struct
{
  GHashTable *index; /* text (borrowed) -> GINT_TO_POINTER (i + 1) */
  GPtrArray *texts;  /* borrowed const char * */
  GArray *ids;       /* int32_t, live results: the token id of each text */
  GArray *traj;      /* float (n, R) */
} Tracked;

static void
tracked_list_clear (Tracked *tl)
{
  g_clear_pointer (&tl->index, g_hash_table_unref);
  g_clear_pointer (&tl->texts, g_ptr_array_unref);
  if (tl->ids != NULL)
    g_array_unref (tl->ids);
  if (tl->traj != NULL)
    g_array_unref (tl->traj);
  tl->ids = tl->traj = NULL;
}

/* Adds `text` unless present; returns its index. */
static int
tracked_list_add (Tracked *tl, const char *text, int32_t id, int R)
{
  gpointer v = g_hash_table_lookup (tl->index, text);
  if (v != NULL)
    return GPOINTER_TO_INT (v) - 1;
  int i = (int) tl->texts->len;
  g_ptr_array_add (tl->texts, (gpointer) text);
  g_array_append_val (tl->ids, id);
  g_array_set_size (tl->traj, (guint) (i + 1) * R);
  g_hash_table_insert (tl->index, (gpointer) text, GINT_TO_POINTER (i + 1));
  return i;
}

/* Probabilities of the ids tracked at position t at every row, from the cached normalised
 * residuals: logits (R, n) = head(X_t (R, C)) at the n ids, then exp (logit - log_z). One small
 * GEMM per position costs R * n * C, where one lens_result_target_probs per id would cost R * T *
 * C. */
static void
live_trajectories (const LensResult *r, int t, Tracked *tl)
{
  int R = r->n_rows, T = r->n_tokens, C = r->d_model, n = (int) tl->texts->len;
  g_autofree float *logits = g_new (float, ((size_t) R * n)); /* (R, n) */
  /* Row `row` of X_t is norm_resid[row, t, :]: stride T * C. logits = head(X_t) at the ids */
  lens_head_logits_of_ids (r->model, r->norm_resid + (size_t) t * C, R, T * C,
                           (const int32_t *) tl->ids->data, n, logits);
  float *traj = (float *) tl->traj->data;
  for (int row = 0; row < R; row++)
    {
      double lz = r->log_z[lens_result_cell_index (r, row, t)];
      for (int i = 0; i < n; i++)
        traj[(size_t) i * R + row] = (float) exp ((double) logits[(size_t) row * n + i] - lz);
    }
}

char *
lens_result_to_logitlenskit_json (const LensResult *r, const LensJsonTarget *targets, int n_targets,
                                  GError **error)
{
  g_return_val_if_fail (r != NULL, NULL);
  g_return_val_if_fail (n_targets == 0 || targets != NULL, NULL);

  int R = r->n_rows, T = r->n_tokens, K = r->top_k;
  for (int row = 0; row < R; row++)
    if (r->row_kinds[row] != LENS_ROW_OUTPUT)
      {
        g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                     "logitlenskit's format has one row per layer, so the sub-layer row %s cannot "
                     "be exported to it; run the lens without sub-layer rows, or save in this "
                     "app's own format, which keeps them",
                     r->row_labels[row]);
        return NULL;
      }
  gboolean live = lens_result_has_model (r);
  ModelDesc md;
  model_desc (r, &md);

  GString *o = g_string_sized_new (256 + (size_t) R * T * (size_t) K * 64);
  g_string_append (o, "{\"meta\": {\"version\": 2, \"timestamp\": ");
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format_iso8601 (now);
  json_string (o, stamp);
  if (md.name != NULL || md.path != NULL)
    {
      g_string_append (o, ", \"model\": ");
      json_string (o, md.name != NULL ? md.name : md.path);
    }
  g_string_append (o, "}, \"input\": [");
  for (int t = 0; t < T; t++)
    {
      if (t > 0)
        g_string_append (o, ", ");
      json_string (o, r->token_texts[t]);
    }
  g_string_append (o, "], \"layers\": [");
  for (int row = 0; row < R; row++)
    g_string_append_printf (o, "%s%d", row > 0 ? ", " : "",
                            r->row_layers[row] == LENS_ROW_EMBEDDINGS ? -1 : r->row_layers[row]);

  g_string_append (o, "], \"topk\": [");
  for (int row = 0; row < R; row++)
    {
      g_string_append (o, row > 0 ? ", [" : "[");
      for (int t = 0; t < T; t++)
        {
          g_string_append (o, t > 0 ? ", [" : "[");
          size_t cell = lens_result_cell_index (r, row, t);
          gboolean first = TRUE;
          for (int k = 0; k < K; k++)
            {
              int32_t id = r->top_ids[cell * K + k];
              if (id < 0)
                continue;
              if (!first)
                g_string_append (o, ", ");
              first = FALSE;
              json_string (o, lens_result_token_text (r, id));
            }
          g_string_append_c (o, ']');
        }
      g_string_append_c (o, ']');
    }

  g_string_append (o, "], \"tracked\": [");
  for (int t = 0; t < T; t++)
    {
      Tracked tl = {
          .index = g_hash_table_new (g_str_hash, g_str_equal),
          .texts = g_ptr_array_new (),
          .ids = g_array_new (FALSE, FALSE, sizeof (int32_t)),
          .traj = g_array_new (FALSE, FALSE, sizeof (float)),
      };
      for (int row = 0; row < R; row++)
        {
          size_t cell = lens_result_cell_index (r, row, t);
          for (int k = 0; k < K; k++)
            {
              int32_t id = r->top_ids[cell * K + k];
              if (id >= 0)
                tracked_list_add (&tl, lens_result_token_text (r, id), id, R);
            }
        }
      int n_top = (int) tl.texts->len;
      if (live && n_top > 0)
        live_trajectories (r, t, &tl);
      for (int i = 0; !live && i < n_top; i++)
        {
          const char *text = g_ptr_array_index (tl.texts, i);
          const float *traj = r->tracked != NULL && r->tracked[t] != NULL
                                  ? g_hash_table_lookup (r->tracked[t], text)
                                  : NULL;
          if (traj == NULL)
            {
              g_autofree char *d = describe (text);
              g_set_error (error, LENS_ERROR, LENS_ERROR_INPUT,
                           "Cannot write logitlenskit JSON: the probability of %s at token %d "
                           "is only known where it is in the top-k (these results were opened "
                           "from a file without it); open the model and run the prompt again",
                           d, t);
              tracked_list_clear (&tl);
              g_string_free (o, TRUE);
              return NULL;
            }
          memcpy (&g_array_index (tl.traj, float, ((size_t) i * R)), traj,
                  (size_t) R * sizeof (float));
        }
      for (int i = 0; i < n_targets; i++)
        {
          if (targets[i].text == NULL || g_hash_table_contains (tl.index, targets[i].text))
            continue;
          /* An imported file may track a target at some positions only; logitlenskit has no
           * way to say "unknown", so the target is left out where nothing is known. */
          gboolean known = FALSE;
          for (int row = 0; row < R && !known; row++)
            known = !isnan (targets[i].probs[lens_result_cell_index (r, row, t)]);
          if (!known)
            continue;
          int at = tracked_list_add (&tl, targets[i].text, -1, R);
          for (int row = 0; row < R; row++)
            g_array_index (tl.traj, float, ((size_t) at * R + row))
                = targets[i].probs[lens_result_cell_index (r, row, t)];
        }

      g_string_append (o, t > 0 ? ", {" : "{");
      for (guint i = 0; i < tl.texts->len; i++)
        {
          if (i > 0)
            g_string_append (o, ", ");
          json_string (o, g_ptr_array_index (tl.texts, i));
          g_string_append (o, ": [");
          const float *traj = &g_array_index (tl.traj, float, ((size_t) i * R));
          for (int row = 0; row < R; row++)
            {
              if (row > 0)
                g_string_append (o, ", ");
              json_round5 (o, traj[row]);
            }
          g_string_append_c (o, ']');
        }
      g_string_append_c (o, '}');
      tracked_list_clear (&tl);
    }
  g_string_append_c (o, ']');

  gboolean any_entropy = FALSE;
  for (size_t c = 0; c < (size_t) R * T && !any_entropy; c++)
    any_entropy = !isnan (r->entropy[c]);
  if (any_entropy)
    {
      g_string_append (o, ", \"entropy\": [");
      for (int row = 0; row < R; row++)
        {
          g_string_append (o, row > 0 ? ", [" : "[");
          for (int t = 0; t < T; t++)
            {
              if (t > 0)
                g_string_append (o, ", ");
              json_round5 (o, r->entropy[lens_result_cell_index (r, row, t)]);
            }
          g_string_append_c (o, ']');
        }
      g_string_append_c (o, ']');
    }
  g_string_append (o, "}\n");
  return g_string_free (o, FALSE);
}

/* ------------------------------------------------------------------------------------------ */
/* Entry points                                                                                */

LensResult *
lens_results_parse_full (const char *data, size_t len, const char *name, GPtrArray **targets,
                         GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (targets != NULL)
    *targets = NULL;
  if (name == NULL)
    name = "results";

  if (len == 0)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT, "%s: the file is empty", name);
      return NULL;
    }
  if (len > LENS_RESULTS_MAX_FILE_SIZE)
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_FORMAT,
                   "%s: %zu bytes is larger than the %zu bytes supported for a results file", name,
                   len, LENS_RESULTS_MAX_FILE_SIZE);
      return NULL;
    }

  g_autoptr (GString) scratch = g_string_sized_new (64);
  g_autoptr (GPtrArray) names
      = g_ptr_array_new_with_free_func ((GDestroyNotify) lens_file_target_free);
  JReader j = {
      .base = data, .p = data, .end = data + len, .name = name, .error = error, .scratch = scratch};
  Members m = {0};

  /* A UTF-8 byte order mark is tolerated (RFC 8259 lets parsers ignore it). */
  if (len >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0)
    j.p += 3;

  /* Pass 1: validate everything, locate the top-level members. */
  if (j_peek (&j) != '{')
    {
      if (j_peek (&j) == -1)
        j_fail (&j, "the file contains no JSON value");
      else if (*j.p == '[' || *j.p == '"' || *j.p == '-' || g_ascii_isdigit (*j.p) || *j.p == 't'
               || *j.p == 'f' || *j.p == 'n')
        j_fail (&j, "the JSON is %s, expected an object (a results file)", j_kind (&j));
      else
        j_syntax (&j, "this is not JSON");
      return NULL;
    }
  j.p++;
  g_autoptr (GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  int n = 0;
  while (j_next (&j, '}', &n))
    {
      const char *key_at = j.p;
      if (!j_key (&j, scratch))
        return NULL;
      if (!g_hash_table_add (keys, g_strdup (scratch->str)))
        {
          j_syntax_at (&j, key_at, "a duplicate key in an object");
          return NULL;
        }
      const char *value_at = (j_peek (&j), j.p);
      for (size_t i = 0; i < G_N_ELEMENTS (member_table); i++)
        if (strcmp (scratch->str, member_table[i].key) == 0)
          *(const char **) ((char *) &m + member_table[i].offset) = value_at;
      if (!j_skip (&j, 1))
        return NULL;
    }
  if (j.failed)
    return NULL;
  if (j_peek (&j) != -1)
    {
      j_syntax (&j, "unexpected data after the JSON object");
      return NULL;
    }

  /* Pass 2: detect the format and read it. */
  LensResult *r = NULL;
  gboolean own = FALSE;
  if (m.format != NULL)
    {
      j.p = m.format;
      if (j_peek (&j) != '"')
        {
          j_type_error (&j, "a string", "format");
          return NULL;
        }
      if (!j_string (&j, scratch))
        return NULL;
      if (strcmp (scratch->str, LENS_RESULTS_FORMAT_NAME) != 0)
        {
          g_autofree char *d = describe (scratch->str);
          j_fail (&j, "format is %s, expected \"%s\"", d, LENS_RESULTS_FORMAT_NAME);
          return NULL;
        }
      own = TRUE;
    }
  else if (m.meta == NULL && m.cells != NULL && m.tokens != NULL)
    {
      /* Without "format": ours has token objects, logitlenskit v1 has token strings. */
      j.p = m.tokens;
      if (j_peek (&j) == '[')
        {
          j.p++;
          own = j_peek (&j) == '{';
        }
      own |= m.model != NULL && m.targets != NULL;
    }

  if (own)
    r = parse_own (&j, &m, names);
  else if (m.cells != NULL && m.tracked == NULL && m.topk == NULL)
    r = parse_v1 (&j, &m);
  else if (m.meta != NULL)
    r = parse_v2 (&j, &m);
  else if (m.tracked != NULL || m.topk != NULL)
    j_fail (&j, "there is no \"meta\" (required in logitlenskit JSON version 2)");
  else
    j_fail (&j,
            "not a logit lens results file: expected \"format\": \"%s\", or "
            "logitlenskit widget JSON (\"meta\", \"tracked\", \"topk\" or \"cells\")",
            LENS_RESULTS_FORMAT_NAME);

  g_free (j.desc);
  if (r != NULL && targets != NULL)
    *targets = g_steal_pointer (&names);
  return r;
}

LensResult *
lens_results_parse (const char *data, size_t len, const char *name, GError **error)
{
  return lens_results_parse_full (data, len, name, NULL, error);
}

LensResult *
lens_results_load_full (const char *path, GPtrArray **targets, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autofree char *display = g_filename_display_name (path);
  g_autoptr (GMappedFile) file = lens_file_map (path, LENS_RESULTS_MAX_FILE_SIZE, error);
  if (file == NULL)
    return NULL;
  return lens_results_parse_full (g_mapped_file_get_contents (file),
                                  g_mapped_file_get_length (file), display, targets, error);
}

LensResult *
lens_results_load (const char *path, GError **error)
{
  return lens_results_load_full (path, NULL, error);
}

gboolean
lens_results_write_file (const char *path, const char *contents, GError **error)
{
  g_return_val_if_fail (path != NULL && contents != NULL, FALSE);
  g_autoptr (GError) local = NULL;
  if (!g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local))
    {
      g_set_error (error, LENS_ERROR, LENS_ERROR_IO, "%s", local->message);
      return FALSE;
    }
  return TRUE;
}
