/* lens-error.h: the engine's error domain. Every failing engine call returns NULL/FALSE and sets a
 * GError whose message names the file or field and what is wrong, so a user can act on it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LENS_ERROR (lens_error_quark ())

typedef enum
{
  LENS_ERROR_IO,     /* a file could not be opened, read or mapped */
  LENS_ERROR_FORMAT, /* a file is malformed (bad JSON, bad safetensors header, wrong shape...) */
  LENS_ERROR_UNSUPPORTED, /* well-formed but not something we handle (unknown model_type, dtype) */
  LENS_ERROR_INPUT,       /* bad user input: empty prompt, invalid UTF-8, prompt too long */
  LENS_ERROR_CANCELLED,   /* the caller's cancel callback asked us to stop */
} LensErrorCode;

GQuark lens_error_quark (void);

/* `message` made safe to print as one line: control characters and bytes that are not UTF-8
 * (which can reach a message through a file or folder name) shown as escapes. Free with g_free. */
char *lens_error_one_line (const char *message);

/* Whether `c` would break a line or steer a terminal in a message: C0 and C1 controls, DEL, and
 * the Unicode line and paragraph separators. */
gboolean lens_unichar_breaks_line (gunichar c);

G_END_DECLS
