#ifndef COPENSSL_H
#define COPENSSL_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>

// The functions below wrap OpenSSL macros (SSL_CTX_set_mode and friends expand to
// SSL_CTX_ctrl calls with numeric constants), which Swift cannot import.

static inline long COpenSSL_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}

static inline long COpenSSL_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline long COpenSSL_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

static inline size_t COpenSSL_BIO_pending(BIO *bio) {
    return BIO_ctrl_pending(bio);
}

// TLS1_2_VERSION is a macro of an integer literal; Swift imports it, but keep the
// choice of the floor in one place.
static inline int COpenSSL_minimumProtocolVersion(void) {
    return TLS1_2_VERSION;
}

#endif
