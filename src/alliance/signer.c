/* signer.c: a member's Ed25519 key pair (see signer.h).
 * Why: the only place the secret key is read, held and used. It lives in
 * sodium_malloc'd memory (guard pages, locked, read-only between uses) and
 * every buffer that saw it is wiped.
 * Guarantees: key files are created with O_EXCL (never overwritten); a
 * secret key file with any permission for group or others, owned by another
 * user, or not a regular file is refused; base64 text is accepted only in
 * its one canonical form. */
#include "alliance/signer.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/regfile.h"
#include "common/xalloc.h"

#define SECRET_TAG "pacto-secret-key-v1 "
#define SECRET_B64 88   /* base64 of the 64-byte secret key */
/* The tag, the base64, a newline: anything longer is not a key file. */
#define SECRET_LINE_MAX (sizeof(SECRET_TAG) - 1 + SECRET_B64 + 1)

struct signer {
	uint8_t *sk;                      /* crypto_sign_SECRETKEYBYTES, sodium_malloc'd, read-only at rest */
	uint8_t pk[SIGNER_PUBLIC_BYTES];
};

int signer_init(void)
{
	/* sodium_init returns 1 when already done: both are fine. */
	return sodium_init() < 0 ? -1 : 0;
}

/* Canonical base64: decoding exactly text_len characters into exactly
 * bin_len bytes, and formatting them back gives the same text (so there is
 * one text per key or signature). */
static int b64_decode_exact(const char *text, size_t text_len, uint8_t *bin, size_t bin_len)
{
	size_t got = 0;
	const char *end = NULL;
	if (text_len != sodium_base64_ENCODED_LEN(bin_len, sodium_base64_VARIANT_ORIGINAL) - 1)
		return -1;
	if (sodium_base642bin(bin, bin_len, text, text_len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != bin_len || end != text + text_len)
		return -1;
	char again[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(again, sizeof(again), bin, bin_len, sodium_base64_VARIANT_ORIGINAL);
	int same = memcmp(again, text, text_len) == 0;
	sodium_memzero(again, sizeof(again));
	return same ? 0 : -1;
}

int signer_key_parse(const char *text, uint8_t key[SIGNER_PUBLIC_BYTES])
{
	return b64_decode_exact(text, strlen(text), key, SIGNER_PUBLIC_BYTES);
}

void signer_key_format(const uint8_t key[SIGNER_PUBLIC_BYTES], char text[SIGNER_PUBLIC_TEXT])
{
	sodium_bin2base64(text, SIGNER_PUBLIC_TEXT, key, SIGNER_PUBLIC_BYTES, sodium_base64_VARIANT_ORIGINAL);
}

/* Writes all of buf to a new file (O_EXCL: an existing file is refused). */
static int write_new_file(const char *path, mode_t mode, const char *buf, size_t len, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, errno == EEXIST ? "exists already; not overwritten" : strerror(errno));
		return -1;
	}
	/* The umask may have cleared bits, never added them; make the mode exact. */
	ssize_t n = fchmod(fd, mode) == 0 ? write(fd, buf, len) : -1;
	int saved = errno;
	if (fsync(fd) != 0 && n == (ssize_t)len) {
		saved = errno;
		n = -1;
	}
	close(fd);
	if (n != (ssize_t)len) {
		snprintf(err, errlen, "%s: write failed: %s", path, n < 0 ? strerror(saved) : "short write");
		unlink(path);
		return -1;
	}
	return 0;
}

/* The secret key file's one line, built in guarded memory. */
static char *secret_line(const uint8_t *sk)
{
	char *line = sodium_malloc(SECRET_LINE_MAX + 1);
	if (!line)
		return NULL;
	memcpy(line, SECRET_TAG, sizeof(SECRET_TAG) - 1);
	sodium_bin2base64(line + sizeof(SECRET_TAG) - 1, SECRET_B64 + 1, sk, crypto_sign_SECRETKEYBYTES,
			  sodium_base64_VARIANT_ORIGINAL);
	line[SECRET_LINE_MAX - 1] = '\n';
	line[SECRET_LINE_MAX] = '\0';
	return line;
}

