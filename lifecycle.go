package anycablesse

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// Background work (bus readers, the writer pool, janitors, the file
// broker's store and writer, the Redis broadcast adapters) starts only when
// a config is started, never in Provision: `caddy validate` and a reload
// that Caddy rejects open no connection and start no goroutine.
//
// The hook is a Caddy app (caddy.App, a stable API): every handler loads
// the config's App through ctx.App in Provision, and Caddy starts every app
// that its config loaded, including those loaded on demand (caddy.go, run:
// it starts ctx.cfg.apps, which LoadModuleByID fills). Apps start in no set
// order, so the HTTP app may serve a request before App.Start has run: the
// handler then starts itself (Handler.ensureStarted); both ways start each
// handler once. Engines stay in the UsagePool across reloads and start
// idempotently, so an engine shared with the running config is simply
// already started.

func init() {
	caddy.RegisterModule(App{})
}

// appName is the app's module ID; configs need not name it (ctx.App loads
// it with an empty config).
const appName = "anycable_sse"

// App starts the engines of the config's anycable_sse handlers when the
// config starts, and on process exit ends their streams. It has no
// configuration.
type App struct {
	handlers []*Handler
	// prev is the app of the config that was running when this one
	// started: if this config's start is then rejected (another app fails
	// to start), prev's settings go back into the shared engines.
	prev *App
	// stopped: Caddy has stopped this app (Start and Stop run under
	// Caddy's config lock, one at a time).
	stopped bool
}

// handlerLife is a handler's start state.
type handlerLife struct {
	mu      sync.Mutex
	running atomic.Bool
}

// lastStarted is the app of the config that started last.
var lastStarted atomic.Pointer[App]

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: appName, New: func() caddy.Module { return new(App) }}
}

// Start starts every handler of the config (its engine, its adapters, its
// settings): an engine that cannot start (a file store locked by another
// process) fails the config's start.
func (a *App) Start() error {
	for _, h := range a.handlers {
		if err := h.start(); err != nil {
			return err
		}
	}
	a.prev = lastStarted.Swap(a)
	return nil
}

// Stop runs when the config is replaced, when its start is aborted, and on
// process exit. On exit it ends every open stream and waits (bounded) for
// the taken-over ones, which the process must not leave before they got
// their disconnect. On a reload nothing ends here: streams outlive reloads
// (Handler.Cleanup applies stream_close_delay).
func (a *App) Stop() error {
	a.stopped = true
	if caddy.Exiting() {
		a.shutdownStreams()
		return nil
	}
	if lastStarted.CompareAndSwap(a, a.prev) && a.prev != nil && !a.prev.stopped {
		// No config started after this one and the previous one still
		// runs: this start was rejected. The running config's settings
		// (history limits, stream_close_delay) go back into the engines.
		for _, h := range a.prev.handlers {
			h.applyLimits()
		}
	}
	return nil
}

// shutdownStreams ends the streams of every engine of the config, in
// parallel, each waiting up to shutdownWait.
func (a *App) shutdownStreams() {
	seen := map[*engine]bool{}
	var wg sync.WaitGroup
	for _, h := range a.handlers {
		if h.engine == nil || seen[h.engine] {
			continue
		}
		seen[h.engine] = true
		reg := h.engine.registry
		wg.Go(func() { reg.Shutdown(shutdownWait) })
	}
	wg.Wait()
}

// hookLifecycle registers the handler with the config's App, and with its
// HTTP server's shutdown: on process exit the server's graceful shutdown
// would otherwise wait (by default forever) for the streams on the handler
// path, if the HTTP app happens to stop before App.Stop ends them.
func (h *Handler) hookLifecycle(ctx caddy.Context) error {
	appIface, err := ctx.App(appName)
	if err != nil {
		return fmt.Errorf("%s app: %w", appName, err)
	}
	app := appIface.(*App)
	app.handlers = append(app.handlers, h)
	if srv, ok := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok && srv != nil {
		registry := h.engine.registry
		srv.RegisterOnShutdown(func() {
			if caddy.Exiting() {
				registry.Shutdown(0) // App.Stop waits
			}
		})
	}
	return nil
}

// ensureStarted starts the handler if its config's App has not yet: a
// request can only arrive once the config is being started.
func (h *Handler) ensureStarted() error {
	if h.life.running.Load() {
		return nil
	}
	return h.start()
}

// start starts the handler's engine (idempotent, shared), gives its SSE
// server the hub and writer pool, applies the history settings and starts
// the Redis broadcast adapters. It runs once per handler.
func (h *Handler) start() error {
	h.life.mu.Lock()
	defer h.life.mu.Unlock()
	if h.life.running.Load() {
		return nil
	}
	if err := h.engine.start(); err != nil {
		return fmt.Errorf("broker %s: %w", h.Broker.logName(h.resolved().broker), err)
	}
	h.sse.Hub = h.engine.hub
	h.sse.Writers = h.takeoverWriters()
	if h.ws != nil {
		// A WebSocket is always taken over: it needs the pool whatever
		// http1_takeover says.
		h.ws.Cable = h.sse.Cable() // the same sessions' settings
		h.ws.Writers = h.engine.writers
	}
	h.started()
	h.life.running.Store(true)
	return nil
}

// logStartErr is the one line a request that found the handler unable to
// start leaves in the log.
func (h *Handler) logStartErr(err error) {
	h.logger.Error("anycable_sse could not start", zap.Error(err))
}

// Interface guards.
var _ caddy.App = (*App)(nil)
