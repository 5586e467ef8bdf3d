/* TLS contexts (OpenSSL 3, TLS 1.2+) for IMAPS/STARTTLS, and the self-signed
 * certificate made on first start when none is configured. */
#ifndef TIDINGS_NET_TLS_H
#define TIDINGS_NET_TLS_H

#include <openssl/ssl.h>

/* Makes a self-signed certificate and key (EC P-256, 10 years, CN and
 * subjectAltName = server_name, 127.0.0.1, localhost) at the given paths
 * unless both exist.  0, or -1 with a message in err. */
int net_tls_ensure_self_signed(const char *cert_path, const char *key_path,
			       const char *server_name, char *err,
			       size_t err_size);
/* A server context loading the certificate chain and key.  NULL on error
 * with a message in err. */
SSL_CTX *net_tls_server_ctx_create(const char *cert_path, const char *key_path,
				   char *err, size_t err_size);

#endif
