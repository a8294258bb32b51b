package fakegcp

import (
	"net"
	"sync"
	"testing"
)

// Silent listens on 127.0.0.1, accepts connections and never answers: a
// hung API. It returns the address; everything is closed when the test ends.
func Silent(t testing.TB) string {
	addr, _ := SilentConnected(t)
	return addr
}

// SilentConnected is Silent, and a channel closed once the first
// connection is accepted: a call to the hung API is in flight.
func SilentConnected(t testing.TB) (string, <-chan struct{}) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	connected := make(chan struct{})
	var once sync.Once
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			once.Do(func() { close(connected) })
		}
	}()
	return lis.Addr().String(), connected
}
