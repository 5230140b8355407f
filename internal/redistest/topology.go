package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// setupTimeout bounds every wait of StartCluster and StartSentinel. A
// fresh cluster master refuses to turn its state ok for 2 s after it
// starts (Redis's CLUSTER_WRITABLE_DELAY), so a cluster takes about that.
const setupTimeout = 15 * time.Second

// skipOrFail skips the test, or fails it when ANYCABLE_SSE_REQUIRE_REDIS=1.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("ANYCABLE_SSE_REQUIRE_REDIS") == "1" {
		t.Fatal(msg + " (ANYCABLE_SSE_REQUIRE_REDIS=1)")
	}
	t.Skip(msg)
}

var versionRE = regexp.MustCompile(`v=(\d+)\.(\d+)`)

// serverVersion returns the major and minor version of redis-server.
func serverVersion(t testing.TB, bin string) (int, int) {
	t.Helper()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("%s --version: unexpected output %q", bin, out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return major, minor
}

// waitFor polls cond until it returns nil or setupTimeout passes, and then
// fails the test with cond's last error and the logs of the servers.
func waitFor(t testing.TB, what string, cond func() error, logs ...*Server) {
	t.Helper()
	deadline := time.Now().Add(setupTimeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, s := range logs {
				fmt.Fprintf(&b, "\n--- %s log:\n%s", s.Addr(), s.logTail())
			}
			t.Fatalf("timed out after %v waiting for %s: %v%s", setupTimeout, what, err, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Cluster is a Redis Cluster of private redis-server masters (no
// replicas) on loopback ports, without persistence. Every node is killed
// when the test ends.
type Cluster struct {
	t testing.TB

	// Nodes are the masters, in slot order: node i serves the i-th of
	// equal slot ranges. Each can be stopped, frozen, etc. like a Server
	// (a cluster without replicas is down while one is).
	Nodes []*Server

	// Admin is a cluster client for the test's own commands.
	Admin *redis.ClusterClient
}

// StartCluster starts a cluster of masters redis-server processes (at
// least 1; Redis 7.0 or later), assigns the 16384 slots in equal ranges and
// waits until every node reports cluster_state:ok. It skips the test
// without redis-server (fails it when ANYCABLE_SSE_REQUIRE_REDIS=1).
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	bin := Require(t)
	if masters < 1 {
		t.Fatalf("a cluster of %d masters", masters)
	}
	// --cluster-port and CLUSTER ADDSLOTSRANGE are Redis 7.0's: the bus
	// port is chosen here, since port+10000 may not be free (or exist).
	if major, minor := serverVersion(t, bin); major < 7 {
		skipOrFail(t, "redis-server %d.%d: the cluster tests need Redis 7.0 or later", major, minor)
	}
	ports := freePorts(t, 2*masters)
	c := &Cluster{t: t}
	for i := range masters {
		dir := t.TempDir()
		s := &Server{t: t, bin: bin, dir: dir, port: ports[2*i], extra: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-port", strconv.Itoa(ports[2*i+1]),
			"--cluster-announce-ip", "127.0.0.1",
			"--cluster-node-timeout", "5000",
		}}
		s.startAdmin()
		c.Nodes = append(c.Nodes, s)
	}
	for _, s := range c.Nodes {
		s.Start()
	}
	ctx := context.Background()
	const slots = 16384
	for i, s := range c.Nodes {
		lo, hi := i*slots/masters, (i+1)*slots/masters-1
		s.Do("CLUSTER", "ADDSLOTSRANGE", lo, hi)
		// Distinct config epochs, as redis-cli --cluster create sets them:
		// no epoch collision to resolve after the handshake.
		s.Do("CLUSTER", "SET-CONFIG-EPOCH", i+1)
	}
	for i, s := range c.Nodes[1:] {
		c.Nodes[0].Do("CLUSTER", "MEET", "127.0.0.1", s.port, ports[2*(i+1)+1])
	}
	for _, s := range c.Nodes {
		waitFor(t, "cluster_state:ok on "+s.Addr(), func() error {
			info, err := s.Admin.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			for _, want := range []string{"cluster_state:ok", "cluster_slots_assigned:16384",
				"cluster_known_nodes:" + strconv.Itoa(masters)} {
				if !strings.Contains(info, want+"\r\n") {
					return fmt.Errorf("CLUSTER INFO has no %q:\n%s", want, info)
				}
			}
			return nil
		}, c.Nodes...)
	}
	c.Admin = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DisableIdentity: true,
		ContextTimeoutEnabled: true, ReadTimeout: 2 * time.Second, DialTimeout: time.Second})
	t.Cleanup(func() { c.Admin.Close() })
	// Every node must also agree on who serves every slot, so that the
	// admin client's first slot table is the final one.
	waitFor(t, "every node's slot table", func() error {
		for _, s := range c.Nodes {
			ranges, err := s.Admin.ClusterSlots(ctx).Result()
			if err != nil {
				return err
			}
			if len(ranges) != masters {
				return fmt.Errorf("%s knows %d slot ranges", s.Addr(), len(ranges))
			}
			for _, r := range ranges {
				want := ""
				for i, n := range c.Nodes {
					if i*slots/masters == int(r.Start) {
						want = n.Addr()
					}
				}
				if len(r.Nodes) == 0 || r.Nodes[0].Addr != want {
					return fmt.Errorf("%s: slots %d-%d served by %+v", s.Addr(), r.Start, r.End, r.Nodes)
				}
			}
		}
		return nil
	}, c.Nodes...)
	return c
}

// Addrs are the nodes' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// URL is "redis+cluster://h1:p1,h2:p2,...", every node as a seed.
func (c *Cluster) URL() string { return "redis+cluster://" + strings.Join(c.Addrs(), ",") }

// NodeOf returns the master that serves key's slot now (as the first node
// sees it).
func (c *Cluster) NodeOf(key string) *Server {
	c.t.Helper()
	slot, err := c.Nodes[0].Admin.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		c.t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
	}
	return c.nodeOfSlot(int(slot))
}

