package main

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"detachkeypair/credentials"
)

// maxClients is the most clients a clientCache holds. A fleet run over every ECS
// region, with ENS, EventBridge and FC, takes about 35 for one set of credentials; STS
// rotation adds a set every hour or so, whose old clients are then forgotten.
const maxClients = 128

// clientCache keeps the clients main's factories make (ecs.Client, ens.Client,
// eventbridge.Publisher, fc.Client), so that the requests of an invocation, and the
// invocations an instance serves, share a client and its pool of SDK clients instead of
// building one each: an EventBridge batch of 10000 events would otherwise build 10000
// within its deadline. A client is kept per clientKey, the credentials' identity
// included: FC's credentials change when STS rotates them, and the next request then
// gets a new client. Past maxClients the cache forgets every client it holds (clients
// in use stay usable). It is safe for concurrent use; the zero value is ready.
type clientCache struct {
	mu      sync.Mutex
	clients map[clientKey]any
}

// clientKey is what a client is made for. It holds no secret: creds is a hash.
type clientKey struct {
	api                       string // "ECS", "ENS", "EventBridge", "FC"
	region, account, function string // "" where the api takes none
	endpoint                  string // the endpoint setting
	creds                     [sha256.Size]byte
}

// identity tells credentials apart without holding them: the SHA-256 of the id, the
// secret and the security token, each after its length; all zeros for nil (the
// standard credential chain, which renews itself).
func identity(c *credentials.AccessKey) [sha256.Size]byte {
	if c == nil {
		return [sha256.Size]byte{}
	}
	h := sha256.New()
	for _, v := range []string{c.AccessKeyID, c.AccessKeySecret, c.SecurityToken} {
		h.Write(binary.AppendUvarint(nil, uint64(len(v))))
		h.Write([]byte(v))
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// cached returns the client of k from c, or makes it with newClient and keeps it. An
// error is returned and not kept. Clients are made under c's lock: making one takes
// microseconds and no call to the cloud, and no two requests make the same.
func cached[T any](c *clientCache, k clientKey, newClient func() (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.clients[k]; ok {
		return v.(T), nil
	}
	v, err := newClient()
	if err != nil {
		return v, err
	}
	if c.clients == nil || len(c.clients) >= maxClients {
		c.clients = map[clientKey]any{}
	}
	c.clients[k] = v
	return v, nil
}
