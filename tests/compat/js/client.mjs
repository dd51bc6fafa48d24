// The client an app builds: only the URL and the key are ours (see tests/compat/conftest.py).
import { createClient } from "@supabase/supabase-js";
import WebSocket from "ws";

export const url = process.env.SUPABASE_URL;
export const publishableKey = process.env.SUPABASE_PUBLISHABLE_KEY;
export const secretKey = process.env.SUPABASE_SECRET_KEY;

// A fresh client per actor: sessions in memory, no auto refresh timer keeping node alive.
export function client(key = publishableKey, options = {}) {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket },
    ...options,
  });
}

let counter = 0;
export function email(prefix = "user") {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${counter}@example.com`;
}

export const password = "correct horse battery staple 1";

// A signed-in end user without /auth/v1 (the platform's own sign-up route), for scenarios
// about data, realtime, storage and functions: supabase-js's `accessToken` option carries
// the end user's token on every call, as with a third-party auth provider.
export async function signedIn(prefix = "user") {
  const platform = process.env.PLATFORM_URL;
  const address = email(prefix);
  const response = await fetch(`${platform}/client/v1/auth/signup/`, {
    method: "POST",
    headers: { apikey: publishableKey, "content-type": "application/json" },
    body: JSON.stringify({ email: address, password }),
  });
  const body = await response.json();
  if (response.status !== 201 || !body.session) {
    throw new Error(`sign-up failed: ${response.status} ${JSON.stringify(body)}`);
  }
  const token = body.session.access_token;
  return {
    email: address,
    user: body.user,
    token,
    client: client(publishableKey, { accessToken: async () => token }),
  };
}
