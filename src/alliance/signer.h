/* signer.h: a member's Ed25519 identity, and the only holder of its secret key.
 * Why: every report and every treaty signature of this member is made here,
 * so the secret key lives in one place, in locked memory (sodium_malloc),
 * and is wiped when the signer is freed.
 * Files: the secret key file holds one line, "pacto-secret-key-v1 " followed
 * by the base64 (standard alphabet, padded) of libsodium's 64-byte secret
 * key; it must be a regular file owned by the user (or root), with no
 * permission at all for group or others (0600 or stricter). The
 * public key file (FILE.pub) holds the base64 of the 32-byte public key and
 * a newline; that base64 text is the key's form everywhere (treaty, CLI). */
#ifndef PACTO_SIGNER_H
#define PACTO_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIGNER_PUBLIC_BYTES 32
#define SIGNER_SIGNATURE_BYTES 64
/* base64 of 32 bytes is 44 characters, plus the NUL. */
#define SIGNER_PUBLIC_TEXT 45
/* base64 of 64 bytes is 88 characters, plus the NUL. */
#define SIGNER_SIGNATURE_TEXT 89

struct signer;

/* Initialises libsodium once per process. Returns 0 or -1. */
int signer_init(void) __attribute__((warn_unused_result));

/* Writes a new key pair: the secret key to path (created mode 0600,
 * refused if it exists) and the public key to path.pub. Fills public_text
 * with the public key's base64. Returns 0, or -1 with err. */
int signer_generate(const char *path, char public_text[SIGNER_PUBLIC_TEXT], char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Loads a secret key file. Refuses a file readable by group or others, a
 * malformed one, or one whose public half does not match its seed.
 * On success *out is the caller's (signer_free). */
int signer_load(const char *path, struct signer **out, char *err, size_t errlen) __attribute__((warn_unused_result));
void signer_free(struct signer *s);  /* wipes the key; accepts NULL */

const uint8_t *signer_public_key(const struct signer *s);  /* SIGNER_PUBLIC_BYTES */

/* Detached signature of context || message (context: a NUL-terminated
 * domain string such as "pacto-report-v1", so a signature made for one kind
 * of document is never valid for another). The bytes signed are the
 * context's characters, its terminating NUL, then the message: the NUL
 * ends the context, so no two (context, message) pairs sign the same bytes. */
void signer_sign(const struct signer *s, const char *context, const void *message, size_t len,
		 uint8_t sig[SIGNER_SIGNATURE_BYTES]);

/* Checks a detached signature made by signer_sign. True when valid. */
bool signer_verify(const uint8_t key[SIGNER_PUBLIC_BYTES], const char *context, const void *message, size_t len,
		   const uint8_t sig[SIGNER_SIGNATURE_BYTES]);

/* base64 text <-> 32-byte public key. key_parse returns 0 or -1 (anything
 * but exactly 44 characters of padded standard base64 is refused). */
int signer_key_parse(const char *text, uint8_t key[SIGNER_PUBLIC_BYTES]) __attribute__((warn_unused_result));
void signer_key_format(const uint8_t key[SIGNER_PUBLIC_BYTES], char text[SIGNER_PUBLIC_TEXT]);

#endif
