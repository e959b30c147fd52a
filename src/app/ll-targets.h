/* ll-targets.h: the target entry's text, split into the token texts to track. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Splits comma-separated targets. Each item is trimmed and given one leading space (inside a
 * sentence a word's token starts with one: " Paris"); an item in double quotes is taken exactly
 * as written between them ("\"Paris\"" tracks "Paris" without the space). Empty items and
 * repeats are dropped. Never NULL. */
char **ll_targets_parse (const char *text);

G_END_DECLS
