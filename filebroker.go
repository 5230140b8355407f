package anycablesse

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/pubsub"
)

// defaultFilePrefix names the file broker's directory when no prefix is set.
const defaultFilePrefix = "acs"

// checkFilePrefix refuses a prefix that would leave anycable_sse/ in the
// data directory: it becomes a directory name.
func checkFilePrefix(p string) error {
	if p == "" || p == "." || p == ".." || strings.ContainsAny(p, `/\`) || strings.ContainsRune(p, 0) {
		return fmt.Errorf("prefix %q: must be a plain name (it names the store's directory)", p)
	}
	return nil
}

// filePrefix is the prefix of a file broker, defaulted.
func (b *BrokerConfig) filePrefix() string {
	if b.Prefix == "" {
		return defaultFilePrefix
	}
	return b.Prefix
}

// filePath is the store directory of a file broker: the configured path, or
// {caddy data dir}/anycable_sse/{prefix}. It is absolute, so that two
// handlers naming the same store compare equal.
func (b *BrokerConfig) filePath() (string, error) {
	if b.Path != "" {
		// Placeholders such as {env.SSE_DATA} are resolved like the URL's;
		// one that resolves to nothing is an error, not the working directory.
		p := caddy.NewReplacer().ReplaceKnown(b.Path, "")
		if p == "" {
			return "", fmt.Errorf("broker file: path %q resolves to nothing", b.Path)
		}
		return filepath.Abs(p)
	}
	if err := checkFilePrefix(b.filePrefix()); err != nil {
		return "", err
	}
	return filepath.Join(caddy.AppDataDir(), "anycable_sse", b.filePrefix()), nil
}

// fileOpener checks what can be checked of a file broker without taking
// the store's lock (the path resolves, is not a file, and does not sit
// under a file) and returns the function that opens the store when the
// engine starts. Opening is I/O and takes the lock, waiting up to a second
// for it: in Provision it would make caddy validate (and a reload that is
// then rejected) wait for, or fail on, the lock the running Caddy holds. A
// store locked by another process, or corrupted, is an error of the
// config's start, naming the path.
func fileOpener(b *BrokerConfig, limit int, ttl time.Duration) (func() (*pubsub.FileBroker, error), error) {
	path, err := b.filePath()
	if err != nil {
		return nil, err
	}
	if b.SyncInterval < 0 {
		return nil, fmt.Errorf("sync_interval must not be negative")
	}
	if err := checkStorePath(path); err != nil {
		return nil, err
	}
	sync := time.Duration(b.SyncInterval)
	return func() (*pubsub.FileBroker, error) {
		fb, err := pubsub.NewFileBroker(pubsub.FileOptions{
			Path: path, HistoryLimit: limit, HistoryTTL: ttl, SyncInterval: sync,
		})
		if err != nil {
			return nil, err
		}
		if n := fb.EpochsReplaced(); n > 0 {
			// Pooled objects outlive this config: Caddy's current default logger.
			caddy.Log().Named("http.handlers.anycable_sse.file").Warn(
				"the broker store was not closed cleanly after early acknowledgements (sync_interval): every stream moves to a new epoch, clients resuming get reject_history",
				zap.String("path", path), zap.Int("streams", n))
		}
		return fb, nil
	}, nil
}

// checkStorePath refuses a store path that can never be a directory: it,
// or the nearest of its parents that exists, is not a directory. It only
// reads metadata (no lock, nothing created).
func checkStorePath(path string) error {
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("broker file: %s is not a directory", p)
		case err == nil:
			return nil
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			// (ENOTDIR: a parent is a file, found further up.)
			return fmt.Errorf("broker file: %w", err)
		}
		if filepath.Dir(p) == p {
			return nil
		}
	}
}
