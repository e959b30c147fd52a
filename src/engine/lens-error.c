#include "lens-error.h"

#include <string.h>

G_DEFINE_QUARK (lens - error - quark, lens_error)

char *
lens_error_one_line (const char *message)
{
  GString *out = g_string_sized_new (strlen (message));
  const char *p = message;
  while (*p != '\0')
    {
      const char *end = NULL;
      /* the longest valid UTF-8 run from p */
      g_utf8_validate (p, -1, &end);
      for (const char *q = p; q < end; q++)
        {
          guchar c = (guchar) *q;
          if (c < 0x20 || c == 0x7F)
            g_string_append_printf (out, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\x%02X", c);
          else
            g_string_append_c (out, (char) c);
        }
      p = end;
      if (*p != '\0') /* a byte that starts no valid character */
        g_string_append_printf (out, "\\x%02X", (guchar) *p++);
    }
  return g_string_free (out, FALSE);
}
