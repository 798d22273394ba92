package webhook

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// What a tenant reads of a failed delivery says why, without the
// service's own addresses: the local end of a broken connection, the DNS
// server it asked.
func TestADeliverysNetworkCauseHidesTheServicesAddresses(t *testing.T) {
	local := &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 5555}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&net.DNSError{Err: "no such host", Name: "hooks.example", Server: "10.255.255.53:53", IsNotFound: true}, "does not resolve"},
		{&net.OpError{Op: "read", Net: "tcp", Source: local, Addr: &net.TCPAddr{IP: net.ParseIP("93.184.216.34"), Port: 443},
			Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "connection reset by peer"},
		{&net.OpError{Op: "dial", Net: "tcp", Source: local, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, "connection refused"},
	} {
		got := networkCause(tt.err)
		if !strings.Contains(got, tt.want) || strings.Contains(got, "10.") {
			t.Errorf("cause of %q = %q, want it to say %q without the service's addresses", tt.err, got, tt.want)
		}
	}
}
