#include "net/net-tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static void tls_error(char *err, size_t err_size, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, err_size, "%s%s%s", what, buf[0] ? ": " : "", buf);
	ERR_clear_error();
}

static int tls_add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

int net_tls_ensure_self_signed(const char *cert_path, const char *key_path,
			       const char *server_name, char *err,
			       size_t err_size)
{
	if (access(cert_path, R_OK) == 0 && access(key_path, R_OK) == 0)
		return 0;

	int ret = -1;
	X509 *cert = NULL;
	FILE *f = NULL;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (key == NULL) {
		tls_error(err, err_size, "generating the TLS key");
		return -1;
	}
	cert = X509_new();
	if (cert == NULL)
		goto out;
	X509_set_version(cert, 2);
	unsigned char serial[8];
	FILE *ur = fopen("/dev/urandom", "rb");
	if (ur == NULL || fread(serial, 1, sizeof(serial), ur) != sizeof(serial)) {
		if (ur != NULL)
			fclose(ur);
		snprintf(err, err_size, "reading /dev/urandom: %s", strerror(errno));
		goto out;
	}
	fclose(ur);
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				   (const unsigned char *)"Tidings self-signed", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)server_name, -1, -1, 0);
	X509_set_issuer_name(cert, name);
	char san[600];
	snprintf(san, sizeof(san), "DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1",
		 server_name);
	if (tls_add_ext(cert, NID_subject_alt_name, san) < 0 ||
	    tls_add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0) {
		tls_error(err, err_size, "building the certificate");
		goto out;
	}
	if (X509_sign(cert, key, EVP_sha256()) == 0) {
		tls_error(err, err_size, "signing the certificate");
		goto out;
	}

	int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, err_size, "%s: %s", key_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) ||
	    fclose(f) != 0) {
		f = NULL;
		snprintf(err, err_size, "writing %s failed", key_path);
		goto out;
	}
	f = fopen(cert_path, "w");
	if (f == NULL) {
		snprintf(err, err_size, "%s: %s", cert_path, strerror(errno));
		goto out;
	}
	if (!PEM_write_X509(f, cert) || fclose(f) != 0) {
		f = NULL;
		snprintf(err, err_size, "writing %s failed", cert_path);
		goto out;
	}
	f = NULL;
	ret = 0;
out:
	if (f != NULL)
		fclose(f);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ret;
}

SSL_CTX *net_tls_server_ctx_create(const char *cert_path, const char *key_path,
				   char *err, size_t err_size)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_error(err, err_size, "creating the TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle clients should cost kilobytes: drop empty record buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		tls_error(err, err_size, "loading tls_cert");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(err, err_size, "loading tls_key");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