int signer_generate(const char *path, char public_text[SIGNER_PUBLIC_TEXT], char *err, size_t errlen)
{
	char pub_path[4096], pub_line[SIGNER_PUBLIC_TEXT + 1];
	uint8_t pk[SIGNER_PUBLIC_BYTES];
	int rc = -1;

	if ((size_t)snprintf(pub_path, sizeof(pub_path), "%s.pub", path) >= sizeof(pub_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	/* Refuse before creating anything, so a failure leaves no half pair
	 * (the O_EXCL opens below still decide if the files appear meanwhile). */
	for (int i = 0; i < 2; i++)
		if (access(i ? pub_path : path, F_OK) == 0) {
			snprintf(err, errlen, "%s: exists already; not overwritten", i ? pub_path : path);
			return -1;
		}
	uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	char *line = NULL;
	if (!sk || crypto_sign_keypair(pk, sk) != 0 || !(line = secret_line(sk))) {
		snprintf(err, errlen, "generating a key pair failed: out of memory");
		goto out;
	}
	if (write_new_file(path, 0600, line, SECRET_LINE_MAX, err, errlen) != 0)
		goto out;
	signer_key_format(pk, public_text);
	snprintf(pub_line, sizeof(pub_line), "%s\n", public_text);
	if (write_new_file(pub_path, 0644, pub_line, strlen(pub_line), err, errlen) != 0) {
		unlink(path);
		goto out;
	}
	rc = 0;
out:
	sodium_free(line);
	sodium_free(sk);
	return rc;
}

/* Opens path for reading and checks it may hold a secret: a regular file,
 * ours (or root's), with no permission for group or others. */
static int open_secret(const char *path, char *err, size_t errlen)
{
	struct stat st;
	const char *why;
	int fd = regfile_open(path, REGFILE_NOFOLLOW, &st, &why);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0)
		why = "owned by another user";
	else if (st.st_mode & 077)
		why = "group or others have access to it (chmod 600)";
	if (why) {
		snprintf(err, errlen, "%s: refused: %s", path, why);
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads the file's line into guarded memory; *len is its length. */
static char *read_secret_line(int fd, size_t *len)
{
	char *buf = sodium_malloc(SECRET_LINE_MAX + 2);
	if (!buf)
		return NULL;
	size_t n = 0;
	ssize_t r;
	while (n < SECRET_LINE_MAX + 1 && (r = read(fd, buf + n, SECRET_LINE_MAX + 1 - n)) > 0)
		n += (size_t)r;
	*len = n;
	return buf;
}

/* Decodes "TAG BASE64\n" (the newline optional) into sk. */
static int parse_secret_line(const char *line, size_t len, uint8_t *sk)
{
	size_t tag = sizeof(SECRET_TAG) - 1;
	if (len > tag + SECRET_B64 && line[tag + SECRET_B64] == '\n')
		len--;
	if (len != tag + SECRET_B64 || memcmp(line, SECRET_TAG, tag) != 0)
		return -1;
	return b64_decode_exact(line + tag, SECRET_B64, sk, crypto_sign_SECRETKEYBYTES);
}

/* libsodium's secret key is seed || public key: derive the pair from the
 * seed again and compare, so a damaged file cannot sign under a wrong key. */
static int check_key_pair(const uint8_t *sk, uint8_t pk[SIGNER_PUBLIC_BYTES])
{
	uint8_t *again = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (!again)
		return -1;
	int rc = crypto_sign_seed_keypair(pk, again, sk) == 0 &&
			 sodium_memcmp(again, sk, crypto_sign_SECRETKEYBYTES) == 0
		 ? 0
		 : -1;
	sodium_free(again);
	return rc;
}

int signer_load(const char *path, struct signer **out, char *err, size_t errlen)
{
	size_t len = 0;
	char *line = NULL;
	struct signer *s = NULL;
	int fd = open_secret(path, err, errlen);
	if (fd < 0)
		return -1;
	line = read_secret_line(fd, &len);
	close(fd);
	s = calloc(1, sizeof(*s));
	if (!line || !s || !(s->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if (parse_secret_line(line, len, s->sk) != 0) {
		snprintf(err, errlen, "%s: not a pacto secret key file", path);
		goto fail;
	}
	if (check_key_pair(s->sk, s->pk) != 0) {
		snprintf(err, errlen, "%s: damaged: the public half does not match the seed", path);
		goto fail;
	}
	sodium_mprotect_readonly(s->sk);
	sodium_free(line);
	*out = s;
	return 0;
fail:
	sodium_free(line);
	signer_free(s);
	return -1;
}

void signer_free(struct signer *s)
{
	if (!s)
		return;
	sodium_free(s->sk);   /* wipes before freeing */
	free(s);
}

const uint8_t *signer_public_key(const struct signer *s)
{
	return s->pk;
}

/* context, its NUL, then the message: the NUL ends the context, so no
 * (context, message) pair can be read as another. Returns a malloc'd copy. */
static uint8_t *with_context(const char *context, const void *message, size_t len, size_t *total)
{
	size_t clen = strlen(context) + 1;
	uint8_t *buf = xmalloc(clen + len + 1);
	memcpy(buf, context, clen);
	if (len)
		memcpy(buf + clen, message, len);
	*total = clen + len;
	return buf;
}

void signer_sign(const struct signer *s, const char *context, const void *message, size_t len,
		 uint8_t sig[SIGNER_SIGNATURE_BYTES])
{
	size_t total;
	uint8_t *buf = with_context(context, message, len, &total);
	crypto_sign_detached(sig, NULL, buf, total, s->sk);
	free(buf);
}

bool signer_verify(const uint8_t key[SIGNER_PUBLIC_BYTES], const char *context, const void *message, size_t len,
		   const uint8_t sig[SIGNER_SIGNATURE_BYTES])
{
	size_t total;
	uint8_t *buf = with_context(context, message, len, &total);
	bool ok = crypto_sign_verify_detached(sig, buf, total, key) == 0;
	free(buf);
	return ok;
}
