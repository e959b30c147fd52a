#include "lens-error.h"

#include <string.h>

G_DEFINE_QUARK (lens - error - quark, lens_error)

gboolean
lens_unichar_breaks_line (gunichar c)
{
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029;
}

char *
lens_error_one_line (const char *message)
{
  GString *out = g_string_sized_new (strlen (message));
  const char *p = message;
  while (*p != '\0')
    {
      gunichar c = g_utf8_get_char_validated (p, -1);
      if (c == (gunichar) -1 || c == (gunichar) -2) /* a byte that starts no valid character */
        {
          g_string_append_printf (out, "\\x%02X", (guchar) *p++);
          continue;
        }
      const char *next = g_utf8_next_char (p);
      if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (lens_unichar_breaks_line (c))
        g_string_append_printf (out, c < 0x80 ? "\\x%02X" : "\\u%04X", c);
      else
        g_string_append_len (out, p, next - p);
      p = next;
    }
  return g_string_free (out, FALSE);
}
