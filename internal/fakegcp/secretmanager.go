package fakegcp

import (
	"context"
	"hash/crc32"
	"net"
	"sync"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// SecretManager is a fake Secret Manager that answers AccessSecretVersion.
type SecretManager struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	srv *grpc.Server
	lis net.Listener

	mu       sync.Mutex
	values   map[string]string // version name → payload
	denied   map[string]bool   // version names the caller may not read
	requests int
	fail     *status.Status // every call answers this, when set
	hang     bool           // every call waits until its caller gives up
}

// Fail makes every later call answer code with msg (UNAVAILABLE,
// RESOURCE_EXHAUSTED: an outage or a quota).
func (s *SecretManager) Fail(code codes.Code, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = status.New(code, msg)
}

// Hang makes every later call wait until its caller gives up.
func (s *SecretManager) Hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = true
}

// StartSecretManager serves a fake Secret Manager on 127.0.0.1 holding
// values (version name → payload); reading a name in denied fails with
// PERMISSION_DENIED, any other unknown name with NOT_FOUND.
func StartSecretManager(values map[string]string, denied ...string) (*SecretManager, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &SecretManager{srv: grpc.NewServer(), lis: lis, values: map[string]string{}, denied: map[string]bool{}}
	for k, v := range values {
		s.values[k] = v
	}
	for _, d := range denied {
		s.denied[d] = true
	}
	secretmanagerpb.RegisterSecretManagerServiceServer(s.srv, s)
	go func() { _ = s.srv.Serve(lis) }()
	return s, nil
}

// Addr is host:port to give CANARY_SECRETMANAGER_ENDPOINT.
func (s *SecretManager) Addr() string { return s.lis.Addr().String() }

// Close stops the server.
func (s *SecretManager) Close() { s.srv.Stop() }

// Requests counts AccessSecretVersion calls.
func (s *SecretManager) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AccessSecretVersion returns the payload of a version, with its CRC32C.
func (s *SecretManager) AccessSecretVersion(ctx context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	s.mu.Lock()
	s.requests++
	hang, fail := s.hang, s.fail
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if fail != nil {
		return nil, fail.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := req.GetName()
	if s.denied[name] {
		return nil, status.Errorf(codes.PermissionDenied, "Permission 'secretmanager.versions.access' denied for resource '%s' (or it may not exist).", name)
	}
	v, ok := s.values[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found or has no enabled versions.", name)
	}
	sum := int64(crc32.Checksum([]byte(v), crc32.MakeTable(crc32.Castagnoli)))
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    name,
		Payload: &secretmanagerpb.SecretPayload{Data: []byte(v), DataCrc32C: &sum},
	}, nil
}
