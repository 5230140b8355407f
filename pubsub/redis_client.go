package pubsub

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/cableway/caddy-anycable-sse/internal/redact"
)

// redisConfig is a parsed Redis URL: exactly one of the option sets is set.
type redisConfig struct {
	single   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
}

// Kind names the deployment: "standalone", "cluster" or "sentinel".
func (c *redisConfig) Kind() string {
	switch {
	case c.cluster != nil:
		return "cluster"
	case c.failover != nil:
		return "sentinel"
	default:
		return "standalone"
	}
}

// CheckRedisURL checks a Redis URL as RedisOptions.URL and the ingesters
// accept it, without I/O, and returns the deployment kind ("standalone",
// "cluster" or "sentinel"). The forms:
//
//	redis://[user:password@]host:port[/db][?options]     standalone
//	rediss://...                                         standalone over TLS
//	unix:///path/to/redis.sock[?db=N]                    standalone, Unix socket
//	redis://[user:password@]h1:p1,h2:p2,...              cluster (a comma list;
//	redis://h1:p1,redis://h2:p2                          items may be URLs)
//	redis+cluster://[user:password@]host:port            cluster from one seed
//	redis://host:port?addr=h2:p2&addr=h3:p3&cluster=true  (go-redis form, cluster)
//	redis+sentinel://[user:password@]s1:p1[,s2:p2]/master[/db][?sentinel_password=...]
//	rediss+sentinel://...                                Sentinel, TLS to Redis
//
// The user and password are Redis's (ACL or requirepass); a Sentinel's own
// password goes in sentinel_username / sentinel_password.
func CheckRedisURL(s string) (kind string, err error) {
	c, err := parseRedisURL(s)
	if err != nil {
		return "", err
	}
	return c.Kind(), nil
}

func parseRedisURL(s string) (*redisConfig, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("pubsub: empty redis URL")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil, fmt.Errorf("pubsub: redis URL %q has no scheme (redis://, rediss://, unix://, redis+sentinel://)", redactURL(s))
	}
	var c redisConfig
	var err error
	switch strings.ToLower(scheme) {
	case "redis", "rediss":
		if strings.Contains(rest, ",") {
			c.cluster, err = parseClusterList(strings.ToLower(scheme), rest)
		} else if u, perr := url.Parse(s); perr == nil && u.Query().Get("cluster") != "" {
			q := u.Query()
			q.Del("cluster")
			u.RawQuery = q.Encode()
			c.cluster, err = redis.ParseClusterURL(u.String())
		} else {
			c.single, err = redis.ParseURL(s)
		}
	case "unix":
		c.single, err = redis.ParseURL(s)
	case "redis+cluster", "rediss+cluster":
		base := strings.TrimSuffix(strings.ToLower(scheme), "+cluster")
		c.cluster, err = parseClusterList(base, rest)
	case "redis+sentinel", "rediss+sentinel", "redis-sentinel", "rediss-sentinel", "sentinel":
		tls := strings.HasPrefix(strings.ToLower(scheme), "rediss")
		c.failover, err = parseSentinel(tls, rest)
	default:
		return nil, fmt.Errorf("pubsub: redis URL scheme %q not supported", scheme)
	}
	if err == nil {
		err = c.checkPorts()
	}
	if err != nil {
		// go-redis and net/url quote the URL, password included.
		return nil, fmt.Errorf("pubsub: redis URL %q: %w", redactURL(s), redact.Error(err, s))
	}
	return &c, nil
}

// checkPorts refuses a port outside 1-65535, which go-redis accepts and
// only a connection attempt would refuse.
func (c *redisConfig) checkPorts() error {
	var addrs []string
	switch {
	case c.cluster != nil:
		addrs = c.cluster.Addrs
	case c.failover != nil:
		addrs = c.failover.SentinelAddrs
	case c.single.Network != "unix":
		addrs = []string{c.single.Addr}
	}
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("address %q: %w", a, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("address %q: port must be 1-65535", a)
		}
	}
	return nil
}

// redactURL hides the passwords of a URL for error messages.
func redactURL(s string) string { return redact.URL(s) }

// parseClusterList parses "[user:pass@]h1:p1,h2:p2[/...][?query]" and
// "h1:p1,redis://h2:p2": the first item carries the credentials and the
// query, later items only add seed addresses.
func parseClusterList(scheme, rest string) (*redis.ClusterOptions, error) {
	items := strings.Split(rest, ",")
	first := scheme + "://" + items[0]
	var extra []string
	for _, it := range items[1:] {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		if _, r, ok := strings.Cut(it, "://"); ok {
			it = r
		}
		if at := strings.LastIndex(it, "@"); at >= 0 {
			it = it[at+1:]
		}
		// The last item may carry the path and query of the whole URL.
		if i := strings.IndexAny(it, "/?"); i >= 0 {
			first += it[i:]
			it = it[:i]
		}
		if _, _, err := net.SplitHostPort(it); err != nil {
			return nil, fmt.Errorf("cluster address %q: %w", it, err)
		}
		extra = append(extra, it)
	}
	u, err := url.Parse(first)
	if err != nil {
		return nil, err
	}
	// A cluster has no databases: drop a "/0" path.
	if p := strings.Trim(u.Path, "/"); p == "" || p == "0" {
		u.Path = ""
	} else {
		return nil, fmt.Errorf("a cluster has no database %q", p)
	}
	o, err := redis.ParseClusterURL(u.String())
	if err != nil {
		return nil, err
	}
	o.Addrs = append(o.Addrs, extra...)
	return o, nil
}

