// Command main is the detach-keypair function for Function Compute 3.0 (runtime go1):
// it detaches one SSH key pair from many instances. FC runs it as the handler "main";
// locally, `make run` runs it the same way against the embedded emulator.
//
// It is the only place that wires the function together: the settings, the logger, and
// the adapters to the cloud that the handler is given.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"detachkeypair/credentials"
	"detachkeypair/detach"
	"detachkeypair/ecs"
	"detachkeypair/ens"
	"detachkeypair/eventbridge"
	fcapi "detachkeypair/fc"
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
	fc.Start(handler.New(wire(cfg, log)).Invoke)
}

// wire connects the function's adapters to its settings. The factories keep the clients
// they make (clientCache), so that requests share them.
func wire(cfg settings.Settings, log *slog.Logger) handler.Config {
	var cache clientCache
	return handler.Config{
		Settings: cfg,
		Logger:   log,
		// FC also puts the role's credentials in the instance's environment
		Secrets: []string{os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET"), os.Getenv("ALIBABA_CLOUD_SECURITY_TOKEN")},
		Clouds: func(product, region string, creds *credentials.AccessKey) (detach.Cloud, error) {
			switch product {
			case detach.ProductECS:
				k := clientKey{api: product, region: region, endpoint: cfg.ECSEndpoint, creds: identity(creds)}
				return cached(&cache, k, func() (detach.Cloud, error) {
					return ecs.New(ecs.Config{Region: region, Endpoint: cfg.ECSEndpoint, Credentials: creds})
				})
			case detach.ProductENS:
				k := clientKey{api: product, endpoint: cfg.ENSEndpoint, creds: identity(creds)}
				return cached(&cache, k, func() (detach.Cloud, error) {
					return ens.New(ens.Config{Endpoint: cfg.ENSEndpoint, Credentials: creds})
				})
			}
			return nil, fmt.Errorf("product %q is not served", product)
		},
		Publishers: func(region, accountID string, creds *credentials.AccessKey) (detach.Publisher, error) {
			k := clientKey{api: "EventBridge", region: region, account: accountID, endpoint: cfg.EventBridgeEndpoint, creds: identity(creds)}
			return cached(&cache, k, func() (detach.Publisher, error) {
				return eventbridge.New(eventbridge.Config{Bus: cfg.EventBus, Region: region, AccountID: accountID,
					Endpoint: cfg.EventBridgeEndpoint, Credentials: creds})
			})
		},
		Invokers: func(region, accountID, function string, creds *credentials.AccessKey) (detach.Invoker, error) {
			k := clientKey{api: "FC", region: region, account: accountID, function: function, endpoint: cfg.FCEndpoint, creds: identity(creds)}
			return cached(&cache, k, func() (detach.Invoker, error) {
				return fcapi.New(fcapi.Config{Region: region, AccountID: accountID, Function: function, Endpoint: cfg.FCEndpoint, Credentials: creds})
			})
		},
	}
}
