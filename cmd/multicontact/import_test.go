package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// postImport sends an NDJSON body to the import endpoint and returns the
// status and the response lines.
func (a *api) postImport(key, project, body string) (int, []map[string]any) {
	return a.postImportTo(key, "/projects/"+project+"/import", body)
}

func (a *api) postImportTo(key, path, body string) (int, []map[string]any) {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			a.t.Fatalf("response line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return res.StatusCode, lines
}

func TestImportOverHTTP(t *testing.T) {
	a := startAPI(t, "-max-body-bytes", "200")
	p := a.project()
	body := `{"op":"client","eventId":"1","id":"tg-1","channel":{"kind":"telegram","account":"acme"},"attributes":[{"field":"phone","value":"8 916 123-45-67"}]}
{"op":"client","eventId":"2","id":"wa-1","channel":{"kind":"whatsapp","account":"acme"},"attributes":[{"field":"phone","value":"+7 916 1234567"}]}
{"op":"attribute","eventId":"3","client":"wa-1","field":"phone","value":"12345"}
`
	// A body over the API's limit (200 bytes here) still goes through: an import is a stream.
	status, lines := a.postImport(p.write, p.id, body)
	if status != http.StatusOK || len(lines) != 2 {
		t.Fatalf("import = %d %v", status, lines)
	}
	refused, _ := lines[0]["error"].(map[string]any)
	if lines[0]["line"] != float64(3) || refused["code"] != "INVALID_PHONE" {
		t.Errorf("refused line = %v", lines[0])
	}
	sum, _ := lines[1]["summary"].(map[string]any)
	if sum["applied"] != float64(2) || sum["refused"] != float64(1) {
		t.Errorf("summary = %v", sum)
	}
	var out struct {
		Client struct{ MultiContact struct{ Size int } }
	}
	a.ok(p.read, `query($p: ID!) { client(projectId: $p, id: "tg-1") { multiContact { size } } }`, map[string]any{"p": p.id}, &out)
	if out.Client.MultiContact.Size != 2 {
		t.Errorf("imported clients with one phone: multi-contact of %d, want 2", out.Client.MultiContact.Size)
	}

	_, again := a.postImport(p.write, p.id, body)
	if sum, _ := again[len(again)-1]["summary"].(map[string]any); sum["skipped"] != float64(3) || sum["applied"] != float64(0) {
		t.Errorf("second import summary = %v, want every line skipped", sum)
	}

	other := a.project()
	for _, c := range []struct {
		key    string
		status int
	}{{p.read, http.StatusForbidden}, {other.write, http.StatusForbidden}, {"nope", http.StatusUnauthorized}} {
		if status, _ := a.postImport(c.key, p.id, body); status != c.status {
			t.Errorf("import with a %s key: %d, want %d", c.key[:min(4, len(c.key))], status, c.status)
		}
	}
	if status, _ := a.postImport(testAdminToken, "no-such-project", body); status != http.StatusNotFound {
		t.Errorf("import into a missing project: %d, want 404", status)
	}
}

// TestImportOverHTTPReadsTheWholeStream answers refused lines while the body
// is still arriving; every line must still be read (HTTP/1.1 full duplex).
func TestImportOverHTTPReadsTheWholeStream(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	var b strings.Builder
	const lines = 4000
	for i := range lines {
		phone := fmt.Sprintf("+7916%07d", i)
		if i%10 == 0 {
			phone = "12345" // refused alone (the client is written), answered at once
		}
		fmt.Fprintf(&b, `{"op":"client","id":"c%d","channel":{"kind":"web","account":"acme"},"attributes":[{"field":"phone","value":"%s"}]}`+"\n", i, phone)
	}
	status, out := a.postImport(p.write, p.id, b.String())
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	sum, _ := out[len(out)-1]["summary"].(map[string]any)
	if sum["lines"] != float64(lines) || sum["applied"] != float64(lines) || sum["refusedValues"] != float64(lines/10) || len(out) != lines/10+1 {
		t.Errorf("summary = %v with %d response lines; want all %d lines read", sum, len(out), lines)
	}
	for _, l := range out[:len(out)-1] {
		if l["applied"] != true || l["line"] == nil {
			t.Errorf("answered %v, want a refused value of a line that applied", l)
			break
		}
	}
}

// An import asked for its progress says where it stands as it goes, before
// its summary; one not asked answers refused lines and the summary only.
func TestImportOverHTTPReportsItsProgressWhenAsked(t *testing.T) {
	a := startAPI(t)
	p := a.project()
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, `{"op":"client","id":"c%d","channel":{"kind":"web","account":"acme"}}`+"\n", i)
	}
	status, out := a.postImportTo(p.write, "/projects/"+p.id+"/import?progress=true", b.String())
	if status != http.StatusOK || len(out) < 2 {
		t.Fatalf("import = %d %v", status, out)
	}
	prog, _ := out[0]["progress"].(map[string]any)
	if prog == nil || prog["lines"].(float64) < 1 || prog["applied"].(float64) < 1 || prog["bytes"].(float64) < 1 {
		t.Errorf("first line = %v, want the progress of the first batch", out[0])
	}
	if sum, _ := out[len(out)-1]["summary"].(map[string]any); sum["applied"] != float64(3000) {
		t.Errorf("last line = %v, want the summary of 3000 applied", out[len(out)-1])
	}
	_, quiet := a.postImport(p.write, p.id, b.String())
	if len(quiet) != 1 || quiet[0]["summary"] == nil {
		t.Errorf("without ?progress: %v, want the summary alone", quiet)
	}
}

// An import whose body stops arriving, its connection left open, ends
// after the idle bound with a summary that says so, and frees its slot;
// an import whose body keeps coming, and then takes longer than that bound
// to resolve, is not cut.
func TestAnImportWhoseBodyStallsStops(t *testing.T) {
	const idle = 250 * time.Millisecond
	a := startAPI(t, "-import-idle-timeout", idle.String())
	p := a.project()
	r, w := io.Pipe()
	defer w.Close()
	go fmt.Fprintln(w, `{"op":"client","id":"c1","channel":{"kind":"web","account":"acme"}}`)
	req, _ := http.NewRequest(http.MethodPost, a.url+"/projects/"+p.id+"/import", r)
	req.Header.Set("Authorization", "Bearer "+p.write)
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var sum map[string]any
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["summary"] != nil {
			sum, _ = m["summary"].(map[string]any)
		}
	}
	if took := time.Since(start); sum == nil || sum["errorCode"] != "TIMEOUT" || took < idle || took > 20*idle {
		t.Fatalf("a stalled import answered %v after %s, want a TIMEOUT summary after about %s", sum, took, idle)
	}

	// Slow to resolve, not to send: 6,000 lines take the batch path, whose
	// writes and resolution after the body's end take longer than idle.
	var b strings.Builder
	for i := range 6000 {
		fmt.Fprintf(&b, `{"op":"client","id":"b%d","channel":{"kind":"web","account":"acme"},"attributes":[{"field":"email","value":"u%d@example.com"}]}`+"\n", i, i%3000)
	}
	status, out := a.postImport(p.write, p.id, b.String())
	last, _ := out[len(out)-1]["summary"].(map[string]any)
	if status != http.StatusOK || last == nil || last["errorCode"] != nil || last["applied"] != float64(6000) {
		t.Errorf("an import sent at once answered %d %v, want every line applied", status, last)
	}
}