// parseSentinel parses "[user:pass@]s1:p1[,s2:p2]/master[/db][?query]".
func parseSentinel(useTLS bool, rest string) (*redis.FailoverOptions, error) {
	o := &redis.FailoverOptions{}
	var query string
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i+1:]
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		ui, err := url.PathUnescape(rest[:at])
		if err != nil {
			return nil, err
		}
		o.Username, o.Password, _ = strings.Cut(ui, ":")
		rest = rest[at+1:]
	}
	hosts, path, _ := strings.Cut(rest, "/")
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, "26379")
		}
		o.SentinelAddrs = append(o.SentinelAddrs, h)
	}
	if len(o.SentinelAddrs) == 0 {
		return nil, errors.New("no sentinel address")
	}
	segs := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, err
	}
	switch len(segs) {
	case 0:
	case 1, 2:
		o.MasterName = segs[0]
		if len(segs) == 2 {
			if o.DB, err = strconv.Atoi(segs[1]); err != nil {
				return nil, fmt.Errorf("database %q", segs[1])
			}
		}
	default:
		return nil, fmt.Errorf("path %q: want /<master>[/<db>]", path)
	}
	for k, v := range q {
		val := v[len(v)-1]
		switch k {
		case "master_name", "master":
			o.MasterName = val
		case "db":
			if o.DB, err = strconv.Atoi(val); err != nil {
				return nil, fmt.Errorf("database %q", val)
			}
		case "sentinel_username":
			o.SentinelUsername = val
		case "sentinel_password":
			o.SentinelPassword = val
		case "replica_only", "route_randomly":
			// reads always go to the master here
		default:
			return nil, fmt.Errorf("unknown sentinel option %q", k)
		}
	}
	if o.MasterName == "" {
		return nil, errors.New("no master name (redis+sentinel://host:26379/<master>)")
	}
	if useTLS {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

// clientTuning is what differs between the broker's clients.
type clientTuning struct {
	name    string
	retries int           // MaxRetries: -1 disables
	timeout time.Duration // read, write and dial timeout
	pool    int           // 0: go-redis default
}

// client creates a client for the configuration. go-redis clients connect
// lazily, so this does no I/O.
func (c *redisConfig) client(t clientTuning) redis.UniversalClient {
	disabled := &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	cloneTLS := func(cfg *tls.Config) *tls.Config {
		if cfg == nil {
			return nil
		}
		return cfg.Clone()
	}
	switch {
	case c.cluster != nil:
		o := *c.cluster
		o.TLSConfig = cloneTLS(o.TLSConfig)
		o.Addrs = append([]string(nil), o.Addrs...)
		o.ClientName = t.name
		o.MaxRetries = t.retries
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = t.timeout, t.timeout, t.timeout
		o.ContextTimeoutEnabled = true
		// A refused dial fails fast: publishes answer 503 promptly.
		o.DialerRetries, o.DialerRetryTimeout = 2, 50*time.Millisecond
		o.DisableIdentity = true
		o.MaintNotificationsConfig = disabled
		if t.pool > 0 {
			o.PoolSize = t.pool
		}
		return redis.NewClusterClient(&o)
	case c.failover != nil:
		o := *c.failover
		o.TLSConfig = cloneTLS(o.TLSConfig)
		o.SentinelAddrs = append([]string(nil), o.SentinelAddrs...)
		o.ClientName = t.name
		o.MaxRetries = t.retries
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = t.timeout, t.timeout, t.timeout
		o.ContextTimeoutEnabled = true
		// A refused dial fails fast: publishes answer 503 promptly.
		o.DialerRetries, o.DialerRetryTimeout = 2, 50*time.Millisecond
		o.DisableIdentity = true
		if t.pool > 0 {
			o.PoolSize = t.pool
		}
		return redis.NewFailoverClient(&o)
	default:
		o := *c.single
		o.TLSConfig = cloneTLS(o.TLSConfig)
		o.ClientName = t.name
		o.MaxRetries = t.retries
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = t.timeout, t.timeout, t.timeout
		o.ContextTimeoutEnabled = true
		// A refused dial fails fast: publishes answer 503 promptly.
		o.DialerRetries, o.DialerRetryTimeout = 2, 50*time.Millisecond
		o.DisableIdentity = true
		o.MaintNotificationsConfig = disabled
		if t.pool > 0 {
			o.PoolSize = t.pool
		}
		return redis.NewClient(&o)
	}
}
