// The console talks to the public GraphQL API only: queries and mutations
// over fetch, subscriptions over graphql-transport-ws (graphql-ws).
import { createClient, type Client as WSClient } from "graphql-ws";
import { lang, t } from "./i18n";

/** A session: the project and the API key it was opened with. */
export interface Session {
  projectId: string;
  key: string;
  /** Whether the key may change settings (an ADMIN key). */
  admin: boolean;
}

/** An error the API answered, with its stable extensions.code. */
export class ApiError extends Error {
  constructor(message: string, readonly code: string, readonly field?: string) {
    super(message);
  }
}

/** describe turns any error into one sentence fit for the page. */
export function describe(err: unknown): string {
  const messages: Record<string, string> = {
    UNAUTHENTICATED: t.errUnauthenticated,
    FORBIDDEN: t.errForbidden,
    NOT_FOUND: t.errNotFound,
    INTERNAL: t.errInternal,
  };
  if (err instanceof ApiError) {
    if (err.code === "BAD_USER_INPUT" || err.code === "NOT_FOUND") return err.message || messages[err.code];
    return messages[err.code] ?? err.message;
  }
  if (err instanceof TypeError) return t.errUnreachable;
  return err instanceof Error ? err.message : String(err);
}

/** gql runs one query or mutation with the session's key, asking for the API's messages in the console's language. */
export async function gql<T>(s: Pick<Session, "key">, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch("../graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${s.key}`, "Accept-Language": lang },
    body: JSON.stringify({ query, variables }),
  });
  let body: { data?: T; errors?: { message: string; extensions?: { code?: string; field?: string } }[] };
  try {
    body = await res.json();
  } catch {
    throw new ApiError(t.errStatus(res.status), res.status === 401 ? "UNAUTHENTICATED" : "INTERNAL");
  }
  if (body.errors?.length) {
    const e = body.errors[0];
    throw new ApiError(e.message, e.extensions?.code ?? "INTERNAL", e.extensions?.field);
  }
  if (!body.data) throw new ApiError(t.errNoData, "INTERNAL");
  return body.data;
}

let ws: { key: string; client: WSClient } | undefined;

function wsClient(key: string): WSClient {
  if (ws?.key === key) return ws.client;
  ws?.client.dispose();
  const url = new URL("../graphql", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const client = createClient({
    url: url.href,
    // A browser lets no script set the websocket handshake's headers, so the
    // handshake carries the browser's own Accept-Language, not the console's
    // choice; acceptLanguage in connection_init says the choice, but the
    // server reads only authorization there today.
    connectionParams: () => ({ authorization: `Bearer ${key}`, acceptLanguage: lang }),
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: async (n) => new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** n, 15000))),
    lazy: true,
  });
  ws = { key, client };
  return client;
}

/** closeSubscriptions ends the websocket, on sign-out. */
export function closeSubscriptions() {
  ws?.client.dispose();
  ws = undefined;
}

/** subscribe starts a subscription and returns the function that stops it. */
export function subscribe<T>(
  s: Pick<Session, "key">,
  query: string,
  variables: Record<string, unknown>,
  on: { next: (data: T) => void; error?: (e: unknown) => void; status?: (connected: boolean) => void },
): () => void {
  const client = wsClient(s.key);
  const offs = [
    client.on("connected", () => on.status?.(true)),
    client.on("closed", () => on.status?.(false)),
  ];
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (r) => {
        if (r.errors?.length) on.error?.(new ApiError(r.errors[0].message, String(r.errors[0].extensions?.code ?? "INTERNAL")));
        else if (r.data) on.next(r.data as T);
      },
      error: (e) => on.error?.(e),
      complete: () => {},
    },
  );
  return () => {
    stop();
    offs.forEach((off) => off());
  };
}
