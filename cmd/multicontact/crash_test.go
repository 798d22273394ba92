package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
	"github.com/multicontact/multicontact/graph/graphtest"
	"github.com/multicontact/multicontact/population"
)

// The service is killed (SIGKILL, no chance to clean up) in the middle of
// a large import, over HTTP and from the command line. After a restart the
// service finishes by itself the re-resolutions the kill left RUNNING,
// every client written before the kill has its multi-contact, as the
// offline oracle computes it, and the same file imported again ends in the
// partition of an import that was never interrupted.

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// serviceBinary builds the multicontact command once per test run.
func serviceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "multicontact-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "multicontact")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// child is the service running as a process of its own.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	log  *lockedBuffer // (logs_test.go) read while the process writes it
}

func startChild(t *testing.T, addr string, flags ...string) *child {
	t.Helper()
	c := &child{t: t, addr: addr, log: &lockedBuffer{}}
	c.cmd = exec.Command(serviceBinary(t), append([]string{"serve", "-addr", addr}, flags...)...)
	c.cmd.Env = append(os.Environ(), "MULTICONTACT_ADMIN_TOKEN="+testAdminToken)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.kill)
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service did not get ready: %v\n%s", err, c.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dump ends the process with SIGQUIT, which makes Go print every
// goroutine's stack, and returns its log: what a hung service waits on.
func (c *child) dump() string {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		_ = c.cmd.Wait()
	}
	return c.log.String()
}

// kill ends the process at once, as kill -9 does.
func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		_ = c.cmd.Wait()
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// importHTTP posts body to the project's import endpoint and returns the
// answer's last line (the summary), or the error that cut it.
func importHTTP(url, key, project string, body io.Reader) (string, error) {
	// An import that does not answer within minutes is a failure to report,
	// not a test to wait on until the whole run times out.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/projects/"+project+"/import", body)
	req.Header.Set("Authorization", "Bearer "+key)
	// A connection of its own: none left over from a service killed before.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var last string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		last = sc.Text()
	}
	if err := sc.Err(); err != nil {
		return last, err
	}
	if res.StatusCode != http.StatusOK || !strings.Contains(last, `"summary"`) || strings.Contains(last, `"error"`) {
		return last, fmt.Errorf("import answered %d: %s", res.StatusCode, last)
	}
	return last, nil
}

// clientCount is how many clients the project holds now.
func clientCount(t *testing.T, s *graph.Store, project string) int {
	t.Helper()
	d, err := s.DumpProject(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	return len(d.Clients)
}

// resolvedPartition fails unless every client of the project has its
// multi-contact and the multi-contacts are the offline oracle's components;
// it returns them.
func resolvedPartition(t *testing.T, s *graph.Store, project string) string {
	t.Helper()
	d, err := s.DumpProject(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Clients {
		if c.MultiContactID == "" {
			t.Errorf("project %s: client %s has no multi-contact", project, c.ID)
		}
	}
	got := d.Stored()
	if fmt.Sprint(got) != fmt.Sprint(d.Components()) {
		t.Errorf("project %s: the stored multi-contacts differ from the oracle's components", project)
	}
	return fmt.Sprint(got)
}

func TestAKilledImportIsResolvedAfterARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the service")
	}
	graphtest.Require(t)
	store := graphtest.Store(t)
	var data bytes.Buffer
	if _, err := population.Write(&data, nil, population.Config{Clients: 3000, Seed: 13}); err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data.Bytes(), []byte("\n"))

	addr := freeAddr(t)
	svc := startChild(t, addr)
	a := &api{t: t, url: "http://" + addr}
	whole, httpCut, cliCut := a.project(), a.project(), a.project()
	if _, err := importHTTP(a.url, whole.write, whole.id, bytes.NewReader(data.Bytes())); err != nil {
		t.Fatalf("import: %v; the service's goroutines:\n%s", err, svc.dump())
	}
	a.waitIdle(whole)
	want := resolvedPartition(t, store, whole.id)
	start := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }

	// Over HTTP: send 60% of the file, let the service write some of it, kill it.
	body, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := importHTTP(a.url, httpCut.write, httpCut.id, body)
		done <- err
	}()
	for _, l := range lines[:len(lines)*6/10] {
		if _, err := w.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); clientCount(t, store, httpCut.id) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the import wrote nothing")
		}
		time.Sleep(50 * time.Millisecond)
	}
	step("HTTP import under way")
	svc.kill()
	w.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-done; err == nil {
		t.Fatal("the killed import reported success")
	}
	if n := clientCount(t, store, httpCut.id); n == 0 || n >= len(lines)-1 {
		t.Fatalf("%d clients written before the kill: not in the middle of the import", n)
	}

	// From the command line: kill the import process after its first batch.
	cli := exec.Command(serviceBinary(t), "import", "-project", cliCut.id, "-")
	cli.Stdin = bytes.NewReader(data.Bytes())
	stderr, _ := cli.StderrPipe()
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	progress := bufio.NewScanner(stderr)
	for progress.Scan() && !strings.Contains(progress.Text(), "applied") {
	}
	_ = cli.Process.Signal(syscall.SIGKILL)
	_ = cli.Wait()
	if n := clientCount(t, store, cliCut.id); n == 0 || n >= len(lines)-1 {
		t.Fatalf("%d clients written before the kill: not in the middle of the import", n)
	}

	step("command-line import killed")
	restarted := startChild(t, addr)
	step("restarted")
	// The restarted service finishes, by itself, the re-resolutions the kill
	// left RUNNING: every client written before the kill is resolved, as the
	// oracle computes.
	for _, p := range []testProject{httpCut, cliCut} {
		a.waitIdleWithin(p, 2*time.Minute)
		resolvedPartition(t, store, p.id)
	}
	step("resumed re-resolutions done")

	// Running the same file again ends in the partition of an import that
	// was never interrupted.
	if _, err := importHTTP(a.url, httpCut.write, httpCut.id, bytes.NewReader(data.Bytes())); err != nil {
		t.Fatalf("import again over HTTP: %v; the service's goroutines:\n%s", err, restarted.dump())
	}
	again := exec.Command(serviceBinary(t), "import", "-project", cliCut.id, "-")
	again.Stdin = bytes.NewReader(data.Bytes())
	if out, err := again.CombinedOutput(); err != nil {
		t.Fatalf("import again from the command line: %v\n%s", err, out)
	}
	step("both imported again")
	for _, p := range []testProject{httpCut, cliCut} {
		a.waitIdle(p)
		if got := resolvedPartition(t, store, p.id); got != want {
			t.Errorf("project %s: the interrupted import run again differs from an uninterrupted one", p.id)
		}
	}
	step("both resolved as the uninterrupted import")
}

