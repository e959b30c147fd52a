/* lens-json-pull.c: the strict JSON pull reader of results files (see lens-json-pull.h): syntax,
 * typed values with messages naming their place, and the grid walk every results reader uses. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "lens-error.h"
#include "lens-json-pull.h"
#include "lens-json.h"

/* Probabilities computed in float may exceed 1 by a few ulps; anything further is an error. */
#define PROB_SLACK 1e-6

/* ------------------------------------------------------------------------------------------ */
/* Strict JSON pull reader (RFC 8259)                                                          */

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

gboolean
lens_pull_fail (LensJsonPull *j, const char *fmt, ...)
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
line_and_column (const LensJsonPull *j, const char *at, size_t *line, size_t *col)
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

gboolean
lens_pull_syntax_at (LensJsonPull *j, const char *at, const char *what)
{
  if (at >= j->end)
    return lens_pull_fail (j, "the file ends in the middle of the JSON (truncated?): %s", what);
  size_t line, col;
  line_and_column (j, at, &line, &col);
  return lens_pull_fail (j, "invalid JSON at line %zu, column %zu: %s", line, col, what);
}

gboolean
lens_pull_syntax (LensJsonPull *j, const char *what)
{
  return lens_pull_syntax_at (j, j->p, what);
}

/* What kind of value starts at the cursor, for "X is a string, not a number" messages. */
const char *
lens_pull_kind (LensJsonPull *j)
{
  switch (lens_pull_peek (j))
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

/* Reads a string into `out` (decoded, valid UTF-8; NULL only validates). U+0000 cannot live in a C
 * string; it becomes the text "\x00", the way token displays show raw bytes. */
gboolean
lens_pull_string (LensJsonPull *j, GString *out)
{
  if (lens_pull_peek (j) != '"')
    return lens_pull_syntax (j, "expected a string");
  const char *p = j->p + 1, *end = j->end;
  if (out != NULL)
    g_string_truncate (out, 0);
  LensJsonStringEnd se;
  switch (lens_json_string_decode (
      p, end, LENS_JSON_STRING_CHECK_UTF8 | LENS_JSON_STRING_NUL_AS_TEXT, out, &se))
    {
    case LENS_JSON_STRING_OK:
      j->p = se.at;
      return TRUE;
    case LENS_JSON_STRING_UNTERMINATED:
      return lens_pull_syntax_at (j, se.at, "unterminated string");
    case LENS_JSON_STRING_CONTROL:
      return lens_pull_syntax_at (j, se.at, "control character in a string (it must be escaped)");
    case LENS_JSON_STRING_CUT_UTF8:
      return lens_pull_syntax_at (j, se.at, "a string cut short");
    case LENS_JSON_STRING_BAD_UTF8:
      return lens_pull_syntax_at (j, se.at, "invalid UTF-8 in a string");
    case LENS_JSON_STRING_BAD_ESCAPE:
      return lens_pull_syntax_at (j, se.at, "invalid escape in a string");
    case LENS_JSON_STRING_U_TRUNCATED:
      return lens_pull_syntax_at (j, end, "unterminated \\u escape");
    case LENS_JSON_STRING_U_BAD_HEX:
    case LENS_JSON_STRING_NUL: /* not asked for */
      return lens_pull_syntax_at (j, se.at, "invalid \\u escape");
    case LENS_JSON_STRING_LONE_LOW:
    case LENS_JSON_STRING_HIGH_ALONE:
    case LENS_JSON_STRING_HIGH_THEN_TRUNCATED:
    case LENS_JSON_STRING_HIGH_THEN_BAD_HEX:
    case LENS_JSON_STRING_HIGH_THEN_NOT_LOW:
      return lens_pull_syntax_at (j, se.at, "unpaired UTF-16 surrogate in a \\u escape");
    }
  g_assert_not_reached ();
}

/* Reads a number. Short decimals (every probability in these files) take Clinger's fast path: a
 * mantissa below 2^53 times an exact power of ten up to 1e22 is correctly rounded by a single
 * multiplication or division. Everything else goes to g_ascii_strtod (locale-independent). */
gboolean
lens_pull_number (LensJsonPull *j, double *out, gboolean *is_int)
{
  lens_pull_peek (j);
  const char *p = j->p, *end = j->end, *start = p;
  gboolean neg = FALSE, integral = TRUE, exact = TRUE;
  uint64_t m = 0;
  int digits = 0; /* significant digits in m */
  long e10 = 0;

  if (p < end && *p == '-')
    neg = TRUE, p++;
  if (p < end && (*p == 'N' || *p == 'I'))
    return lens_pull_syntax_at (j, start, "NaN and Infinity are not JSON numbers");
  if (p >= end || !g_ascii_isdigit (*p))
    return lens_pull_syntax_at (j, p, p >= end ? "number cut short" : "expected a value");
  if (*p == '0')
    {
      p++;
      if (p < end && g_ascii_isdigit (*p))
        return lens_pull_syntax_at (j, p, "a number with a leading zero");
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
        return lens_pull_syntax_at (j, p, "a number needs digits after '.'");
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
        return lens_pull_syntax_at (j, p, "a number needs digits in its exponent");
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
        return lens_pull_syntax_at (j, start, "a number too large for a double");
    }
  *out = neg ? -v : v;
  if (is_int != NULL)
    *is_int = integral;
  j->p = p;
  return TRUE;
}

gboolean
lens_pull_literal (LensJsonPull *j, const char *word)
{
  size_t n = strlen (word), left = (size_t) (j->end - j->p);
  if (left < n && memcmp (j->p, word, left) == 0)
    return lens_pull_syntax_at (j, j->end, "a literal cut short");
  if (left < n || memcmp (j->p, word, n) != 0)
    return lens_pull_syntax (j, "expected a value");
  j->p += n;
  return TRUE;
}

/* Consumes null if it is next. */
gboolean
lens_pull_is_null (LensJsonPull *j)
{
  if (lens_pull_peek (j) != 'n')
    return FALSE;
  return lens_pull_literal (j, "null");
}

/* Consumes NaN if it is next. Not JSON, but what Python's json.dump writes (by default) for a
 * value a model could not compute, so logitlenskit files carry it: read as unknown, like null. */
gboolean
lens_pull_is_nan (LensJsonPull *j)
{
  if (lens_pull_peek (j) != 'N')
    return FALSE;
  return lens_pull_literal (j, "NaN");
}

gboolean
lens_pull_expect (LensJsonPull *j, char c, const char *what)
{
  if (lens_pull_peek (j) != (unsigned char) c)
    return lens_pull_syntax (j, what);
  j->p++;
  return TRUE;
}

/* Reads an object key and the colon after it. */
gboolean
lens_pull_key (LensJsonPull *j, GString *key)
{
  if (lens_pull_peek (j) != '"')
    return lens_pull_syntax (j, "expected a key string");
  return lens_pull_string (j, key) && lens_pull_expect (j, ':', "expected ':'");
}

static gboolean
skip_container (LensJsonPull *j, int depth)
{
  gboolean object = *j->p == '{';
  if (depth >= LENS_JSON_MAX_DEPTH)
    return lens_pull_syntax (j, "nested more than 64 levels deep");
  j->p++;
  g_autoptr (GHashTable) keys = NULL;
  int n = 0;
  while (lens_pull_next (j, object ? '}' : ']', &n))
    {
      if (object)
        {
          const char *at = j->p;
          if (!lens_pull_key (j, j->scratch))
            return FALSE;
          if (keys == NULL)
            keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          if (!g_hash_table_add (keys, g_strdup (j->scratch->str)))
            return lens_pull_syntax_at (j, at, "a duplicate key in an object");
        }
      if (!lens_pull_skip (j, depth + 1))
        return FALSE;
    }
  return !j->failed;
}

/* Validates and skips one value of any kind. */
gboolean
lens_pull_skip (LensJsonPull *j, int depth)
{
  switch (lens_pull_peek (j))
    {
    case '{':
    case '[':
      return skip_container (j, depth);
    case '"':
      return lens_pull_string (j, NULL);
    case 't':
      return lens_pull_literal (j, "true");
    case 'f':
      return lens_pull_literal (j, "false");
    case 'n':
      return lens_pull_literal (j, "null");
    case 'N':
      /* Python's json.dump spelling of a value that could not be computed (see lens_pull_is_nan);
       * Infinity stays an error: no probability or entropy is infinite */
      return lens_pull_literal (j, "NaN");
    case -1:
      return lens_pull_syntax (j, "expected a value");
    default:
      {
        double v;
        return lens_pull_number (j, &v, NULL);
      }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Typed values with messages naming where they are                                           */

/* `s` quoted and escaped for a message, cut after 40 characters. */
char *
lens_pull_describe (const char *s)
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

/* lens_pull_describe () valid until the next call, for arguments of messages that are usually not
 * made. */
const char *
lens_pull_describe_tmp (LensJsonPull *j, const char *s)
{
  g_free (j->desc);
  j->desc = lens_pull_describe (s);
  return j->desc;
}

gboolean
lens_pull_type_error (LensJsonPull *j, const char *expected, const char *path_fmt, ...)
{
  if (j->failed)
    return FALSE;
  va_list ap;
  va_start (ap, path_fmt);
  g_autofree char *path = g_strdup_vprintf (path_fmt, ap);
  va_end (ap);
  return lens_pull_fail (j, "%s is %s, expected %s", path, lens_pull_kind (j), expected);
}

/* The first half of the *_error functions below: nothing to write for a syntax error (or an
 * earlier error, already reported), "PATH is KIND, <not_number>" for LENS_PULL_TYPE; both give
 * NULL. Otherwise (out of range) the path, for the caller's message. */
static char *
status_error_path (LensJsonPull *j, LensPullStatus st, const char *not_number, const char *path_fmt,
                   va_list ap)
{
  if (j->failed || st == LENS_PULL_SYNTAX)
    return NULL;
  g_autofree char *path = g_strdup_vprintf (path_fmt, ap);
  if (st == LENS_PULL_TYPE)
    {
      lens_pull_fail (j, "%s is %s, %s", path, lens_pull_kind (j), not_number);
      return NULL;
    }
  return g_steal_pointer (&path);
}

/* The number at the reader: LENS_PULL_TYPE when something else is there, LENS_PULL_SYNTAX when
 * it does not parse. The start of every number status reader below. */
static LensPullStatus
pull_number_status (LensJsonPull *j, double *raw, gboolean *is_int)
{
  int c = lens_pull_peek (j);
  if (c != '-' && !(c >= '0' && c <= '9'))
    return LENS_PULL_TYPE;
  return lens_pull_number (j, raw, is_int) ? LENS_PULL_OK : LENS_PULL_SYNTAX;
}

/* A probability in [0, 1 + PROB_SLACK] (stored clamped to 1); null gives NAN when allowed, and
 * NaN (Python's spelling of a value that could not be computed) always does. */
LensPullStatus
lens_pull_prob (LensJsonPull *j, gboolean allow_null, float *out, double *raw)
{
  int c = lens_pull_peek (j);
  if (c == 'n' && allow_null)
    {
      if (!lens_pull_literal (j, "null"))
        return LENS_PULL_SYNTAX;
      *out = NAN;
      return LENS_PULL_OK;
    }
  if (c == 'N')
    {
      if (!lens_pull_is_nan (j))
        return LENS_PULL_SYNTAX;
      *out = NAN;
      return LENS_PULL_OK;
    }
  if (c == 'I' || (c == '-' && j->p + 1 < j->end && j->p[1] == 'I'))
    {
      /* Python's Infinity: named in the message as a number out of range */
      *raw = c == '-' ? -INFINITY : INFINITY;
      j->p += c == '-';
      return lens_pull_literal (j, "Infinity") ? LENS_PULL_RANGE : LENS_PULL_SYNTAX;
    }
  LensPullStatus st = pull_number_status (j, raw, NULL);
  if (st != LENS_PULL_OK)
    return st;
  if (!(*raw >= 0.0 && *raw <= 1.0 + PROB_SLACK))
    return LENS_PULL_RANGE;
  *out = *raw > 1.0 ? 1.0f : (float) *raw;
  return LENS_PULL_OK;
}

gboolean
lens_pull_prob_error (LensJsonPull *j, LensPullStatus st, double raw, const char *path_fmt, ...)
{
  va_list ap;
  va_start (ap, path_fmt);
  g_autofree char *path = status_error_path (j, st, "not a probability", path_fmt, ap);
  va_end (ap);
  if (path == NULL)
    return FALSE;
  char num[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (num, sizeof num, "%.9g", raw);
  return lens_pull_fail (j, "%s is %s, outside [0, 1]", path, num);
}

/* A number of nats: see lens-json-pull.h. The three results readers differ only in the flags. */
LensPullStatus
lens_pull_nats (LensJsonPull *j, gboolean allow_nan, gboolean non_negative, float max, float *out,
                double *raw)
{
  *out = NAN;
  *raw = NAN;
  if (lens_pull_is_null (j) || (allow_nan && lens_pull_is_nan (j)))
    return LENS_PULL_OK;
  if (j->failed)
    return LENS_PULL_SYNTAX;
  LensPullStatus st = pull_number_status (j, raw, NULL);
  if (st != LENS_PULL_OK)
    return st;
  if (non_negative && *raw < -1e-6)
    return LENS_PULL_RANGE;
  /* checked as stored: a float that rounds above the limit would not read back */
  float f = non_negative && *raw < 0 ? 0.0f : (float) *raw;
  if (!(f <= max))
    return LENS_PULL_RANGE;
  *out = f;
  return LENS_PULL_OK;
}

gboolean
lens_pull_nats_error (LensJsonPull *j, LensPullStatus st, double raw, const char *path_fmt, ...)
{
  va_list ap;
  va_start (ap, path_fmt);
  g_autofree char *path = status_error_path (j, st, "expected a number", path_fmt, ap);
  va_end (ap);
  if (path == NULL)
    return FALSE;
  return lens_pull_fail (j, raw < 0 ? "%s is negative" : "%s is too large", path);
}

/* An integer in [lo, hi]. */
LensPullStatus
lens_pull_int (LensJsonPull *j, long lo, long hi, long *out, double *raw)
{
  gboolean is_int = FALSE;
  LensPullStatus st = pull_number_status (j, raw, &is_int);
  if (st != LENS_PULL_OK)
    return st;
  if (!is_int || *raw < (double) lo || *raw > (double) hi)
    return LENS_PULL_RANGE;
  *out = (long) *raw;
  return LENS_PULL_OK;
}

gboolean
lens_pull_int_error (LensJsonPull *j, LensPullStatus st, double raw, long lo, long hi,
                     const char *path_fmt, ...)
{
  va_list ap;
  va_start (ap, path_fmt);
  g_autofree char *path = status_error_path (j, st, "expected an integer", path_fmt, ap);
  va_end (ap);
  if (path == NULL)
    return FALSE;
  char num[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (num, sizeof num, "%.17g", raw);
  return lens_pull_fail (j, "%s is %s, expected an integer from %ld to %ld", path, num, lo, hi);
}

gboolean
lens_pull_string_member (LensJsonPull *j, char **out, const char *path_fmt, ...)
{
  if (lens_pull_peek (j) != '"')
    {
      if (j->failed)
        return FALSE;
      va_list ap;
      va_start (ap, path_fmt);
      g_autofree char *path = g_strdup_vprintf (path_fmt, ap);
      va_end (ap);
      return lens_pull_type_error (j, "a string", "%s", path);
    }
  if (!lens_pull_string (j, j->scratch))
    return FALSE;
  g_free (*out);
  *out = g_strdup (j->scratch->str);
  return TRUE;
}

/* Reads a string or null (NULL); other kinds are an error naming `path`. */
gboolean
lens_pull_opt_string (LensJsonPull *j, char **out, const char *path)
{
  *out = NULL;
  if (lens_pull_is_null (j))
    return TRUE;
  if (j->failed)
    return FALSE;
  if (lens_pull_peek (j) != '"')
    return lens_pull_type_error (j, "a string", "%s", path);
  if (!lens_pull_string (j, j->scratch))
    return FALSE;
  *out = g_strdup (j->scratch->str);
  return TRUE;
}

/* Reads an array of `n` probabilities into `out` (NULL: validate only). A wrong count is
 * reported as "PATH has N values, N_WHAT has n". The path is formatted only on failure, since
 * this runs for every trajectory of a large file. */
gboolean
lens_pull_prob_array (LensJsonPull *j, int n, float *out, gboolean allow_null, const char *n_what,
                      const char *path_fmt, ...)
{
  LensPullStatus st = LENS_PULL_OK;
  double raw = 0;
  int count = 0;
  gboolean not_array = lens_pull_peek (j) != '[';
  if (!not_array)
    {
      j->p++;
      while (lens_pull_next (j, ']', &count))
        {
          float v;
          st = lens_pull_prob (j, allow_null, &v, &raw);
          if (st != LENS_PULL_OK)
            break;
          if (out != NULL && count <= n)
            out[count - 1] = v;
        }
    }
  if (j->failed || st == LENS_PULL_SYNTAX)
    return FALSE;
  if (!not_array && st == LENS_PULL_OK && count == n)
    return TRUE;

  va_list ap;
  va_start (ap, path_fmt);
  g_autofree char *path = g_strdup_vprintf (path_fmt, ap);
  va_end (ap);
  if (not_array)
    return lens_pull_type_error (j, "an array of probabilities", "%s", path);
  if (st != LENS_PULL_OK)
    return lens_pull_prob_error (j, st, raw, "%s[%d]", path, count - 1);
  return lens_pull_fail (j, "%s has %d values, %s has %d", path, count, n_what, n);
}

gboolean
lens_pull_grid_begin (LensJsonPull *j, LensPullGrid *g, const LensPullGridShape *shape, int n_outer,
                      int n_inner, const char *at)
{
  *g = (LensPullGrid){.shape = shape, .n_outer = n_outer, .n_inner = n_inner};
  j->p = at;
  if (lens_pull_peek (j) != '[')
    return lens_pull_type_error (j, shape->outer_kind, "%s", shape->name);
  j->p++;
  g->outer = g->inner = -1;
  return TRUE;
}

gboolean
lens_pull_grid_next (LensJsonPull *j, LensPullGrid *g)
{
  const LensPullGridShape *sh = g->shape;
  for (;;)
    {
      if (g->in_inner)
        {
          if (lens_pull_next (j, ']', &g->n_seen_inner))
            {
              g->inner = g->n_seen_inner - 1;
              if (sh->skip_extra && g->inner >= g->n_inner)
                {
                  if (!lens_pull_skip (j, 1))
                    return FALSE;
                  continue;
                }
              return TRUE;
            }
          if (j->failed)
            return FALSE;
          if (g->n_seen_inner != g->n_inner)
            return lens_pull_fail (j, "%s[%d] has %d %s, %s has %d%s", sh->name, g->outer,
                                   g->n_seen_inner, sh->inner_noun, sh->inner_of, g->n_inner,
                                   sh->inner_unit);
          g->in_inner = FALSE;
        }
      if (!lens_pull_next (j, ']', &g->n_seen_outer))
        {
          if (j->failed)
            return FALSE;
          if (g->n_seen_outer != g->n_outer)
            return lens_pull_fail (j, "%s has %d entries, %s has %d", sh->name, g->n_seen_outer,
                                   sh->outer_of, g->n_outer);
          return FALSE;
        }
      g->outer = g->n_seen_outer - 1;
      if (sh->skip_extra && g->outer >= g->n_outer)
        {
          /* only counted, for the message at the end */
          if (!lens_pull_skip (j, 1))
            return FALSE;
          continue;
        }
      if (lens_pull_peek (j) != '[')
        return lens_pull_type_error (j, sh->inner_kind, "%s[%d]", sh->name, g->outer);
      j->p++;
      g->n_seen_inner = 0;
      g->in_inner = TRUE;
    }
}
