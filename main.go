// Command main is the detach-keypair function for Function Compute 3.0 (runtime go1):
// it detaches one SSH key pair from many ECS instances. FC runs it as the handler
// "main"; locally, `make run` runs it the same way against the embedded emulator.
package main

import (
	"log/slog"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"detachkeypair/handler"
	"detachkeypair/settings"
)

func main() {
	cfg, err := settings.Load(os.Getenv)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if err != nil {
		log.Error("the function's settings are invalid; fix them and redeploy", "error", err.Error())
		os.Exit(2)
	}
	fc.Start(handler.New(cfg, log).Invoke)
}
