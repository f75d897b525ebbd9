package provtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a throw-away certificate authority with a server certificate for 127.0.0.1 and
// localhost and a phone client certificate, made with crypto/x509 at test time (the same shape
// as a provisioning deployment: SPA-BEHAVIOUR §7.4). Keys are ECDSA P-256.
type PKI struct {
	// Dir holds the PEM files.
	Dir string
	// CAFile, ServerCertFile, ServerKeyFile, ClientCertFile and ClientKeyFile are PEM files
	// in Dir: ca.crt, server.crt, server.key, phone.crt, phone.key.
	CAFile, ServerCertFile, ServerKeyFile, ClientCertFile, ClientKeyFile string
	// CA is the authority's certificate.
	CA *x509.Certificate
	// CAPool holds CA only: the trust anchors a phone uses for this server.
	CAPool *x509.CertPool
	// ServerCert is the server's certificate and key.
	ServerCert tls.Certificate
	// ClientCert is the phone's certificate and key, signed by CA.
	ClientCert tls.Certificate
}

// DefaultClientCN is the common name of the phone certificate when no subject is given: a
// MAC address, as factory client certificates identify the unit (SPA-BEHAVIOUR §7.4).
const DefaultClientCN = "001122aabbcc"

// NewPKI makes a PKI in dir (t.TempDir() when empty). clientSubject names the phone
// certificate; its zero value means O=Linksys, CN=[DefaultClientCN].
func NewPKI(t testing.TB, dir string, clientSubject pkix.Name) *PKI {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	if clientSubject.String() == "" {
		clientSubject = pkix.Name{Organization: []string{"Linksys"}, CommonName: DefaultClientCN}
	}
	p := &PKI{
		Dir:            dir,
		CAFile:         filepath.Join(dir, "ca.crt"),
		ServerCertFile: filepath.Join(dir, "server.crt"),
		ServerKeyFile:  filepath.Join(dir, "server.key"),
		ClientCertFile: filepath.Join(dir, "phone.crt"),
		ClientKeyFile:  filepath.Join(dir, "phone.key"),
	}
	now := time.Now()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "spa900 Test Provisioning CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("pki: ca: %v", err)
	}
	if p.CA, err = x509.ParseCertificate(caDER); err != nil {
		t.Fatalf("pki: ca: %v", err)
	}
	p.CAPool = x509.NewCertPool()
	p.CAPool.AddCert(p.CA)
	writePEM(t, p.CAFile, "CERTIFICATE", caDER)

	issue := func(serial int64, subject pkix.Name, usage x509.ExtKeyUsage, ips []net.IP, dns []string, certFile, keyFile string) tls.Certificate {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      subject,
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
			DNSNames:     dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, caKey)
		if err != nil {
			t.Fatalf("pki: %s: %v", subject.CommonName, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatalf("pki: %s: %v", subject.CommonName, err)
		}
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "PRIVATE KEY", keyDER)
		leaf, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("pki: %s: %v", subject.CommonName, err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	}
	p.ServerCert = issue(2, pkix.Name{CommonName: "127.0.0.1"}, x509.ExtKeyUsageServerAuth,
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, []string{"localhost"}, p.ServerCertFile, p.ServerKeyFile)
	p.ClientCert = issue(3, clientSubject, x509.ExtKeyUsageClientAuth, nil, nil, p.ClientCertFile, p.ClientKeyFile)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("pki: key: %v", err)
	}
	return key
}

// writePEM writes one PEM block, readable by everyone: nginx workers may run as another user.
func writePEM(t testing.TB, name, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
		t.Fatalf("pki: %v", err)
	}
}
