// Package identity holds the domain of Multicontact: fields and their value
// normalization, merge rules and their match keys, connected components, and
// the stable multi-contact ids. It imports no infrastructure.
package identity

import (
	"errors"
	"fmt"
)

// Codes of Error. They are stable: programs (the GraphQL error presenter,
// chat bots, integrations) switch on them, so they never change meaning.
const (
	// CodeInvalidPhone says a value is not a valid phone number.
	CodeInvalidPhone = "INVALID_PHONE"
	// CodeAmbiguousPhone says an answer holds two different phone numbers,
	// so the person is asked for one.
	CodeAmbiguousPhone = "AMBIGUOUS_PHONE"
	// CodeInvalidEmail says a value is not one bare e-mail address.
	CodeInvalidEmail = "INVALID_EMAIL"
	// CodeTooLong says a value or a part of it exceeds its length limit.
	CodeTooLong = "TOO_LONG"
	// CodeEmpty says a value is empty after trimming.
	CodeEmpty = "EMPTY_VALUE"
	// CodeInvalidValue says a value holds invalid UTF-8 or control characters.
	CodeInvalidValue = "INVALID_VALUE"
	// CodeInvalidTime says a time is not an RFC 3339 timestamp.
	CodeInvalidTime = "INVALID_TIME"
	// CodeUnknownField says a field key is not defined in the project.
	CodeUnknownField = "UNKNOWN_FIELD"
	// CodeInvalidFieldKey says a custom field key is malformed.
	CodeInvalidFieldKey = "INVALID_FIELD_KEY"
	// CodeFieldExists says a field key is already taken.
	CodeFieldExists = "FIELD_EXISTS"
	// CodeInvalidFieldType says a field type is not one of the known types.
	CodeInvalidFieldType = "INVALID_FIELD_TYPE"
	// CodeInvalidRule says a merge rule is malformed.
	CodeInvalidRule = "INVALID_RULE"
	// CodeInvalidRegion says a region is not a known ISO 3166 alpha-2 code.
	CodeInvalidRegion = "INVALID_REGION"
	// CodeInvalidSource says a value source is not one of the known sources.
	CodeInvalidSource = "INVALID_SOURCE"
	// CodeTooManyValues says a client holds too many values of one field.
	CodeTooManyValues = "TOO_MANY_VALUES"
	// CodeTooManyRules says a project (or a preview) would have more than MaxRules rules.
	CodeTooManyRules = "TOO_MANY_RULES"
	// CodeTooManyWebhooks says a project would have more than MaxWebhooks webhooks.
	CodeTooManyWebhooks = "TOO_MANY_WEBHOOKS"
	// CodeNotFound says the thing asked for does not exist.
	CodeNotFound = "NOT_FOUND"
	// CodeConflict says a request contradicts the current state.
	CodeConflict = "CONFLICT"
	// CodeInvalidURL says a webhook's URL is not an absolute http(s) URL.
	CodeInvalidURL = "INVALID_URL"
	// CodePrivateAddress says a webhook's host is, or resolves to, a
	// loopback, private, link-local or metadata address.
	CodePrivateAddress = "PRIVATE_ADDRESS"
	// CodeInvalidArgument says an argument is malformed in some other way.
	CodeInvalidArgument = "INVALID_ARGUMENT"
)

// Error is the domain error: a stable Code a program can switch on, the
// Field it concerns (may be ""), and a Message a chat bot can show a person
// before asking again. Every other error is internal and is not shown.
type Error struct {
	Field   string
	Code    string
	Message string
}

// Error returns "field: message", or just the message when Field is empty.
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Errorf builds an *Error so callers can return a coded, human-readable
// error in one line.
func Errorf(field, code, format string, args ...any) *Error {
	return &Error{Field: field, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the Code of the *Error in err's chain, or "" when err
// is not a domain error, so edges can map codes without type assertions.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
