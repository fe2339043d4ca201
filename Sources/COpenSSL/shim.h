#pragma once
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/bn.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

// OPENSSL_free is a macro; Swift needs a function.
static inline void mie_openssl_free(void *pointer) { OPENSSL_free(pointer); }
// XN_FLAG_RFC2253 is a composite macro; UTF-8 is kept as it is rather than escaped.
static inline unsigned long mie_xn_flag_rfc2253(void) { return XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB; }
// EVP_PKEY_PUBLIC_KEY is a composite selection macro.
static inline int mie_evp_pkey_public_key_selection(void) { return EVP_PKEY_PUBLIC_KEY; }
