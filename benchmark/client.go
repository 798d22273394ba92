package benchmark

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// api calls the service's GraphQL endpoint as a console or CRM would.
type api struct {
	url  string
	http *http.Client
}

// callTimeout bounds one GraphQL call; an import streams as long as it takes.
const callTimeout = time.Minute

func newAPI(url string) *api {
	return &api{url: url, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// do runs one operation and decodes its data into out (may be nil).
func (a *api) do(ctx context.Context, key, query string, vars map[string]any, out any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return fmt.Errorf("decode %d response: %w", res.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("graphql: %s", r.Errors[0].Message)
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// importFile streams an NDJSON file to the import endpoint and returns the
// summary line.
func (a *api) importFile(ctx context.Context, key, project string, body io.Reader) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url+"/projects/"+project+"/import", body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := a.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return nil, fmt.Errorf("import: %d %s", res.StatusCode, b)
	}
	dec := json.NewDecoder(res.Body)
	for {
		var line map[string]any
		if err := dec.Decode(&line); err != nil {
			return nil, fmt.Errorf("import response: %w", err)
		}
		if s, ok := line["summary"].(map[string]any); ok {
			return s, nil
		}
	}
}
