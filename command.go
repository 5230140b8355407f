package anycablesse

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/cableway/caddy-anycable-sse/protocol"
)

// Two helpers for trying things out and debugging a deployment without the
// Rails app at hand: the signed stream names and the JWTs it would produce.
func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "anycable-sign-stream",
		Usage: "--secret <secret> | --secret-key-base <skb> <stream>",
		Short: "Prints a signed stream name for ?signed_stream= or ?turbo_signed_stream_name=",
		Long: `
Signs a stream name the way anycable-rails (and Rails' MessageVerifier) does:
base64(JSON(name)) + "--" + hex(HMAC-SHA256(key, base64)). The key is --secret
(anycable_sse's streams_secrets / turbo_streams_secrets), or the Turbo key
derived from Rails' secret_key_base with --secret-key-base. The secret may
also come from the ANYCABLE_SECRET environment variable.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("secret", "", "streams secret (default: $ANYCABLE_SECRET)")
			cmd.Flags().String("secret-key-base", "", "Rails secret_key_base, for Turbo Streams names")
			cmd.Args = cobra.ExactArgs(1)
			cmd.RunE = func(cmd *cobra.Command, args []string) error {
				secret, _ := cmd.Flags().GetString("secret")
				skb, _ := cmd.Flags().GetString("secret-key-base")
				key, err := signingKey(secret, skb)
				if err != nil {
					return err
				}
				if err := protocol.ValidStreamName(args[0], defaultMaxStreamName); err != nil {
					return err
				}
				fmt.Println(protocol.SignStream(key, args[0]))
				return nil
			}
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "anycable-keys",
		Usage: "--secret <secret>",
		Short: "Prints the keys anycable_sse derives from secret, for anycable-rails",
		Long: `
Prints, as environment variables, the keys that anycable_sse derives from its
secret exactly as AnyCable does: the broadcast key (HMAC-SHA256 of
"broadcast-cable", hex), the HTTP RPC secret (of "rpc-cable"), and the streams
and JWT secrets (the secret itself). Give them to an anycable-rails that
configures each key on its own. The secret may also come from ANYCABLE_SECRET.
The output holds secrets: do not paste it into logs or tickets.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("secret", "", "the secret (default: $ANYCABLE_SECRET)")
			cmd.Args = cobra.NoArgs
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				secret, _ := cmd.Flags().GetString("secret")
				key, err := signingKey(secret, "")
				if err != nil {
					return err
				}
				printKeys(cmd.OutOrStdout(), string(key))
				return nil
			}
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "anycable-jwt",
		Usage: "--secret <secret> --identifiers <json> [--ttl <duration>]",
		Short: "Prints a JWT that anycable_sse accepts as ?jid= or X-JID",
		Long: `
Mints an HS256 token with the claims anycable-rails-jwt writes: "ext" (the
connection identifiers, a JSON string) and "exp". The secret is jwt_secret
(or secret) of the anycable_sse config, or $ANYCABLE_SECRET.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("secret", "", "JWT secret (default: $ANYCABLE_SECRET)")
			cmd.Flags().String("identifiers", "", `connection identifiers, e.g. {"user_id":42}`)
			cmd.Flags().Duration("ttl", time.Hour, "how long the token is valid")
			cmd.Args = cobra.NoArgs
			cmd.RunE = func(cmd *cobra.Command, _ []string) error {
				secret, _ := cmd.Flags().GetString("secret")
				ids, _ := cmd.Flags().GetString("identifiers")
				ttl, _ := cmd.Flags().GetDuration("ttl")
				key, err := signingKey(secret, "")
				if err != nil {
					return err
				}
				if ids == "" {
					return errors.New("--identifiers is required")
				}
				tok, err := protocol.NewJWTVerifier([][]byte{key}, 0).Sign(ids, time.Now().Add(ttl))
				if err != nil {
					return err
				}
				fmt.Println(tok)
				return nil
			}
		},
	})
}

// printKeys writes the keys anycable_sse derives from secret, as
// environment variables for anycable-rails (and anycable-go), so a side
// that wants each key explicitly gets the values the module uses.
func printKeys(w io.Writer, secret string) {
	fmt.Fprintf(w, "# The keys anycable_sse derives from its secret (as AnyCable does).\n")
	fmt.Fprintf(w, "ANYCABLE_SECRET=%s\n", secret)
	fmt.Fprintf(w, "ANYCABLE_BROADCAST_KEY=%s\n", protocol.DeriveKey(secret, protocol.PurposeBroadcast))
	fmt.Fprintf(w, "ANYCABLE_HTTP_RPC_SECRET=%s\n", protocol.DeriveKey(secret, protocol.PurposeRPC))
	fmt.Fprintf(w, "ANYCABLE_STREAMS_SECRET=%s\n", secret)
	fmt.Fprintf(w, "ANYCABLE_JWT_SECRET=%s\n", secret)
}

func signingKey(secret, secretKeyBase string) ([]byte, error) {
	switch {
	case secretKeyBase != "":
		return protocol.TurboKeyFromSecretKeyBase(secretKeyBase), nil
	case secret != "":
		return []byte(secret), nil
	case os.Getenv("ANYCABLE_SECRET") != "":
		return []byte(os.Getenv("ANYCABLE_SECRET")), nil
	}
	return nil, errors.New("give --secret (or set ANYCABLE_SECRET)")
}