// post sends one GraphQL operation and decodes its data; a transport error
// or a GraphQL error is the error (the caller cannot tell whether it applied).
func post(url, key, query string, vars map[string]any, v any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return err
	}
	if len(out.Errors) > 0 {
		return fmt.Errorf("%s", out.Errors[0].Message)
	}
	return json.Unmarshal(out.Data, v)
}

// Eight API writers on shared clients, and a large import, when the service
// is killed: after a restart every acknowledged write is in the graph, and
// the project the import left RUNNING reaches IDLE by itself, resolved.
func TestAKilledServiceLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the service")
	}
	graphtest.Require(t)
	store := graphtest.Store(t)
	addr := freeAddr(t)
	svc := startChild(t, addr)
	a := &api{t: t, url: "http://" + addr}
	p, imported := a.project(), a.project()
	const clients = 16
	for i := range clients {
		a.client(p, fmt.Sprint("c", i), "web")
	}
	var data bytes.Buffer
	if _, err := population.Write(&data, nil, population.Config{Clients: 3000, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = importHTTP(a.url, imported.write, imported.id, &data) }()

	var mu sync.Mutex
	acked := map[string][]string{} // client -> e-mails acknowledged
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, email := fmt.Sprint("c", (w+i)%clients), fmt.Sprintf("w%d-%d@example.com", w, i%40)
				var out setResult
				if err := post(a.url, p.write, setAttribute, map[string]any{"p": p.id, "c": c, "f": "email", "v": email}, &out); err != nil {
					continue // not acknowledged: the service is gone, or it refused
				}
				if out.SetAttribute.Accepted {
					mu.Lock()
					acked[c] = append(acked[c], email)
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once writes are being acknowledged, whatever the machine's load:
	// a few seconds of them, or at least 20.
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, es := range acked {
			n += len(es)
		}
		return n
	}
	for start := time.Now(); count() < 20 && time.Since(start) < time.Minute; {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	svc.kill()
	close(stop)
	wg.Wait()
	n := 0
	for _, es := range acked {
		n += len(es)
	}
	if n == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}
	startChild(t, addr)
	d, err := store.DumpProject(context.Background(), p.id)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]map[string]bool{}
	for _, c := range d.Clients {
		held[c.ID] = map[string]bool{}
		for _, v := range c.Values {
			held[c.ID][v.Value] = true
		}
	}
	for c, es := range acked {
		for _, e := range es {
			if !held[c][e] {
				t.Errorf("acknowledged %s on %s is not in the graph after the restart", e, c)
			}
		}
	}
	a.waitIdle(p)
	resolvedPartition(t, store, p.id)
	// Left RUNNING by the kill and resumed by the restarted service; if the
	// killed service held its re-resolution lease, only once that expires
	// (a minute at most).
	a.waitIdleWithin(imported, 3*time.Minute)
	resolvedPartition(t, store, imported.id)
	t.Logf("%d writes acknowledged before the kill, all found", n)
}

// SIGINT starts a graceful stop, which waits for the calls in flight (an
// import still streaming here) up to the grace period; a second SIGINT,
// an operator's second Ctrl-C, ends the process at once.
func TestASecondInterruptEndsTheServiceAtOnce(t *testing.T) {
	graphtest.Require(t)
	addr := freeAddr(t)
	c := startChild(t, addr, "-shutdown-grace", "2m")
	project := fmt.Sprintf("sigint%d", time.Now().UnixNano())
	body, _ := json.Marshal(map[string]any{"query": `mutation($id: ID!) { createProject(input: {id: $id, name: "Stop", defaultRegion: "RU"}) { id } }`,
		"variables": map[string]any{"id": project}})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	lines, stream := io.Pipe() // an import that keeps streaming
	defer stream.Close()
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/projects/"+project+"/import", lines)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	fmt.Fprintln(stream, `{"op":"client","id":"a","channel":{"kind":"web","account":"x"}}`)
	time.Sleep(500 * time.Millisecond) // the import is in flight
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		t.Fatal("the service stopped before the import in flight ended or its grace passed")
	case <-time.After(time.Second):
	}
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the service still runs 10 s after a second interrupt:\n%s", c.dump())
	}
}
