// zlib, for reading gzip-compressed data sets (IDX files as distributed). Only the
// DistConv module's Data folder imports CZlib; inflateInit2 is a macro, so callers use
// inflateInit2_ with ZLIB_VERSION and sizeof(z_stream) as the macro would.
#ifndef DISTCONV_CZLIB_SHIM_H
#define DISTCONV_CZLIB_SHIM_H

#include <zlib.h>

#endif
