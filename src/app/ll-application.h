/* ll-application.h: the GtkApplication: command line (--model DIR), app actions, the window. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define LL_TYPE_APPLICATION (ll_application_get_type ())
G_DECLARE_FINAL_TYPE (LlApplication, ll_application, LL, APPLICATION, AdwApplication)

LlApplication *ll_application_new (GApplicationFlags extra_flags);

G_END_DECLS
