package bacalhau

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bacalhau-project/bacalhau-canary/pkg/text"
)

// maxCAFileBytes bounds the CA file the canary reads: a bundle of a few
// hundred certificates fits.
const maxCAFileBytes = 1 << 20

// LoadCAs reads a PEM file of CA certificates (BACALHAU_API_TLS_CAFILE)
// and returns the system's roots plus those. A file that cannot be read,
// is over 1 MiB, holds no certificate or a block that does not parse is
// an error naming the problem.
func LoadCAs(path string) (*x509.CertPool, error) {
	f, err := os.Open(path)
	var data []byte
	if err == nil {
		defer f.Close()
		data, err = io.ReadAll(io.LimitReader(f, maxCAFileBytes+1))
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v", text.Quote(path, 200), errors.Unwrap(err))
	}
	if len(data) > maxCAFileBytes {
		return nil, fmt.Errorf("%s is over %d bytes, not a CA file", text.Quote(path, 200), maxCAFileBytes)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	n := 0
	for rest := bytes.TrimSpace(data); len(rest) > 0; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue // a key or parameters next to the certificates
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d does not parse: %v", text.Quote(path, 200), n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", text.Quote(path, 200))
	}
	return pool, nil
}

// certificateProblem says why a certificate failed verification, or false
// when err is not a verification failure.
func certificateProblem(err error) (string, bool) {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		if c := unknown.Cert; c != nil && bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return fmt.Sprintf("is self-signed (%s)", text.Quote(c.Subject.CommonName, 100)), true
		}
		issuer := ""
		if unknown.Cert != nil {
			issuer = " " + text.Quote(unknown.Cert.Issuer.String(), 200)
		}
		return "is signed by an unknown authority" + issuer + " (not in the system's roots nor in BACALHAU_API_TLS_CAFILE)", true
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return "is expired or not yet valid (" + text.Quote(invalid.Detail, 200) + ")", true
		}
		return "is not valid: " + text.Quote(invalid.Error(), 300), true
	case errors.As(err, &host):
		return "is not valid for " + text.Quote(host.Host, 100) + " (" + text.Quote(host.Error(), 300) + ")", true
	}
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return "failed verification: " + text.Quote(verify.Err.Error(), 300), true
	}
	return "", false
}
