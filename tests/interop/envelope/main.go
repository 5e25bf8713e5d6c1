// p3ke-envelope: an independent implementation (Go's standard library only: crypto/hkdf, crypto/aes,
// crypto/cipher) of the segmented AES-256-GCM file format of libs/platform/p3ke_platform/envelope.py, used by
// tests/integration/test_envelope_go_interop.py to check the Python side both ways.
//
//	p3ke-envelope decrypt DATAKEY_HEX AAD_HEX < encrypted > plaintext
//	p3ke-envelope encrypt DATAKEY_HEX AAD_HEX SEGMENT_SIZE < plaintext > encrypted
package main

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

const (
	magic      = "P3KEenc1"
	saltBytes  = 16
	prefixSize = 7
	headerSize = len(magic) + 4 + saltBytes + prefixSize
	tagBytes   = 16
)

func streamAEAD(dataKey, salt, aad []byte) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, dataKey, salt, "p3ke-envelope/stream/v1"+string(aad), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func nonce(prefix []byte, counter uint32, last bool) []byte {
	n := append([]byte{}, prefix...)
	n = binary.BigEndian.AppendUint32(n, counter)
	if last {
		return append(n, 1)
	}
	return append(n, 0)
}

func decrypt(dataKey, aad, data []byte) ([]byte, error) {
	if len(data) < headerSize || string(data[:len(magic)]) != magic {
		return nil, errors.New("no header")
	}
	header := data[:headerSize]
	segment := int(binary.BigEndian.Uint32(header[8:12]))
	aead, err := streamAEAD(dataKey, header[12:12+saltBytes], aad)
	if err != nil {
		return nil, err
	}
	prefix := header[12+saltBytes:]
	body := data[headerSize:]
	var out bytes.Buffer
	for counter := uint32(0); ; counter++ {
		size := segment + tagBytes
		last := len(body) <= size
		chunk := body
		if !last {
			chunk = body[:size]
		}
		plain, err := aead.Open(nil, nonce(prefix, counter, last), chunk, header)
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w", counter, err)
		}
		out.Write(plain)
		if last {
			return out.Bytes(), nil
		}
		body = body[size:]
	}
}

func encrypt(dataKey, aad, plain []byte, segment int) ([]byte, error) {
	header := append([]byte(magic), binary.BigEndian.AppendUint32(nil, uint32(segment))...)
	random := make([]byte, saltBytes+prefixSize)
	if _, err := rand.Read(random); err != nil {
		return nil, err
	}
	header = append(header, random...)
	aead, err := streamAEAD(dataKey, random[:saltBytes], aad)
	if err != nil {
		return nil, err
	}
	prefix := random[saltBytes:]
	out := append([]byte{}, header...)
	for counter := uint32(0); ; counter++ {
		last := len(plain) <= segment
		chunk := plain
		if !last {
			chunk = plain[:segment]
		}
		out = aead.Seal(out, nonce(prefix, counter, last), chunk, header)
		if last {
			return out, nil
		}
		plain = plain[segment:]
	}
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: p3ke-envelope decrypt|encrypt DATAKEY_HEX AAD_HEX [SEGMENT_SIZE]")
		os.Exit(2)
	}
	dataKey, err1 := hex.DecodeString(os.Args[2])
	aad, err2 := hex.DecodeString(os.Args[3])
	input, err3 := io.ReadAll(os.Stdin)
	if err := errors.Join(err1, err2, err3); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out []byte
	var err error
	switch os.Args[1] {
	case "decrypt":
		out, err = decrypt(dataKey, aad, input)
	case "encrypt":
		segment, convErr := strconv.Atoi(os.Args[4])
		if convErr != nil {
			err = convErr
			break
		}
		out, err = encrypt(dataKey, aad, input, segment)
	default:
		err = errors.New("unknown command " + os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
