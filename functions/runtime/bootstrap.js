// The platform's wrapper around a tenant's module, run by Deno inside the sandbox.
//
// A function is written as Supabase's are: `Deno.serve(handler)` or `export default { fetch }`.
// This file takes the handler from either, serves it on the worker's Unix socket (the only
// socket Deno may open), turns an exception into a 500 the supervisor can name, and writes an
// end-of-invocation mark to stdout and stderr so the supervisor can cut each invocation's
// output from the worker's long-lived pipes (the mark of invocation "start" says it listens).
//
// The sandbox has no network: every `fetch` goes through the supervisor's egress proxy on
// /run/worker/egress.sock (functions/egress.py), which lets through the function's outbound
// allow-list and `platform.fetch`: the platform's client API as the caller, with the
// invocation's token (it arrives as the request's Authorization header and is refused by the
// platform once the invocation is over).

import { AsyncLocalStorage } from "node:async_hooks";

const SOCKET = "/run/worker/sock";
const EGRESS = "/run/worker/egress.sock";
const PLATFORM_URL = "http://platform.internal";
const MARK = "\x1e";

const egress = Deno.createHttpClient({ proxy: { transport: "unix", path: EGRESS } });
const nativeFetch = globalThis.fetch;
globalThis.fetch = (input, init = {}) => nativeFetch(input, { ...init, client: egress });

// The current invocation's token, carried through its promises and timers (and only its own:
// work a previous invocation left running keeps that invocation's, by then refused, token).
const invocation = new AsyncLocalStorage();
globalThis.platform = Object.freeze({
  url: PLATFORM_URL,
  fetch(path, init = {}) {
    const headers = new Headers(init.headers);
    const token = invocation.getStore();
    if (token && !headers.has("authorization")) headers.set("authorization", token);
    return globalThis.fetch(new URL(path, PLATFORM_URL), { ...init, headers });
  },
});

let captured = null;
const serve = Deno.serve.bind(Deno);
Deno.serve = (first, second) => {
  if (typeof first === "function") captured = first;
  else if (typeof second === "function") captured = second;
  else if (first && typeof first.handler === "function") captured = first.handler;
  // The tenant's own server never listens: the platform owns the socket.
  return {
    finished: new Promise(() => {}),
    shutdown: async () => {},
    ref() {},
    unref() {},
    addr: { transport: "unix", path: SOCKET },
  };
};

const mod = await import("file:///function/main.ts");
const exported = mod.default;
const handler = captured ??
  (exported && typeof exported.fetch === "function" ? exported.fetch.bind(exported) : null);
if (handler === null) {
  console.error("The function neither calls Deno.serve(handler) nor exports default { fetch }.");
  Deno.exit(3);
}

const encoder = new TextEncoder();
function mark(id) {
  const bytes = encoder.encode(`\n${MARK}${id}\n`);
  Deno.stdout.writeSync(bytes);
  Deno.stderr.writeSync(bytes);
}

serve({ path: SOCKET, onListen() { mark("start"); } }, async (request) => {
  const id = request.headers.get("x-fn-invocation") ?? "";
  try {
    const token = request.headers.get("authorization");
    const response = await invocation.run(token, () => handler(request));
    if (!(response instanceof Response)) {
      throw new TypeError("The handler must return a Response.");
    }
    return response;
  } catch (error) {
    // An allocation V8 refused (an ArrayBuffer past the process's memory limit) is named
    // as what it is, not as the function's own error.
    const refused = error instanceof RangeError && /allocation failed/i.test(error.message);
    const name = refused ? "OutOfMemory" : (error?.name ?? "Error");
    console.error(error?.stack ?? String(error));
    const body = { error: { name, message: String(error?.message ?? error) } };
    return new Response(JSON.stringify(body), {
      status: 500,
      headers: { "content-type": "application/json", "x-fn-error": name },
    });
  } finally {
    mark(id);
  }
});
