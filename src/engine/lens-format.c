/* lens-format.c: numbers shown to people. */
#include <math.h>
#include <string.h>

#include "lens-format.h"

/* v with `decimals` decimals, trailing zeros (and a bare point) removed. */
static void
format_trimmed (char *buf, size_t size, double v, int decimals)
{
  g_ascii_formatd (buf, size, decimals == 2 ? "%.2f" : "%.1f", v);
  char *dot = strchr (buf, '.');
  if (dot == NULL)
    return;
  char *end = buf + strlen (buf);
  while (end > dot + 1 && end[-1] == '0')
    *--end = '\0';
  if (end == dot + 1)
    *dot = '\0';
}

char *
lens_format_param_count (uint64_t n)
{
  static const char units[] = {'K', 'M', 'B', 'T'};
  const int n_units = (int) G_N_ELEMENTS (units);
  if (n < 1000)
    return g_strdup_printf ("%" G_GUINT64_FORMAT, n);
  int power = 1;
  double v = (double) n / 1000.0;
  while (power < n_units && v >= 1000.0)
    {
      v /= 1000.0;
      power++;
    }
  char num[G_ASCII_DTOSTR_BUF_SIZE];
  format_trimmed (num, sizeof num, v, v < 10.0 ? 2 : 1);
  /* 999.96M rounds to "1000M": that is "1B". */
  if (power < n_units && g_ascii_strtod (num, NULL) >= 1000.0)
    {
      v /= 1000.0;
      power++;
      format_trimmed (num, sizeof num, v, 2);
    }
  return g_strdup_printf ("%s%c", num, units[power - 1]);
}

char *
lens_format_prob (double p)
{
  if (isnan (p))
    return g_strdup ("—");
  if (p <= 0.0)
    return g_strdup ("0%");
  if (p < 1e-3)
    return g_strdup_printf ("%.2e", p);
  double percent = p * 100.0;
  if (percent >= 99.95)
    return g_strdup ("100%");
  /* one decimal from 10%, two from 1%, three below: never fewer than three significant digits.
   * Decided on the rounded value, so 9.9996% is "10.0%", not "10.00%". */
  int decimals = 3;
  for (int d = 3; d >= 1; d--)
    {
      double scale = pow (10.0, d), rounded = round (percent * scale) / scale;
      decimals = d;
      if (rounded < (d == 3 ? 1.0 : d == 2 ? 10.0 : INFINITY))
        break;
    }
  return g_strdup_printf ("%.*f%%", decimals, percent);
}
