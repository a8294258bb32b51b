// Command serve serves the canary's HTTP functions locally or in a
// container: every scenario at /<name>, or only FUNCTION_TARGET's at /.
//
//	FUNCTION_TARGET=list PORT=8080 BACALHAU_API_HOST=… CANARY_METRICS=stdout go run ./functions/cmd/serve
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/sethvargo/go-envconfig"

	_ "github.com/bacalhau-project/bacalhau-canary/functions"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, envconfig.OsLookuper(), os.Stderr)
	stop()
	os.Exit(code)
}

func realMain(ctx context.Context, env envconfig.Lookuper, stderr io.Writer) int {
	port := "8080"
	if p, ok := env.Lookup("PORT"); ok && p != "" {
		port = p
	}
	host, _ := env.Lookup("HOST") // empty: every interface, as Cloud Run needs
	errc := make(chan error, 1)
	go func() { errc <- funcframework.StartHostPort(host, port) }()
	select {
	case err := <-errc:
		fmt.Fprintln(stderr, "serve:", err)
		return 1
	case <-ctx.Done():
		return 0
	}
}
