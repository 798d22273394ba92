package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/multicontact/multicontact/keyring"
)

// SecretKeys says where the service's own keys come from (see keyring):
// they encrypt the projects' identity secrets in Neo4j and sign visitor
// tokens, so they are kept outside Neo4j.
type SecretKeys struct {
	// Env is MULTICONTACT_SECRET_KEY (environment only): the current key in
	// base64; Old is MULTICONTACT_OLD_SECRET_KEYS, comma-separated keys that
	// still decrypt. When Env is set the file is not read.
	Env, Old string
	// File holds one base64 key a line, the first current
	// (-secret-key-file, MULTICONTACT_SECRET_KEY_FILE). It must exist when
	// set; when not set, DefaultFile is used and created with a new key if
	// missing.
	File        string
	DefaultFile string
}

// defaultSecretKeyFile is where a development server keeps its generated key.
func defaultSecretKeyFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "multicontact", "secret-keys")
}

// Load returns the keyring. It logs where the keys came from, never a key.
func (k SecretKeys) Load(log *slog.Logger) (*keyring.Keyring, error) {
	if k.Env != "" {
		ring, err := keyring.Parse(k.Env + "\n" + k.Old)
		if err != nil {
			return nil, fmt.Errorf("MULTICONTACT_SECRET_KEY, MULTICONTACT_OLD_SECRET_KEYS: %w", err)
		}
		log.Info("secret keys from the environment")
		return ring, nil
	}
	path, created := k.File, false
	if path == "" {
		path = k.DefaultFile
		var err error
		if created, err = createKeyFile(path); err != nil {
			return nil, fmt.Errorf("create the secret key file %s: %w", path, err)
		}
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	if k.Old != "" {
		text = append(text, "\n"+k.Old...)
	}
	ring, err := keyring.Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	if created {
		log.Warn("no secret key configured: generated one for this machine; set MULTICONTACT_SECRET_KEY or "+
			"MULTICONTACT_SECRET_KEY_FILE in production, as identity secrets cannot be read without it", "file", path)
	} else {
		log.Info("secret keys from a file", "file", path)
	}
	return ring, nil
}

// createKeyFile writes a new key to path unless the file exists; it
// reports whether it wrote one. The file is readable by its owner only.
func createKeyFile(path string) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = f.WriteString(strings.Join([]string{
		"# Multicontact's secret keys: one base64 key (32 bytes) a line; the first encrypts, all decrypt.",
		"# To rotate, add a new key (openssl rand -base64 32) as the first line and keep the old one below",
		"# until the service has started once with both.",
		keyring.Generate(), ""}, "\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err == nil, err
}
