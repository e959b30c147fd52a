/* cli-export-module.c: the CLI's export module, the painters and cairo and pango under them,
 * which the CLI loads only to write a figure (see cli-export.c). */
#include "config.h"

#include <gmodule.h>

#include "cli.h"

G_MODULE_EXPORT const CliExportFuncs cli_export_module_funcs = {
    lens_export_view,
    lens_export_positions,
    PACKAGE_VERSION,
    sizeof (LensPaintState),
};
