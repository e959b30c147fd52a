/* ll-targets.c: parsing the target entry. */
#include "ll-targets.h"

#include <string.h>

char **
ll_targets_parse (const char *text)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (text == NULL)
    text = "";
  g_auto (GStrv) items = g_strsplit (text, ",", -1);
  for (int i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);
      size_t n = strlen (item);
      char *target;

      if (n == 0)
        continue;
      if (n >= 2 && item[0] == '"' && item[n - 1] == '"')
        target = g_strndup (item + 1, n - 2);
      else
        target = g_strconcat (" ", item, NULL);
      if (target[0] == '\0' || g_hash_table_contains (seen, target))
        {
          g_free (target);
          continue;
        }
      g_strv_builder_add (builder, target);
      g_hash_table_add (seen, target);
    }
  return g_strv_builder_end (builder);
}
