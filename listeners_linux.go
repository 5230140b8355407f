package anycablesse

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Caddy listens with SO_REUSEPORT, so a second process on the same port
// (a forgotten `go run` in another terminal) starts without an error and
// the kernel splits the clients between the two: with in-memory brokers,
// each sees only its own broadcasts. warnSharedListeners tells when that
// is the case, from /proc (no privileges needed for one's own sockets).
func warnSharedListeners(log *zap.Logger) {
	own, err := ownSocketInodes()
	if err != nil {
		return
	}
	var tables []io.Reader
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		defer f.Close()
		tables = append(tables, f)
	}
	for _, addr := range sharedListeners(own, tables...) {
		log.Warn("another process listens on the same port: the kernel splits new connections between the two processes (SO_REUSEPORT), "+
			"and with the memory broker a broadcast reaches only one process's clients", zap.String("address", addr))
	}
}

// ownSocketInodes lists the socket inodes of this process's descriptors.
func ownSocketInodes() (map[string]bool, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	own := make(map[string]bool, len(fds))
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			own[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	return own, nil
}

// sharedListeners reads /proc/net/tcp-format tables and returns the local
// addresses (host:port) where a socket of ours and a socket of another
// process both listen.
func sharedListeners(own map[string]bool, tables ...io.Reader) []string {
	type state struct{ ours, theirs bool }
	byAddr := map[string]*state{}
	var order []string
	for _, t := range tables {
		sc := bufio.NewScanner(t)
		sc.Scan() // header
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			st := byAddr[f[1]]
			if st == nil {
				st = &state{}
				byAddr[f[1]] = st
				order = append(order, f[1])
			}
			if own[f[9]] {
				st.ours = true
			} else {
				st.theirs = true
			}
		}
	}
	var out []string
	for _, a := range order {
		if st := byAddr[a]; st.ours && st.theirs {
			out = append(out, procAddr(a))
		}
	}
	return out
}

// procAddr turns /proc's "0100007F:1F90" into "127.0.0.1:8080" (IPv4) or
// keeps the hex host of an IPv6 address with the decimal port.
func procAddr(a string) string {
	host, port, ok := strings.Cut(a, ":")
	p, err := strconv.ParseUint(port, 16, 16)
	if !ok || err != nil {
		return a
	}
	if len(host) == 8 {
		if v, err := strconv.ParseUint(host, 16, 32); err == nil {
			// /proc writes the address in host byte order (little-endian).
			host = fmt.Sprintf("%d.%d.%d.%d", v&0xff, v>>8&0xff, v>>16&0xff, v>>24)
		}
	} else {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.FormatUint(p, 10)
}
