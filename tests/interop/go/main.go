// Command p3ke-interop is the Go side of the project's witness interoperability tests: independent code
// (torchwood, transparency-dev/formats, golang.org/x/mod/sumdb/note, golang.org/x/crypto/ssh/agent) that
// signs and verifies what the Python log and witness produce.
//
//	p3ke-interop agent -socket PATH -key-file PEM
//	    serve an ssh-agent holding one Ed25519 key (for litewitness -ssh-agent); prints the key's
//	    SSH SHA256 fingerprint (litewitness -key) on the first line of stdout, then serves until killed
//	p3ke-interop verify-cosigned -log-vkey V -witness-vkey W [-witness-vkey W2 ...] < note
//	    open the note with the log's key and check every witness's cosignature/v1; prints the origin,
//	    the size and one "cosigned <name> <unix time>" line per witness; exit 1 with the reason otherwise
//	p3ke-interop cosign -key-file PEM -name N < note
//	    torchwood's cosignature/v1 signer: prints the cosignature line of the note's checkpoint
//	p3ke-interop vkey -key-file PEM -name N
//	    torchwood's cosignature/v1 verifier key of the key file
package main

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"filippo.io/torchwood"
	formats "github.com/transparency-dev/formats/note"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/mod/sumdb/note"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: p3ke-interop agent|verify-cosigned|cosign|vkey [flags]"))
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	var err error
	switch os.Args[1] {
	case "agent":
		socket := fs.String("socket", "", "path of the ssh-agent socket to create")
		keyFile := fs.String("key-file", "", "PEM (PKCS#8 or OpenSSH) Ed25519 private key")
		fs.Parse(os.Args[2:])
		err = serveAgent(*socket, *keyFile)
	case "verify-cosigned":
		logVkey := fs.String("log-vkey", "", "the log's Ed25519 verifier key (name+id+base64(0x01||key))")
		var witnesses multiFlag
		fs.Var(&witnesses, "witness-vkey", "a witness's cosignature/v1 verifier key (repeatable)")
		fs.Parse(os.Args[2:])
		err = verifyCosigned(os.Stdin, os.Stdout, *logVkey, witnesses)
	case "cosign":
		keyFile := fs.String("key-file", "", "PEM Ed25519 private key of the witness")
		name := fs.String("name", "", "the witness's name")
		fs.Parse(os.Args[2:])
		err = cosign(os.Stdin, os.Stdout, *keyFile, *name)
	case "vkey":
		keyFile := fs.String("key-file", "", "PEM Ed25519 private key of the witness")
		name := fs.String("name", "", "the witness's name")
		fs.Parse(os.Args[2:])
		var s *torchwood.CosignatureSigner
		if s, err = cosignatureSigner(*keyFile, *name); err == nil {
			fmt.Println(s.Verifier().String())
		}
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "p3ke-interop:", err)
	os.Exit(1)
}

func readKey(path string) (ed25519.PrivateKey, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw, err := ssh.ParseRawPrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	switch k := raw.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ed25519.PrivateKey:
		return *k, nil
	}
	return nil, fmt.Errorf("%s: not an Ed25519 private key (%T)", path, raw)
}

func serveAgent(socket, keyFile string) error {
	key, err := readKey(keyFile)
	if err != nil {
		return err
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		return err
	}
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return err
	}
	listener, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-signals
		listener.Close() // removes the socket file; Accept returns net.ErrClosed
	}()
	fmt.Println(ssh.FingerprintSHA256(pub))
	for {
		conn, err := listener.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil
		} else if err != nil {
			return err
		}
		go func() {
			defer conn.Close()
			agent.ServeAgent(keyring, conn) // ends with io.EOF when the client hangs up
		}()
	}
}

func verifyCosigned(in io.Reader, out io.Writer, logVkey string, witnessVkeys []string) error {
	if logVkey == "" || len(witnessVkeys) == 0 {
		return errors.New("-log-vkey and at least one -witness-vkey are required")
	}
	msg, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	logVerifier, err := note.NewVerifier(logVkey)
	if err != nil {
		return fmt.Errorf("log key: %v", err)
	}
	verifiers := []note.Verifier{logVerifier}
	for _, vk := range witnessVkeys {
		v, err := formats.NewVerifierForCosignatureV1(vk)
		if err != nil {
			return fmt.Errorf("witness key %q: %v", vk, err)
		}
		verifiers = append(verifiers, v)
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		return fmt.Errorf("opening the note: %v", err)
	}
	verified := map[[2]string]note.Signature{}
	for _, sig := range n.Sigs {
		verified[[2]string{sig.Name, fmt.Sprint(sig.Hash)}] = sig
	}
	if _, ok := verified[[2]string{logVerifier.Name(), fmt.Sprint(logVerifier.KeyHash())}]; !ok {
		return errors.New("the log's signature is missing")
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil {
		return fmt.Errorf("checkpoint: %v", err)
	}
	fmt.Fprintf(out, "origin %s\nsize %d\n", c.Origin, c.N)
	for _, v := range verifiers[1:] {
		sig, ok := verified[[2]string{v.Name(), fmt.Sprint(v.KeyHash())}]
		if !ok {
			return fmt.Errorf("no verified cosignature of %s (key %08x)", v.Name(), v.KeyHash())
		}
		t, err := formats.CoSigV1Timestamp(sig)
		if err != nil {
			return fmt.Errorf("cosignature of %s: %v", v.Name(), err)
		}
		fmt.Fprintf(out, "cosigned %s %d\n", v.Name(), t.Unix())
	}
	return nil
}

func cosignatureSigner(keyFile, name string) (*torchwood.CosignatureSigner, error) {
	key, err := readKey(keyFile)
	if err != nil {
		return nil, err
	}
	return torchwood.NewCosignatureSigner(name, crypto.Signer(key))
}

func cosign(in io.Reader, out io.Writer, keyFile, name string) error {
	s, err := cosignatureSigner(keyFile, name)
	if err != nil {
		return err
	}
	msg, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	text := msg // a bare checkpoint body, or a signed note whose text is cosigned
	if i := bytes.LastIndex(msg, []byte("\n\n")); i >= 0 {
		text = msg[:i+1]
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		return err
	}
	sigs := signed[bytes.LastIndex(signed, []byte("\n\n"))+2:]
	_, err = out.Write(sigs)
	return err
}
