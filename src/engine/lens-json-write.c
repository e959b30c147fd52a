/* lens-json-write.c: JSON values for every document the program writes (see lens-json-write.h). */
#include <math.h>
#include <string.h>

#include "lens-json-write.h"
#include "lens-json.h"

/* A quoted string literal, JSON's or (`python`) Python's in pure ASCII: one escaper for both,
 * since a Python str literal is JSON's with three differences, marked below. */
static void
write_string_literal (GString *out, const char *s, gboolean python)
{
  g_string_append_c (out, '"');
  /* Python: DEL and everything past ASCII are escaped too */
  const unsigned char plain_below = python ? 0x7f : 0x80;
  const char *p = s;
  for (;;)
    {
      const char *run = p;
      while ((unsigned char) *p >= 0x20 && (unsigned char) *p < plain_below && *p != '"'
             && *p != '\\')
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
      else if (c < 0x20 || c == 0x7f)
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
            case '\f':
              /* Python: \b and \f are written as \u0008 and \u000c, as they always were */
              if (!python)
                {
                  g_string_append (out, c == '\b' ? "\\b" : "\\f");
                  break;
                }
              G_GNUC_FALLTHROUGH;
            default:
              g_string_append_printf (out, "\\u%04x", c);
              break;
            }
          p++;
        }
      else
        {
          /* The NUL terminator stops the continuation check before any read past the end. */
          int n
              = lens_json_utf8_sequence ((const unsigned char *) p, (const unsigned char *) p + 4);
          if (n == 0)
            {
              g_string_append (out, "\xEF\xBF\xBD");
              p++;
            }
          else if (python)
            {
              /* Python: \UXXXXXXXX past the BMP, where JSON would need a surrogate pair */
              gunichar u = g_utf8_get_char (p);
              g_string_append_printf (out, u < 0x10000 ? "\\u%04x" : "\\U%08x", (unsigned) u);
              p += n;
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

/* A JSON string; bytes that are not valid UTF-8 (never produced by the tokenizer's display
 * form, but an imported text could be anything) become U+FFFD rather than invalid JSON. */
void
lens_json_write_string (GString *out, const char *s)
{
  if (s == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  write_string_literal (out, s, FALSE);
}

void
lens_json_write_python_str (GString *out, const char *s)
{
  write_string_literal (out, s, TRUE);
}

/* %.9g round-trips a float exactly; NAN/inf (unknown) is null. */
void
lens_json_write_float (GString *out, double v)
{
  if (!isfinite (v))
    {
      g_string_append (out, "null");
      return;
    }
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.9g", v));
}

void
lens_json_write_int_or_null (GString *out, int64_t v, gboolean known)
{
  if (known)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, v);
  else
    g_string_append (out, "null");
}

/* round(v, 5) as Python does it (correctly rounded from the exact binary value, ties to even),
 * printed without trailing zeros. v * 1e5 is within 1e-10 of the exact product for the values
 * written here, so only near-ties need printf's exact decimal conversion. */
void
lens_json_write_round5 (GString *out, double v)
{
  if (!isfinite (v))
    {
      g_string_append (out, "null");
      return;
    }
  char buf[64];
  double x = v * 1e5, f = floor (x);
  /* below 999.99999 so that the rounded value still has three digits before the point */
  if (v >= 0.0 && x < 99999999.0 && fabs (x - f - 0.5) > 1e-6)
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

void
lens_json_write_key (GString *out, const char *key, gboolean pretty)
{
  lens_json_write_string (out, key);
  g_string_append (out, pretty ? ": " : ":");
}

void
lens_json_write_fixed (GString *out, double v, int decimals)
{
  if (!isfinite (v))
    {
      g_string_append (out, "null");
      return;
    }
  char buf[G_ASCII_DTOSTR_BUF_SIZE + 320]; /* %.Nf of 1e308 has 309 digits before the point */
  char format[16];
  g_snprintf (format, sizeof format, "%%.%df", CLAMP (decimals, 0, 17));
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, format, v));
}
