#ifndef CNGHTTP2_H
#define CNGHTTP2_H

#include <nghttp2/nghttp2.h>

// nghttp2's public API is plain functions and enums, which Swift imports directly.
// The only shim is for the data source union: Swift can read `ptr` but writing a
// union member through an optional-typed field is awkward, so one helper sets it.
static inline nghttp2_data_provider CNGHTTP2_makeDataProvider(
    void *source, nghttp2_data_source_read_callback callback) {
    nghttp2_data_provider provider;
    provider.source.ptr = source;
    provider.read_callback = callback;
    return provider;
}

#endif
