/* Streaming sha256 (OpenSSL EVP) producing OCI digest strings. */
#ifndef CN_DIGEST_H
#define CN_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define CN_DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex + NUL */
#define CN_DIGEST_STR_SIZE 72

typedef struct cn_sha256 {
	void *ctx;      /* EVP_MD_CTX */
} cn_sha256;

void cn_sha256_init(cn_sha256 *h);
void cn_sha256_update(cn_sha256 *h, const void *data, size_t len);
/* Writes "sha256:<hex>" into out (CN_DIGEST_STR_SIZE bytes) and frees the context. */
void cn_sha256_final(cn_sha256 *h, char out[CN_DIGEST_STR_SIZE]);
void cn_sha256_free(cn_sha256 *h);
void cn_sha256_oneshot(const void *data, size_t len, char out[CN_DIGEST_STR_SIZE]);

/* True for exactly "sha256:" followed by 64 lower-case hex digits. A digest
 * from outside must pass this before it is ever used as a path. */
bool cn_digest_valid(const char *digest);
/* The hex part of a valid digest. */
const char *cn_digest_hex(const char *digest);

#endif
