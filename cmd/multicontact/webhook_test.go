package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph"
)

const createWebhook = `mutation($p: ID!, $url: String!, $events: [EventType!]) {
	createWebhook(projectId: $p, input: {url: $url, events: $events}) { secret webhook { id url events paused lastDeliveredCursor } }
}`

type createdWebhook struct {
	CreateWebhook struct {
		Secret  string
		Webhook struct {
			ID, URL             string
			Events              []string
			Paused              bool
			LastDeliveredCursor string
		}
	}
}

// deleteWebhookAtEnd removes the webhook when the test ends, while its
// server still runs, so that no other service keeps trying it.
func (a *api) deleteWebhookAtEnd(p testProject, id string) {
	a.t.Cleanup(func() {
		a.do(p.admin, `mutation($p: ID!, $id: ID!) { deleteWebhook(projectId: $p, id: $id) }`, map[string]any{"p": p.id, "id": id})
	})
}

// Webhooks may not point the service at its own network: each URL is
// refused through GraphQL with BAD_USER_INPUT on field url, and only ADMIN
// may create webhooks.
func TestWebhookURLsAreChecked(t *testing.T) {
	a := startAPI(t, "-webhook-allow-private=false")
	p := a.project()
	for url, reason := range map[string]string{
		"ftp://93.184.216.34/hook":                 "INVALID_URL",
		"crm.example.com/hook":                     "INVALID_URL",
		"http://127.0.0.1:8080/hook":               "PRIVATE_ADDRESS",
		"http://10.0.0.1/hook":                     "PRIVATE_ADDRESS",
		"http://192.168.1.10/hook":                 "PRIVATE_ADDRESS",
		"http://169.254.169.254/latest/meta-data/": "PRIVATE_ADDRESS",
		"http://[fd00:ec2::254]/":                  "PRIVATE_ADDRESS",
		"http://[::1]/hook":                        "PRIVATE_ADDRESS",
		"http://localhost:8080/hook":               "PRIVATE_ADDRESS",
	} {
		res := a.wantCode("BAD_USER_INPUT", p.admin, createWebhook, map[string]any{"p": p.id, "url": url})
		if len(res.Errors) == 0 {
			continue
		}
		ext := res.Errors[0].Extensions
		if ext["field"] != "url" || ext["reason"] != reason || res.Errors[0].Message == "" {
			t.Errorf("%s: %+v, want field url, reason %s and a message", url, res.Errors[0], reason)
		}
	}
	a.wantCode("FORBIDDEN", p.write, createWebhook, map[string]any{"p": p.id, "url": "https://93.184.216.34/hook"})
	a.wantCode("FORBIDDEN", p.read, `query($p: ID!) { webhooks(projectId: $p) { id } }`, map[string]any{"p": p.id})
	var none struct{ Webhooks []struct{ ID string } }
	a.ok(p.admin, `query($p: ID!) { webhooks(projectId: $p) { id } }`, map[string]any{"p": p.id}, &none)
	if len(none.Webhooks) != 0 {
		t.Errorf("refused webhooks were stored: %+v", none.Webhooks)
	}
}

