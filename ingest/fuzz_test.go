package ingest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/identity"
	"github.com/multicontact/multicontact/ingest"
)

// maxMessage bounds what a refused line's error says, whatever the line's
// length: the message goes back to the caller for every refused line, so it
// says what is wrong without echoing the line.
const maxMessage = 512

// FuzzParseLine: for any bytes, ParseLine does not panic; it refuses with a
// coded *identity.Error that names a field and says why in a short, valid
// UTF-8 message, or it accepts an op of a known kind that keeps the line's
// number and event id, and that, written back in the import format, parses
// to the same op.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"op":"client","eventId":"e1","id":"tg-1","channel":{"kind":"telegram","account":"main"},"channelUserId":"5123","displayName":"Anna K.","createdAt":"2024-03-01T10:00:00Z","lastSeenAt":"2025-06-01T12:00:00+03:00","attributes":[{"field":"phone","value":"8 (916) 123-45-67","source":"bot","verified":true}]}`,
		`{"op":"attribute","eventId":"e2","client":"tg-1","field":"email","value":"Anna.K@Mail.ru","source":"WIDGET"}`,
		`{"op":"removeAttribute","client":"tg-1","field":"email","value":"anna.k@mail.ru"}`,
		`{"op":"conversation","client":"tg-1","id":"conv-1","startedAt":"2024-03-01T10:00:00Z","lastMessageAt":"2024-03-01T10:05:00Z","summary":"Asked about delivery"}`,
		`{"op":"client","id":"x","channel":null}`,
		`{"op":"fax"}`, `{"op":""}`, `{}`, `null`, `[]`, `"op"`, `42`, ``, ` `, `{`, `}`, `{"op":"client"}{"op":"client"}`,
		`{"op":"attribute","client":"c","field":"phone","value":"1","verified":1e999}`,
		`{"op":"attribute","client":"c","field":"phone","value":123456789012345678901234567890}`,
		`{"op":"client","id":"c","channel":{"kind":"web","account":"a"},"createdAt":"not a time"}`,
		`{"op":"client","id":"c","channel":{"kind":"web","account":"a"},"createdAt":"2024-02-30T25:61:00Z"}`,
		`{"op":"attribute","client":"c","field":"email","value":"\xff\xfe@x.com"}`,
		`{"op":"attribute","client":"c\u0000","field":"email","value":"\ud800@x.com"}`,
		"{\"op\":\"attribute\",\"client\":\"c\",\"field\":\"email\",\"value\":\"a@b.c\"}\xff",
		`{"op":"attribute","client":"c","field":"email","value":"a@b.c","colour":"red"}`,
		`{"op":"client","id":"c","channel":{"kind":"web","account":"a","region":"RU"}}`,
		`{"op":"attribute","client":"c","field":"email","value":"a@b.c","value":"d@e.f"}`,
		`{"OP":"attribute","Client":"c","FIELD":"email","value":"a@b.c"}`,
		`{"op":"client","id":"c","channel":{"kind":"web","account":"a"},"attributes":{"field":"phone"}}`,
		`{"op":"client","id":"c","channel":{"kind":"web","account":"a"},"attributes":[[[[[[[[[[]]]]]]]]]]}`,
	} {
		f.Add(1, []byte(s))
	}
	// Deeply nested values, and a value, an unknown field and an op of 1 MB.
	f.Add(7, []byte(`{"op":"attribute","x":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`))
	f.Add(7, []byte(`{"op":"attribute","client":"c","field":"email","value":{"a":`+strings.Repeat(`{"a":`, 5000)+`1`+strings.Repeat("}", 5001)+`}`))
	big := strings.Repeat("й", 1<<19)
	f.Add(1<<20, []byte(`{"op":"attribute","client":"c","field":"email","value":"`+big+`"}`))
	f.Add(1<<20, []byte(`{"op":"attribute","client":"c","field":"email","`+big+`":"x"}`))
	f.Add(1<<20, []byte(`{"op":"`+big+`"}`))
	f.Add(1<<20, []byte(`{"op":"attribute","client":"c","field":"email","value":"`+big))

	f.Fuzz(func(t *testing.T, n int, raw []byte) {
		op, err := ingest.ParseLine(n, raw)
		if err != nil {
			var ie *identity.Error
			if !asIdentity(err, &ie) || ie.Code == "" || ie.Field == "" || ie.Message == "" {
				t.Fatalf("ParseLine(%q) = %#v: want a coded *identity.Error with a field and a message", clip(raw), err)
			}
			if len(ie.Message) > maxMessage || !utf8.ValidString(ie.Message) {
				t.Fatalf("ParseLine(%.200q): the message is %d bytes (at most %d, valid UTF-8): %.300q", clip(raw), len(ie.Message), maxMessage, ie.Message)
			}
			return
		}
		switch op.Kind {
		case graph.OpUpsertClient, graph.OpAddAttribute, graph.OpRemoveAttribute, graph.OpConversation:
		default:
			t.Fatalf("ParseLine(%q) accepted an op of unknown kind %d", clip(raw), op.Kind)
		}
		if op.Line != n {
			t.Fatalf("ParseLine(%d, %q) = line %d, want the line's number kept", n, clip(raw), op.Line)
		}
		var l struct{ EventID string }
		if json.Unmarshal(raw, &l); op.EventID != l.EventID {
			t.Fatalf("ParseLine(%q) = event id %q, want %q", clip(raw), op.EventID, l.EventID)
		}
		again, err := json.Marshal(lineOf(op))
		if err != nil {
			t.Fatalf("ParseLine(%q) = %+v, which does not encode: %v", clip(raw), op, err)
		}
		op2, err := ingest.ParseLine(n, again)
		if err != nil {
			t.Fatalf("ParseLine(%q) accepted, but its op written back, %s, is refused: %v", clip(raw), again, err)
		}
		if back, _ := json.Marshal(lineOf(op2)); string(back) != string(again) {
			t.Fatalf("ParseLine(%q): written back %s, parsed again %s", clip(raw), again, back)
		}
	})
}

// lineOf writes an op back in the import format.
func lineOf(op graph.Op) ingest.Line {
	l := ingest.Line{EventID: op.EventID}
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	switch op.Kind {
	case graph.OpUpsertClient:
		c := op.Client
		l.Op, l.ID, l.ChannelUserID, l.DisplayName = "client", c.ID, c.ChannelUserID, c.DisplayName
		l.Channel = &ingest.Channel{Kind: c.Channel.Kind, Account: c.Channel.Account}
		l.CreatedAt, l.LastSeenAt = at(c.CreatedAt), at(c.LastSeenAt)
		for _, a := range c.Attributes {
			l.Attributes = append(l.Attributes, ingest.Attribute{Field: a.Field, Value: a.Value, Source: string(a.Source), Verified: a.Verified})
		}
	case graph.OpAddAttribute, graph.OpRemoveAttribute:
		l.Op = "attribute"
		if op.Kind == graph.OpRemoveAttribute {
			l.Op = "removeAttribute"
		}
		a := op.Attribute
		l.Client, l.Field, l.Value, l.Source, l.Verified = op.ClientID, a.Field, a.Value, string(a.Source), a.Verified
	case graph.OpConversation:
		c := op.Conversation
		l.Op, l.Client, l.ID, l.Summary = "conversation", op.ClientID, c.ID, c.Summary
		l.StartedAt, l.LastMessageAt = at(c.StartedAt), at(c.LastMessageAt)
	}
	return l
}

// clip shortens an input for a failure message.
func clip(raw []byte) []byte {
	if len(raw) > 300 {
		return raw[:300]
	}
	return raw
}