func (c *Cluster) nodeOfSlot(slot int) *Server {
	c.t.Helper()
	ranges, err := c.Nodes[0].Admin.ClusterSlots(context.Background()).Result()
	if err != nil {
		c.t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	for _, r := range ranges {
		if int(r.Start) <= slot && slot <= int(r.End) && len(r.Nodes) > 0 {
			for _, s := range c.Nodes {
				if s.Addr() == r.Nodes[0].Addr {
					return s
				}
			}
		}
	}
	c.t.Fatalf("no node serves slot %d: %+v", slot, ranges)
	return nil
}

// MoveSlot moves the slot of key, and the keys in it, to the master to, as
// redis-cli --cluster reshard does (IMPORTING/MIGRATING, MIGRATE, SETSLOT
// NODE on every master), and waits until every master agrees. Clients that
// cached the old owner get MOVED.
func (c *Cluster) MoveSlot(key string, to *Server) {
	c.t.Helper()
	ctx := context.Background()
	slot, err := c.Nodes[0].Admin.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		c.t.Fatalf("CLUSTER KEYSLOT %q: %v", key, err)
	}
	from := c.nodeOfSlot(int(slot))
	if from == to {
		return
	}
	fromID, toID := from.Do("CLUSTER", "MYID"), to.Do("CLUSTER", "MYID")
	to.Do("CLUSTER", "SETSLOT", slot, "IMPORTING", fromID)
	from.Do("CLUSTER", "SETSLOT", slot, "MIGRATING", toID)
	for {
		keys, err := from.Admin.ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
		if err != nil {
			c.t.Fatalf("CLUSTER GETKEYSINSLOT %d: %v", slot, err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", "127.0.0.1", to.port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		from.Do(args...)
	}
	// The new owner first, as redis-cli does.
	to.Do("CLUSTER", "SETSLOT", slot, "NODE", toID)
	from.Do("CLUSTER", "SETSLOT", slot, "NODE", toID)
	for _, s := range c.Nodes {
		if s != from && s != to {
			s.Do("CLUSTER", "SETSLOT", slot, "NODE", toID)
		}
	}
	for _, s := range c.Nodes {
		waitFor(c.t, fmt.Sprintf("%s to see slot %d on %s", s.Addr(), slot, to.Addr()), func() error {
			ranges, err := s.Admin.ClusterSlots(ctx).Result()
			if err != nil {
				return err
			}
			for _, r := range ranges {
				if int(r.Start) <= int(slot) && int(slot) <= int(r.End) && len(r.Nodes) > 0 && r.Nodes[0].Addr == to.Addr() {
					return nil
				}
			}
			return fmt.Errorf("slot ranges %+v", ranges)
		}, c.Nodes...)
	}
}

// FlushAll empties every master.
func (c *Cluster) FlushAll() {
	c.t.Helper()
	for _, s := range c.Nodes {
		s.FlushAll()
	}
}

// Do runs a command through the cluster client (routed by its key) and
// fails the test on error.
func (c *Cluster) Do(args ...any) any {
	c.t.Helper()
	v, err := c.Admin.Do(context.Background(), args...).Result()
	if err != nil && err != redis.Nil {
		c.t.Fatalf("%v: %v", args, err)
	}
	return v
}

// SentinelMaster is the master name StartSentinel monitors.
const SentinelMaster = "mymaster"

// Sentinel is a private master redis-server and one Sentinel process that
// monitors it as "mymaster" with quorum 1. Both are killed when the test
// ends.
type Sentinel struct {
	// Master is the monitored redis-server.
	Master *Server
	// Sentinel is the Sentinel process; its Admin talks to the Sentinel.
	Sentinel *Server
	// Admin is the master's admin client.
	Admin *redis.Client
}

// StartSentinel starts a master and a Sentinel ("redis-server <conf>
// --sentinel") monitoring it, and waits until the Sentinel is connected to
// the master and names it. It skips the test without redis-server (fails
// it when ANYCABLE_SSE_REQUIRE_REDIS=1).
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	master := Start(t)
	dir := t.TempDir()
	port := freePorts(t, 1)[0]
	conf := filepath.Join(dir, "sentinel.conf")
	// Sentinel rewrites its configuration file (its id, what it learnt):
	// it must be a writable file of its own.
	text := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
daemonize no
dir %q
logfile %q
sentinel monitor %s 127.0.0.1 %d 1
sentinel down-after-milliseconds %s 5000
sentinel failover-timeout %s 10000
`, port, dir, filepath.Join(dir, "redis.log"), SentinelMaster, master.port, SentinelMaster, SentinelMaster)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	sen := &Server{t: t, bin: master.bin, dir: dir, port: port, conf: conf}
	sen.startAdmin()
	sen.Start()
	ctx := context.Background()
	waitFor(t, "the Sentinel connected to the master", func() error {
		addr, err := sen.Admin.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster).StringSlice()
		if err != nil {
			return err
		}
		if len(addr) != 2 || addr[0]+":"+addr[1] != master.Addr() {
			return fmt.Errorf("master address %v, want %s", addr, master.Addr())
		}
		m, err := sen.Admin.Do(ctx, "SENTINEL", "MASTER", SentinelMaster).Result()
		if err != nil {
			return err
		}
		flags := sentinelField(m, "flags")
		if flags != "master" {
			return fmt.Errorf("master flags %q", flags)
		}
		return nil
	}, master, sen)
	return &Sentinel{Master: master, Sentinel: sen, Admin: master.Admin}
}

// sentinelField reads a field of a SENTINEL MASTER reply (a flat list of
// names and values in RESP2, a map in RESP3).
func sentinelField(reply any, name string) string {
	switch r := reply.(type) {
	case []any:
		for i := 0; i+1 < len(r); i += 2 {
			if k, _ := r[i].(string); k == name {
				v, _ := r[i+1].(string)
				return v
			}
		}
	case map[any]any:
		v, _ := r[name].(string)
		return v
	}
	return ""
}

// URL is "redis+sentinel://<sentinel>/mymaster".
func (s *Sentinel) URL() string {
	return "redis+sentinel://" + s.Sentinel.Addr() + "/" + SentinelMaster
}

// FlushAll empties the master.
func (s *Sentinel) FlushAll() { s.Master.FlushAll() }

// Do runs a command on the master and fails the test on error.
func (s *Sentinel) Do(args ...any) any {
	s.Master.t.Helper()
	return s.Master.Do(args...)
}
