package identity_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/multicontact/multicontact/identity"
)

// asError is errors.As for *identity.Error.
func asError(err error, target **identity.Error) bool {
	return errors.As(err, target)
}

func TestError(t *testing.T) {
	cases := []struct {
		err  *identity.Error
		want string
	}{
		{err: identity.Errorf("phone", identity.CodeInvalidPhone, "bad %s", "number"), want: "phone: bad number"},
		{err: identity.Errorf("", identity.CodeNotFound, "no such client"), want: "no such client"},
	}
	for _, tc := range cases {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestErrorCode(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{err: nil, want: ""},
		{err: errors.New("boom"), want: ""},
		{err: identity.Errorf("", identity.CodeConflict, "x"), want: identity.CodeConflict},
		{err: fmt.Errorf("wrap: %w", identity.Errorf("", identity.CodeTooLong, "x")), want: identity.CodeTooLong},
	}
	for _, tc := range cases {
		if got := identity.ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
