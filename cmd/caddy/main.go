// Command caddy is Caddy with its standard modules plus anycable_sse, so the
// quick start needs no xcaddy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/cableway/caddy-anycable-sse"
)

func main() {
	caddycmd.Main()
}