// A webhook created through GraphQL receives the project's events, signed
// with the secret shown once; its attempts are listed, a replay delivers
// again with the same event ids, and a deleted webhook is gone.
func TestWebhookThroughTheAPI(t *testing.T) {
	a := startAPI(t, "-webhook-allow-private")
	p := a.project()
	var mu sync.Mutex
	var got []http.Header
	var bodies []string
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r.Header.Clone()), append(bodies, string(body))
		mu.Unlock()
	}))
	defer rc.Close()
	requests := func() ([]http.Header, []string) {
		mu.Lock()
		defer mu.Unlock()
		return append([]http.Header(nil), got...), append([]string(nil), bodies...)
	}

	var created createdWebhook
	a.ok(p.admin, createWebhook, map[string]any{"p": p.id, "url": rc.URL + "/crm"}, &created)
	hook := created.CreateWebhook.Webhook
	a.deleteWebhookAtEnd(p, hook.ID)
	var types struct {
		Type struct{ EnumValues []struct{ Name string } } `json:"__type"`
	}
	a.ok(p.admin, `{ __type(name: "EventType") { enumValues { name } } }`, nil, &types)
	if created.CreateWebhook.Secret == "" || hook.Paused || len(hook.Events) != len(types.Type.EnumValues) {
		t.Fatalf("createWebhook = %+v, want every one of %v", created, types.Type.EnumValues)
	}
	start := hook.LastDeliveredCursor
	a.client(p, "tg-1", "telegram", "phone", "+79161234567")
	eventually(t, 20*time.Second, "the event delivered", func() bool { h, _ := requests(); return len(h) == 1 })
	headers, bodiesNow := requests()
	sig := headers[0].Get("Multicontact-Signature")
	ts, v1, _ := strings.Cut(strings.TrimPrefix(sig, "t="), ",v1=")
	m := hmac.New(sha256.New, []byte(created.CreateWebhook.Secret))
	m.Write([]byte(ts + "." + bodiesNow[0]))
	if v1 != hex.EncodeToString(m.Sum(nil)) {
		t.Errorf("signature %s does not verify", sig)
	}
	eventID := headers[0].Get("Multicontact-Event-Id")
	if !strings.Contains(bodiesNow[0], `"eventId":"`+eventID+`"`) || !strings.Contains(bodiesNow[0], `"type":"CREATED"`) {
		t.Errorf("event id %s, body %s", eventID, bodiesNow[0])
	}

	vars := map[string]any{"p": p.id, "w": hook.ID}
	var deliveries struct {
		WebhookDeliveries struct {
			Nodes []struct {
				EventID, EventCursor string
				Attempt, StatusCode  int
				Delivered            bool
			}
		}
	}
	eventually(t, 5*time.Second, "the attempt recorded", func() bool {
		a.ok(p.admin, `query($p: ID!, $w: ID!) { webhookDeliveries(projectId: $p, webhookId: $w) {
			nodes { eventId eventCursor eventType attempt startedAt finishedAt statusCode error delivered nextTryAt } } }`, vars, &deliveries)
		n := deliveries.WebhookDeliveries.Nodes
		return len(n) == 1 && n[0].Delivered
	})
	if d := deliveries.WebhookDeliveries.Nodes[0]; d.EventID != eventID || d.Attempt != 1 || d.StatusCode != 200 {
		t.Errorf("delivery = %+v", d)
	}

	var replay struct {
		Redeliver struct{ LastDeliveredCursor string }
	}
	a.ok(p.admin, `mutation($p: ID!, $w: ID!, $after: String!) { redeliver(projectId: $p, webhookId: $w, after: $after) { lastDeliveredCursor } }`,
		map[string]any{"p": p.id, "w": hook.ID, "after": start}, &replay)
	if replay.Redeliver.LastDeliveredCursor != start {
		t.Errorf("redeliver: cursor %s, want %s", replay.Redeliver.LastDeliveredCursor, start)
	}
	eventually(t, 20*time.Second, "the event delivered again", func() bool { h, _ := requests(); return len(h) == 2 })
	headers, _ = requests()
	if headers[1].Get("Multicontact-Event-Id") != eventID || headers[1].Get("Multicontact-Attempt") != "2" {
		t.Errorf("replay headers = %v", headers[1])
	}
	a.wantCode("BAD_USER_INPUT", p.admin, `mutation($p: ID!, $w: ID!) { redeliver(projectId: $p, webhookId: $w, after: "x") { id } }`, vars)
	eventually(t, 5*time.Second, "two deliveries and their lags on /metrics", func() bool {
		return a.metric(`multicontact_webhook_deliveries_total{outcome="delivered"}`) == "2" &&
			a.metric("multicontact_webhook_delivery_lag_seconds_count") == "2"
	})

	var deleted struct{ DeleteWebhook bool }
	a.ok(p.admin, `mutation($p: ID!, $w: ID!) { deleteWebhook(projectId: $p, id: $w) }`, vars, &deleted)
	a.wantCode("NOT_FOUND", p.admin, `mutation($p: ID!, $w: ID!) { deleteWebhook(projectId: $p, id: $w) }`, vars)
	a.wantCode("NOT_FOUND", p.admin, `query($p: ID!, $w: ID!) { webhookDeliveries(projectId: $p, webhookId: $w) { nodes { attempt } } }`, vars)
}

// eventually polls ok until it holds, failing the test after d.
func eventually(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A project takes a bounded number of webhooks: the one beyond is refused
// with TOO_MANY_WEBHOOKS and stored nowhere; deleting one makes room.
func TestAProjectTakesABoundedNumberOfWebhooks(t *testing.T) {
	a := startAPI(t, "-webhook-allow-private")
	p := a.project()
	crm := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer crm.Close()
	var ids []string
	for range graph.MaxWebhooks {
		var created createdWebhook
		a.ok(p.admin, createWebhook, map[string]any{"p": p.id, "url": crm.URL}, &created)
		ids = append(ids, created.CreateWebhook.Webhook.ID)
		a.deleteWebhookAtEnd(p, created.CreateWebhook.Webhook.ID)
	}
	res := a.wantCode("BAD_USER_INPUT", p.admin, createWebhook, map[string]any{"p": p.id, "url": crm.URL})
	if len(res.Errors) > 0 && res.Errors[0].Extensions["reason"] != "TOO_MANY_WEBHOOKS" {
		t.Errorf("webhook %d: %+v, want TOO_MANY_WEBHOOKS", graph.MaxWebhooks+1, res.Errors[0])
	}
	var list struct{ Webhooks []struct{ ID string } }
	a.ok(p.admin, `query($p: ID!) { webhooks(projectId: $p) { id } }`, map[string]any{"p": p.id}, &list)
	if len(list.Webhooks) != graph.MaxWebhooks {
		t.Errorf("%d webhooks stored, want %d", len(list.Webhooks), graph.MaxWebhooks)
	}
	a.ok(p.admin, `mutation($p: ID!, $id: ID!) { deleteWebhook(projectId: $p, id: $id) }`, map[string]any{"p": p.id, "id": ids[0]}, nil)
	a.ok(p.admin, createWebhook, map[string]any{"p": p.id, "url": crm.URL}, nil)
}
