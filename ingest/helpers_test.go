package ingest_test

import (
	"errors"

	"github.com/multicontact/multicontact/identity"
)

func asIdentity(err error, target **identity.Error) bool { return errors.As(err, target) }
