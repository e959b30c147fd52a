#include "lens-error.h"

G_DEFINE_QUARK (lens-error-quark, lens_error)
