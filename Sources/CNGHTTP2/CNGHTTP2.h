#ifndef CNGHTTP2_H
#define CNGHTTP2_H

// nghttp2's public API is plain functions, structs, unions and enums, all of which Swift
// imports directly; no shims are needed.
#include <nghttp2/nghttp2.h>

#endif
