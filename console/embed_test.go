package console_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/multicontact/multicontact/console"
)

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	r := res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerServesTheBuildWithTypesAndCaching(t *testing.T) {
	h := console.Handler("/console")

	if res := get(t, h, "/console?x=1"); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/console/?x=1" {
		t.Errorf("GET /console = %d to %q, want 301 to /console/?x=1", res.StatusCode, res.Header.Get("Location"))
	}

	index := get(t, h, "/console/")
	html := body(t, index)
	if index.StatusCode != http.StatusOK || index.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /console/ = %d %q", index.StatusCode, index.Header.Get("Content-Type"))
	}
	if got := index.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("index Cache-Control = %q, want no-cache", got)
	}
	if !strings.Contains(index.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("index has no CSP: %q", index.Header.Get("Content-Security-Policy"))
	}

	// Every asset index.html names is served, typed and cached for good.
	refs := regexp.MustCompile(`(?:src|href)="(assets/[^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html names %d assets, want the script and the stylesheet:\n%s", len(refs), html)
	}
	for _, ref := range refs {
		res := get(t, h, "/console/"+ref[1], "Accept-Encoding", "gzip, br")
		want := map[bool]string{true: "text/javascript; charset=utf-8", false: "text/css; charset=utf-8"}[strings.HasSuffix(ref[1], ".js")]
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != want {
			t.Errorf("%s = %d %q, want 200 %q", ref[1], res.StatusCode, res.Header.Get("Content-Type"), want)
		}
		if got := res.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("%s Cache-Control = %q", ref[1], got)
		}
		if res.Header.Get("Content-Encoding") != "gzip" || len(body(t, res)) == 0 {
			t.Errorf("%s is not served gzipped to a client that accepts it", ref[1])
		}
		if again := get(t, h, "/console/"+ref[1], "If-None-Match", res.Header.Get("ETag"), "Accept-Encoding", "gzip"); again.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag = %d, want 304", ref[1], again.StatusCode)
		}
	}

	plain := get(t, h, "/console/", "Accept-Encoding", "identity")
	if plain.Header.Get("Content-Encoding") != "" || body(t, plain) != html {
		t.Error("a client that does not accept gzip gets another body")
	}

	for _, p := range []string{"/console/nope.js", "/console/assets/", "/console/../go.mod", "/other"} {
		if res := get(t, h, p); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, res.StatusCode)
		}
	}
}
