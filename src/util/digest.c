#include "util/digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cn_sha256_init(cn_sha256 *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		abort();
	h->ctx = ctx;
}

void cn_sha256_update(cn_sha256 *h, const void *data, size_t len)
{
	if (len && EVP_DigestUpdate(h->ctx, data, len) != 1)
		abort();
}

void cn_sha256_final(cn_sha256 *h, char out[CN_DIGEST_STR_SIZE])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	static const char hex[] = "0123456789abcdef";
	if (EVP_DigestFinal_ex(h->ctx, md, &mdlen) != 1 || mdlen != 32)
		abort();
	memcpy(out, "sha256:", 7);
	for (unsigned int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[7 + 64] = '\0';
	cn_sha256_free(h);
}

void cn_sha256_free(cn_sha256 *h)
{
	if (h->ctx)
		EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void cn_sha256_oneshot(const void *data, size_t len, char out[CN_DIGEST_STR_SIZE])
{
	cn_sha256 h;
	cn_sha256_init(&h);
	cn_sha256_update(&h, data, len);
	cn_sha256_final(&h, out);
}

bool cn_digest_valid(const char *digest)
{
	if (!digest || strncmp(digest, "sha256:", 7) != 0)
		return false;
	for (int i = 0; i < CN_DIGEST_HEX_LEN; i++) {
		char c = digest[7 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return digest[7 + CN_DIGEST_HEX_LEN] == '\0';
}

const char *cn_digest_hex(const char *digest)
{
	return digest + 7;
}
