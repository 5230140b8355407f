package anycablesse

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/cableway/caddy-anycable-sse/cable"
	"github.com/cableway/caddy-anycable-sse/conn"
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

// newFileEngine opens the file broker's store (without writing to it) and
// builds its engine. A store locked by another process, or corrupted, is
// an error naming the path.
func newFileEngine(b *BrokerConfig, limit int, ttl time.Duration) (*engine, error) {
	path, err := b.filePath()
	if err != nil {
		return nil, err
	}
	if b.SyncInterval < 0 {
		return nil, fmt.Errorf("sync_interval must not be negative")
	}
	fb, err := pubsub.NewFileBroker(pubsub.FileOptions{
		Path: path, HistoryLimit: limit, HistoryTTL: ttl, SyncInterval: time.Duration(b.SyncInterval),
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
	hub := pubsub.NewHub(fb, pubsub.HubOptions{})
	if err := hub.Start(); err != nil {
		fb.Close()
		return nil, err
	}
	e := &engine{hub: hub, registry: conn.NewRegistry(), writers: conn.NewPool(writerCount()), replays: cable.NewReplays(), file: fb, metrics: initMetrics()}
	e.writers.SetLogger(caddy.Log().Named("http.handlers.anycable_sse"))
	return e, nil
}
